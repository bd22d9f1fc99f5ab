"""What a token may do: its scopes, and the console role they give.

The console asks dispatch `GET /v1/me` (`{"client", "scopes"}`) first. While a dispatch without
that endpoint answers 404, it falls back to probing the calls each role needs, read-only:

- operator: scoring's `GET /v1/departments/ranking` answers only operators;
- a department: scoring's `GET /v1/departments/{code}/assessment` answers operators and the
  department itself, so the codes of the catalogue that answer 200 are the token's departments;
- a street office: dispatch's `GET /v1/cases?street=<code>` for each street of the territory,
  once dispatch honours `street:<code>` (answering only the token's own street).

A token with none of these has no place in the console (403 at sign-in).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from .api import ApiError, NotFound, Services, Unauthorized

ROLES = ("street", "operator", "dept")
ROLE_NAMES = {"street": "街道综合指挥中心", "operator": "区/市级调度督办", "dept": "职能部门"}


class NoRole(Exception):
    """A valid token whose scopes give no console role."""


@dataclass(frozen=True)
class Identity:
    client: str
    scopes: frozenset[str]

    @property
    def role(self) -> str | None:
        if "operator" in self.scopes:
            return "operator"
        if any(s.startswith("street:") for s in self.scopes):
            return "street"
        if any(s.startswith("dept:") for s in self.scopes):
            return "dept"
        return None


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


async def identify(api: Services, token: str, streets: list[str]) -> Identity:
    """The token's identity (raises Unauthorized for an unknown token, NoRole for one the
    console has no pages for)."""
    try:
        me = await api.get("dispatch", "/v1/me", token)
        identity = Identity(str(me.get("client", "")), frozenset(me.get("scopes", [])))
    except NotFound:
        identity = await _probe(api, token, streets)
    if identity.role is None:
        raise NoRole(", ".join(sorted(identity.scopes)) or "no scopes")
    return identity


async def _probe(api: Services, token: str, streets: list[str]) -> Identity:
    """Scopes found by trying read-only calls (until dispatch serves GET /v1/me)."""
    try:
        await api.get("dispatch", "/v1/cases", token, limit=1)
        can_list = True
    except Unauthorized:
        raise
    except ApiError:
        can_list = False
    try:
        await api.get("scoring", "/v1/departments/ranking", token, period=_month())
        return Identity("operator", frozenset({"operator"}))
    except Unauthorized:
        raise
    except ApiError:
        pass
    catalogue = await api.catalogue()
    codes = [d["code"] for d in catalogue.get("departments", [])]
    gate = asyncio.Semaphore(8)

    async def answers(service: str, path: str, **params) -> bool:
        async with gate:
            try:
                await api.get(service, path, token, **params)
                return True
            except ApiError:
                return False

    month = _month()
    owned = await asyncio.gather(*(answers("scoring", f"/v1/departments/{c}/assessment",
                                           period=month) for c in codes))
    depts = {f"dept:{c}" for c, ok in zip(codes, owned, strict=True) if ok}
    if depts:
        return Identity("", frozenset(depts))
    seen = await asyncio.gather(*(answers("dispatch", "/v1/cases", street=s, limit=1)
                                  for s in streets))
    mine = {f"street:{s}" for s, ok in zip(streets, seen, strict=True) if ok}
    if mine and len(mine) < len(streets):
        return Identity("", frozenset(mine))
    raise NoRole("incidents:read" if can_list else "")
