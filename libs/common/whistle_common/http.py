"""HTTP guards shared by the services: body size limit and JSON-only request bodies."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import PROBLEM_BASE

BODY_METHODS = {b"POST", b"PUT", b"PATCH", "POST", "PUT", "PATCH"}


class BodyGuardMiddleware:
    """Reject oversized bodies (413) before parsing and non-JSON bodies (415).

    Paths under `form_prefixes` may also post form-encoded bodies (Open311 clients do).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = 64 * 1024,
                 form_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.form_prefixes = form_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _problem(send, 413, "payload-too-large", "Payload too large",
                           f"request bodies are limited to {self.max_bytes} bytes")
            return
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        allowed = ctype == b"application/json" or ctype.endswith(b"+json")
        if scope["path"].startswith(self.form_prefixes) and self.form_prefixes:
            allowed = allowed or ctype in (b"application/x-www-form-urlencoded",
                                           b"multipart/form-data")
        if length not in (None, b"0") and not allowed:
            sent = ctype.decode(errors="replace") or "no content type"
            await _problem(send, 415, "unsupported-media-type", "Unsupported media type",
                           f"send application/json, not {sent}")
            return
        await self.app(scope, _limited(receive, self.max_bytes), send)


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return wrapped


class BodyTooLarge(Exception):
    """A chunked body grew past the limit while being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request bodies are limited to {limit} bytes")


async def _problem(send: Send, status: int, slug: str, title: str, detail: str) -> None:
    import json

    body = json.dumps({"type": PROBLEM_BASE + slug, "title": title, "status": status,
                       "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
