"""The console's only way to the platform: the four services' public HTTP APIs, called with
the signed-in user's own bearer token (the console holds no token of its own, so it can never
do more than the person using it).

The transport is injectable: tests pass an `httpx.MockTransport` or fake services on
`httpx.ASGITransport`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from typing import Any

import httpx


class ApiError(Exception):
    """A service answered with an error, or could not be reached."""

    def __init__(self, status: int, detail: str, *, service: str = "", slug: str = "") -> None:
        super().__init__(f"{service}: {status} {detail}")
        self.status, self.detail, self.service, self.slug = status, detail, service, slug


class Unauthorized(ApiError):
    """401: the token is unknown (revoked, or the services' token table changed)."""


class Forbidden(ApiError):
    """403: the token's scopes do not allow this."""


class NotFound(ApiError):
    """404."""


class Refused(ApiError):
    """409/422/400: the request was understood and refused (an illegal transition, bad input)."""


class Unavailable(ApiError):
    """5xx, a time-out or a refused connection."""


def _problem(resp: httpx.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:300], ""
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("title") or ""
        if isinstance(detail, list):  # FastAPI's validation errors
            detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d)
                               for d in detail)
        slug = str(body.get("type", "")).rsplit("/", 1)[-1]
        return str(detail)[:500], slug
    return str(body)[:300], ""


class Services:
    """HTTP calls to intake, dispatch, scoring and notify."""

    def __init__(self, urls: dict[str, str], *, transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 8.0) -> None:
        self.urls = urls
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout,
                                         headers={"user-agent": "whistle-console/0.1"})
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = asyncio.Lock()
        self._details: OrderedDict[tuple[str, str, str], dict] = OrderedDict()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, service: str, path: str, *, token: str | None = None,
                      params: dict | None = None, json: Any = None) -> Any:
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if params:
            params = {k: v for k, v in params.items() if v not in (None, "")}
        try:
            resp = await self._client.request(method, f"{self.urls[service]}{path}",
                                              headers=headers, params=params, json=json)
        except httpx.HTTPError as exc:
            raise Unavailable(503, f"{service} 无法连接: {type(exc).__name__}",
                              service=service) from exc
        if resp.status_code < 400:
            return resp.json() if resp.content else None
        detail, slug = _problem(resp)
        kind = {401: Unauthorized, 403: Forbidden, 404: NotFound}.get(resp.status_code)
        if kind is None:
            kind = Unavailable if resp.status_code >= 500 or resp.status_code == 429 else Refused
        raise kind(resp.status_code, detail, service=service, slug=slug)

    async def get(self, service: str, path: str, token: str | None = None, **params) -> Any:
        return await self.request("GET", service, path, token=token, params=params)

    async def post(self, service: str, path: str, token: str, body: dict) -> Any:
        return await self.request("POST", service, path, token=token, json=body)

    async def cached(self, key: str, ttl: float, load) -> Any:
        """A value shared by every user (reference data), loaded at most once per `ttl`."""
        hit = self._cache.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        async with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            value = await load()
            self._cache[key] = (time.monotonic() + ttl, value)
            return value

    # -- dispatch ------------------------------------------------------------------------------

    async def cases(self, token: str, **filters) -> list[dict]:
        """One page of case summaries (GET /v1/cases), newest first."""
        page = await self.get("dispatch", "/v1/cases", token, **filters)
        return page.get("items", [])

    async def case(self, token: str, case_id: str) -> dict:
        return await self.get("dispatch", f"/v1/cases/{case_id}", token)

    async def details(self, token: str, summaries: list[dict], *, limit: int = 8) -> list[dict]:
        """The cases of list summaries in full (GET /v1/cases/{id}), at most `limit` requests
        at a time. A case is fetched again only when its `updated_at` moved (every change to a
        case, supervision stages included, moves it), per token; one that vanished or is not
        visible is left out."""
        gate = asyncio.Semaphore(limit)
        who = hashlib.sha256(token.encode()).hexdigest()[:16]

        async def one(summary: dict) -> dict | None:
            if summary.get("assignments") is not None and "location" in summary:
                return summary  # a list that already carries what the page needs
            key = (who, summary["case_id"], str(summary.get("updated_at")))
            hit = self._details.get(key)
            if hit is not None:
                self._details.move_to_end(key)
                return hit
            async with gate:
                try:
                    found = await self.case(token, summary["case_id"])
                except (NotFound, Forbidden):
                    return None
            self._details[key] = found
            while len(self._details) > 4000:
                self._details.popitem(last=False)
            return found

        found = await asyncio.gather(*(one(s) for s in summaries))
        return [c for c in found if c is not None]

    # -- reference data (no token needed) ------------------------------------------------------

    async def catalogue(self) -> dict:
        """Categories and departments (intake GET /v1/categories), cached for 10 minutes;
        departments from dispatch when intake is away."""
        async def load() -> dict:
            try:
                return await self.get("intake", "/v1/categories")
            except ApiError:
                depts = await self.get("dispatch", "/v1/departments")
                return {"version": "?", "categories": [], "departments": depts}

        return await self.cached("catalogue", 600, load)
