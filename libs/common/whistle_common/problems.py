"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://whistle.city/problems/"
MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger(__name__)


class ProblemError(Exception):
    """Raise from a handler or route to answer with a problem-details body."""

    def __init__(self, status: int, slug: str, title: str, detail: str = "",
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(status: int, slug: str, title: str, detail: str = "", *,
                     instance: str | None = None, headers: dict[str, str] | None = None,
                     **extensions: Any) -> JSONResponse:
    """Build an application/problem+json response."""
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


_SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
          405: "method-not-allowed", 406: "not-acceptable", 409: "conflict",
          413: "payload-too-large", 415: "unsupported-media-type", 429: "too-many-requests",
          503: "unavailable"}


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error FastAPI can raise into problem details."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError):
        return problem_response(exc.status, exc.slug, exc.title, exc.detail,
                                instance=request.url.path, headers=exc.headers, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
                  for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(400, "malformed-json", "Malformed JSON",
                                    errors[0]["msg"], instance=request.url.path)
        return problem_response(422, "validation-error", "Request validation failed",
                                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                          for e in errors)[:2000],
                                instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        slug = _SLUGS.get(exc.status_code, "error")
        return problem_response(exc.status_code, slug, slug.replace("-", " ").capitalize(),
                                str(exc.detail) if exc.detail else "",
                                instance=request.url.path, headers=getattr(exc, "headers", None))

    from .http import BodyTooLarge

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge):
        return problem_response(413, "payload-too-large", "Payload too large", str(exc),
                                instance=request.url.path)

    from .usecase import known_errors, problem_for  # one mapping, shared with consumers

    async def _known(request: Request, exc: Exception):
        problem = problem_for(exc)
        assert problem is not None
        return problem_response(problem.status, problem.slug, problem.title, problem.detail,
                                instance=request.url.path, headers=problem.headers or None,
                                **problem.extensions)

    for error in known_errors():
        app.add_exception_handler(error, _known)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error", path=request.url.path)
        return problem_response(500, "internal-error", "Internal error",
                                "the error was logged", instance=request.url.path)
