"""Bearer tokens with scopes; 401 without a valid token, 403 with the wrong scope."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from .problems import ProblemError


@dataclass(frozen=True)
class Principal:
    """Who is calling and what they may do."""

    client: str
    scopes: frozenset[str]

    @property
    def is_operator(self) -> bool:
        return "operator" in self.scopes

    def departments(self) -> set[str]:
        return {s.split(":", 1)[1] for s in self.scopes if s.startswith("dept:")}

    def streets(self) -> set[str]:
        """The streets a street office (街道综合指挥中心, scope `street:<code>`) works."""
        return {s.split(":", 1)[1] for s in self.scopes if s.startswith("street:")}

    def has(self, scope: str) -> bool:
        """True if a scope grants `scope` (`volunteer:*` grants every `volunteer:<id>`)."""
        if scope in self.scopes:
            return True
        prefix = scope.split(":", 1)[0]
        return f"{prefix}:*" in self.scopes


class TokenTable:
    """Token lookup by SHA-256 digest, compared in constant time."""

    def __init__(self, tokens: dict[str, dict]) -> None:
        self._by_digest = {
            hashlib.sha256(token.encode()).digest(): Principal(
                spec.get("client", "unknown"), frozenset(spec.get("scopes", [])))
            for token, spec in tokens.items()
        }

    def lookup(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                found = principal
        return found


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", "Unauthorized", detail,
                        headers={"WWW-Authenticate": 'Bearer realm="whistle"'})


def authenticate(request: Request) -> Principal:
    """Resolve the bearer token of a request through app.state.tokens."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token")
    principal = request.app.state.tokens.lookup(token.strip())
    if principal is None:
        raise _unauthorized("unknown token")
    return principal


async def authenticated(request: Request) -> Principal:
    """`authenticate` as a FastAPI dependency: FastAPI runs a plain function dependency in its
    thread pool, a hand-off to another thread and back on every request; a coroutine runs on
    the event loop (the lookup is a few digests compared, nothing that blocks)."""
    return authenticate(request)


def require(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the caller must hold one of `scopes` (operator always passes)."""

    async def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if principal.is_operator or any(principal.has(s) for s in scopes):
            return principal
        raise ProblemError(403, "forbidden", "Forbidden",
                           f"needs one of the scopes: {', '.join(scopes)}")

    return dependency
