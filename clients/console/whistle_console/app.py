"""The console's ASGI app: sign-in, the pages of each role, and the actions they post.

    create_app(settings, transport=...)   # transport: how to reach the services (tests: fakes)
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from . import pages, web
from . import territory as territory_mod
from .api import ApiError, Forbidden, NotFound, Refused, Services, Unauthorized, Unavailable
from .roles import NoRole, identify
from .session import LOGIN_COOKIE, SESSION_COOKIE, Sealer, Session, SessionCodec, same
from .settings import ConsoleSettings

log = logging.getLogger("whistle_console")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")


def create_app(settings: ConsoleSettings | None = None, *,
               transport: httpx.AsyncBaseTransport | None = None,
               territory: territory_mod.TerritoryIndex | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await app.state.api.aclose()

    app = FastAPI(title="Whistle console", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    app.state.api = Services(settings.service_urls(), transport=transport,
                             timeout=settings.api_timeout)
    app.state.codec = SessionCodec(settings.secret_key, settings.session_seconds)
    app.state.flash = Sealer(settings.secret_key, "flash")
    app.state.templates = web.templates()
    app.state.territory = territory or territory_mod.load()
    app.state.limiter = web.LoginLimiter()
    app.mount("/static", StaticFiles(directory=str(web.HERE / "static")), name="static")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        resp: Response = await call_next(request)
        resp.headers.setdefault("content-security-policy", CSP)
        resp.headers.setdefault("x-content-type-options", "nosniff")
        resp.headers.setdefault("referrer-policy", "same-origin")
        resp.headers.setdefault("x-frame-options", "DENY")
        if not request.url.path.startswith("/static/"):
            resp.headers.setdefault("cache-control", "no-store")
        return resp

    _errors(app)
    _auth_routes(app)
    pages.register(app)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(web.LoginRequired)
    async def login_required(request: Request, exc: web.LoginRequired):
        url = web.login_url(request, exc.expired)
        if web.is_htmx(request):
            resp: Response = Response(status_code=200, headers={"HX-Redirect": url})
        else:
            resp = web.redirect(url)
        if exc.expired:
            resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @app.exception_handler(web.PageError)
    async def page_error(request: Request, exc: web.PageError):
        return await _error_page(request, exc.status, exc.title, exc.message)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        if isinstance(exc, Unauthorized):  # the token was revoked since sign-in
            return await login_required(request, web.LoginRequired(expired=True))
        if isinstance(exc, Forbidden):
            return await _error_page(request, 403, "无权访问",
                                     "该案件或数据不属于您的辖区或部门。")
        if isinstance(exc, NotFound):
            return await _error_page(request, 404, "未找到", "没有这个案件或页面。")
        if isinstance(exc, Refused):
            return await _error_page(request, 409, "操作未被接受", exc.detail)
        log.warning("service unavailable: %s", exc)
        return await _error_page(request, 503, "服务暂时不可用",
                                 "平台服务暂时无法访问，请稍后刷新重试。")

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        return await _error_page(request, 404, "未找到", "没有这个页面。")


async def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    ctx = {"status": status, "title": title, "message": message}
    if getattr(request.state, "session", None) is not None:
        ctx.update({"depts": {}, "categories": {}})
    resp = await web.render(request, "error.html", ctx, status=status)
    if status == 503:
        resp.headers["retry-after"] = "5"
    return resp


def _auth_routes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, next: str = "/", expired: int = 0, bye: int = 0):
        found = request.app.state.codec.load(request.cookies.get(SESSION_COOKIE))
        if found is not None and not found.expired() and not expired:
            return web.redirect(web.safe_next(next, web.home_of(found)))
        return await _login_form(request, next=next, expired=bool(expired), bye=bool(bye))

    @app.post("/login")
    async def login(request: Request):
        codec: SessionCodec = request.app.state.codec
        if not web.same_origin(request):
            raise web.PageError(403, "请求被拒绝", "请求来自其他站点。")
        form = await request.form()
        nonce = codec.login_nonce(request.cookies.get(LOGIN_COOKIE))
        if not same(str(form.get(web.CSRF_FIELD) or ""), nonce):
            raise web.PageError(403, "请求被拒绝",
                                "登录表单已失效（CSRF 校验失败），请重新打开登录页。")
        target = str(form.get("next") or "/")
        token = str(form.get("token") or "").strip()
        if not token or len(token) > 512:
            return await _login_form(request, next=target, error="请输入访问令牌。", status=400)
        client = request.client.host if request.client else "?"
        if not request.app.state.limiter.allow(client):
            return await _login_form(request, next=target, status=429,
                                     error="登录尝试过于频繁，请一分钟后再试。")
        where = request.app.state.territory
        try:
            identity = await identify(request.app.state.api, token,
                                      [s.code for s in where.streets])
        except Unauthorized:
            return await _login_form(request, next=target, status=401,
                                     error="令牌无效：平台不认识这个令牌。")
        except NoRole:
            return await _login_form(request, next=target, status=403,
                                     error="该令牌没有控制台权限（需要街道、调度员或部门权限）。")
        except Unavailable:
            return await _login_form(request, next=target, status=503,
                                     error="平台服务暂时无法访问，请稍后再试。")
        session = codec.new(token, identity.client, sorted(identity.scopes), identity.role)
        resp = web.redirect(web.safe_next(target, web.home_of(session))
                            if target != "/" else web.home_of(session))
        _set_session(request, resp, session)
        resp.delete_cookie(LOGIN_COOKIE, path="/login")
        log.info("signed in: %s as %s", identity.client or "?", identity.role)
        return resp

    @app.post("/logout")
    async def logout(request: Request,
                     session: Annotated[Session, Depends(web.signed_in)]):
        await web.checked_form(request, session)
        resp = web.redirect("/login?bye=1")
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp


EXPIRED_NOTICE_SECONDS = 86_400


def _set_session(request: Request, resp: Response, session: Session) -> None:
    """The sealed session in a cookie the browser keeps a day past the session's own expiry
    (which the seal carries and the console checks): so that, after it, the console can say
    "your session expired" instead of a bare sign-in page."""
    settings: ConsoleSettings = request.app.state.settings
    resp.set_cookie(SESSION_COOKIE, request.app.state.codec.dump(session),
                    max_age=int(session.expires_at - time.time()) + EXPIRED_NOTICE_SECONDS,
                    httponly=True,
                    samesite="strict", secure=settings.secure_cookies, path="/")


async def _login_form(request: Request, *, next: str = "/", expired: bool = False,
                      bye: bool = False, error: str | None = None, status: int = 200):
    nonce, sealed = request.app.state.codec.new_login()
    resp = await web.render(request, "login.html", {
        "next": web.safe_next(next), "expired": expired, "bye": bye, "error": error,
        "login_csrf": nonce}, status=status)
    resp.set_cookie(LOGIN_COOKIE, sealed, max_age=3600, httponly=True, samesite="strict",
                    secure=request.app.state.settings.secure_cookies, path="/login")
    if expired:
        resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp
