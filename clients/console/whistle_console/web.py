"""What every page shares: the session from the cookie, role gates, CSRF-checked forms,
rendering with the common context, error pages and flash messages."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from . import text
from .api import ApiError, Services
from .roles import ROLE_NAMES
from .session import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Sealer, Session, SessionCodec, same
from .territory import TerritoryIndex

HERE = Path(__file__).parent
FLASH_COOKIE = "whistle_console_flash"


class LoginRequired(Exception):
    """No valid session: back to sign-in (saying so when it expired)."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("login required")
        self.expired = expired


class PageError(Exception):
    """An error page (403, 404, 409, 503 …) in Chinese."""

    def __init__(self, status: int, title: str, message: str = "") -> None:
        super().__init__(title)
        self.status, self.title, self.message = status, title, message


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(HERE / "templates"))
    found.env.filters.update(text.filters())
    found.env.globals.update(role_names=ROLE_NAMES, open_statuses=text.OPEN_STATUSES)
    return found


def state(request: Request) -> Any:
    return request.app.state


def api(request: Request) -> Services:
    return request.app.state.api


def territory(request: Request) -> TerritoryIndex:
    return request.app.state.territory


def codec(request: Request) -> SessionCodec:
    return request.app.state.codec


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def session_of(request: Request) -> Session:
    """The signed-in session, else LoginRequired (expired=True when a cookie was there)."""
    raw = request.cookies.get(SESSION_COOKIE)
    found = codec(request).load(raw)
    if found is None:
        raise LoginRequired(expired=bool(raw))
    if found.expired():
        raise LoginRequired(expired=True)
    request.state.session = found
    return found


def need(*roles: str):
    """Dependency: a session whose role is one of `roles`, else the 403 page."""

    def dependency(request: Request) -> Session:
        found = session_of(request)
        if found.role not in roles:
            raise PageError(403, "无权访问", "您的角色（" + ROLE_NAMES.get(found.role, found.role)
                            + "）不能打开此页面。")
        return found

    return dependency


def signed_in(request: Request) -> Session:
    return session_of(request)


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host and origin != "null"


async def checked_form(request: Request, found: Session) -> FormData:
    """The posted form, if it carries this session's CSRF token (else the 403 page)."""
    if not same_origin(request):
        raise PageError(403, "请求被拒绝", "请求来自其他站点。")
    form = await request.form()
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not same(str(given) if given else None, found.csrf):
        raise PageError(403, "请求被拒绝", "表单缺少有效的防伪令牌（CSRF），请刷新页面后重试。")
    return form


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site: never another host (`//evil`, `/\\evil`, `https:`)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(c in value for c in "\r\n"):
        return default
    return value


def home_of(found: Session) -> str:
    return {"street": "/triage", "operator": "/board", "dept": "/orders"}.get(found.role, "/")


# -- names -----------------------------------------------------------------------------------


async def names(request: Request) -> dict[str, Any]:
    """Department and category names from the catalogue (codes when it cannot be had)."""
    try:
        catalogue = await api(request).catalogue()
    except ApiError:
        catalogue = {"categories": [], "departments": []}
    depts = {d["code"]: d["name"] for d in catalogue.get("departments", [])}
    categories = {c["code"]: c for c in catalogue.get("categories", [])}
    return {"depts": depts, "categories": categories, "catalogue": catalogue,
            "groups": category_groups(categories)}


def category_groups(categories: dict[str, dict]) -> list[tuple[str, list[dict]]]:
    """Leaves grouped by area · class, for an <optgroup>ed select."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for c in categories.values():
        groups[f"{c.get('area', '其他')} · {c.get('class', '其他')}"].append(c)
    return sorted(groups.items())


# -- rendering -------------------------------------------------------------------------------


def flash(response: Response, request: Request, kind: str, message: str) -> Response:
    sealer: Sealer = state(request).flash
    response.set_cookie(FLASH_COOKIE, sealer.seal({"k": kind, "m": message[:500]}),
                        max_age=60, httponly=True, samesite="strict",
                        secure=state(request).settings.secure_cookies, path="/")
    return response


def take_flash(request: Request) -> dict | None:
    found = state(request).flash.open(request.cookies.get(FLASH_COOKIE))
    if found:
        request.state.drop_flash = True
    return found


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
                 status: int = 200) -> HTMLResponse:
    found: Session | None = getattr(request.state, "session", None)
    ctx: dict[str, Any] = {
        "session": found, "csrf": found.csrf if found else "",
        "poll": state(request).settings.poll_seconds, "territory": territory(request),
        "flash": None if is_htmx(request) else take_flash(request),
        "path": request.url.path, "csrf_field": CSRF_FIELD,
    }
    if found is not None and "depts" not in (context or {}):
        ctx.update(await names(request))
    if found is not None:
        ctx["who"] = who(found, ctx.get("depts", {}), territory(request))
    ctx.update(context or {})
    resp = state(request).templates.TemplateResponse(request, name, ctx, status_code=status)
    if getattr(request.state, "drop_flash", False):
        resp.delete_cookie(FLASH_COOKIE, path="/")
    return resp


def who(found: Session, depts: dict[str, str], where: TerritoryIndex) -> str:
    if found.role == "street":
        return "、".join(where.name(s) for s in found.streets)
    if found.role == "dept":
        return "、".join(depts.get(d, d) for d in found.depts)
    return found.client or "调度员"


def login_url(request: Request, expired: bool) -> str:
    target = request.url.path
    if request.url.query and not is_htmx(request):
        target += "?" + request.url.query
    if is_htmx(request):
        target = request.headers.get("hx-current-url", "") or "/"
        target = urlsplit(target).path or "/"
    url = "/login?next=" + quote(safe_next(target), safe="/")
    return url + ("&expired=1" if expired else "")


class LoginLimiter:
    """At most `limit` sign-in attempts per client address a minute (a brute-force brake)."""

    def __init__(self, limit: int = 20, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        seen = self._seen[key]
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        if len(self._seen) > 10_000:  # forget idle addresses
            for k in [k for k, v in self._seen.items() if not v][:5000]:
                del self._seen[k]
        return True
