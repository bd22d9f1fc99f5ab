"""Sign-in, the session cookie, expiry, sign-out and CSRF."""

from __future__ import annotations

import time

import pytest
from whistle_console.session import SESSION_COOKIE, SessionCodec
from whistle_console.settings import ConsoleSettings

from tests.unit.console.conftest import CSRF, Console, settings


def cookie_header(resp, name: str) -> str:
    found = [v for k, v in resp.headers.multi_items()
             if k == "set-cookie" and v.startswith(f"{name}=")]
    assert found, f"no Set-Cookie for {name}"
    return found[-1]


async def test_sign_in_sets_an_httponly_strict_cookie_with_expiry(console):
    resp = await console.sign_in("tok-street-wenchang")
    assert resp.status_code == 303 and resp.headers["location"] == "/triage"
    header = cookie_header(resp, SESSION_COOKIE)
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    # the session lasts 8 h (sealed inside); the browser keeps the cookie a day longer so the
    # console can say the session expired
    assert "Max-Age=115200" in header or "Max-Age=115199" in header
    assert "tok-street-wenchang" not in header  # sealed: the token is not readable
    page = await console.http.get("/triage")
    assert page.status_code == 200 and "文昌街道" in page.text


async def test_cookies_are_secure_in_production(platform, ids):
    found = Console(platform, base_url="https://console.test", environment="production",
                    secret_key="x" * 40)
    try:
        resp = await found.sign_in("tok-operator")
        assert "Secure" in cookie_header(resp, SESSION_COOKIE)
    finally:
        await found.close()


def test_production_refuses_the_development_secret():
    with pytest.raises(ValueError, match="CONSOLE_SECRET_KEY"):
        ConsoleSettings(environment="production")


async def test_each_role_lands_on_its_home(platform, ids):
    for token, home in (("tok-chengguan", "/orders"), ("tok-operator", "/board"),
                        ("tok-street-chaicun", "/triage")):
        found = Console(platform)
        try:
            assert (await found.sign_in(token)).headers["location"] == home
        finally:
            await found.close()


async def test_an_unknown_token_is_refused_with_a_message(console):
    resp = await console.sign_in("not-a-token")
    assert resp.status_code == 401 and "令牌无效" in resp.text
    assert SESSION_COOKIE not in resp.cookies


async def test_a_token_without_console_scopes_is_refused(console):
    resp = await console.sign_in("tok-volunteer")
    assert resp.status_code == 403 and "没有控制台权限" in resp.text


async def test_sign_in_without_the_forms_csrf_nonce_is_refused(console):
    await console.http.get("/login")
    resp = await console.http.post("/login", data={"token": "tok-operator"})
    assert resp.status_code == 403 and "CSRF" in resp.text
    assert SESSION_COOKIE not in resp.cookies


async def test_next_goes_back_only_to_this_site(console):
    resp = await console.sign_in("tok-operator", next="//evil.example/x")
    assert resp.headers["location"] == "/board"
    again = Console(console.platform)
    try:
        resp = await again.sign_in("tok-operator", next="/supervision")
        assert resp.headers["location"] == "/supervision"
    finally:
        await again.close()


async def test_without_a_session_pages_go_to_sign_in(console):
    resp = await console.http.get("/board?dept=chengguan")
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/login?next=/board")


async def test_an_expired_session_goes_back_to_sign_in(console):
    codec = SessionCodec("unit-test-secret-0123456789", 3600)
    old = codec.new("tok-operator", "operator", ["operator"], "operator",
                    now=time.time() - 7200)
    console.http.cookies.set(SESSION_COOKIE, codec.dump(old))
    resp = await console.http.get("/board")
    assert resp.status_code == 303 and "expired=1" in resp.headers["location"]
    assert 'whistle_console=""' in cookie_header(resp, SESSION_COOKIE)  # cookie removed
    page = await console.http.get(resp.headers["location"])
    assert page.status_code == 200 and "会话已过期" in page.text


async def test_an_expired_session_on_a_live_update_redirects_the_page(console):
    codec = SessionCodec("unit-test-secret-0123456789", 3600)
    old = codec.new("tok-operator", "operator", ["operator"], "operator",
                    now=time.time() - 7200)
    console.http.cookies.set(SESSION_COOKIE, codec.dump(old))
    resp = await console.http.get("/board/panel", headers={"HX-Request": "true",
                                                           "HX-Current-URL": "http://c/board"})
    assert resp.status_code == 200 and resp.headers["hx-redirect"].startswith("/login?next=/board")


async def test_a_forged_cookie_is_no_session(console):
    console.http.cookies.set(SESSION_COOKIE, "Zm9yZ2Vk" * 10)
    resp = await console.http.get("/triage")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")


async def test_a_cookie_sealed_with_another_secret_is_no_session(console):
    other = SessionCodec("some-other-secret-0123456789", 3600)
    console.http.cookies.set(SESSION_COOKIE, other.dump(
        other.new("tok-operator", "operator", ["operator"], "operator")))
    assert (await console.http.get("/board")).status_code == 303


async def test_a_revoked_token_ends_the_session(console, monkeypatch):
    await console.sign_in("tok-operator")
    from tests.unit.console import fakes

    monkeypatch.delitem(fakes.TOKENS, "tok-operator")
    resp = await console.http.get("/board")
    assert resp.status_code == 303 and "expired=1" in resp.headers["location"]


async def test_logout_needs_csrf_and_clears_the_cookie(console):
    await console.sign_in("tok-operator")
    refused = await console.post("/logout", {}, csrf=False)
    assert refused.status_code == 403
    assert (await console.http.get("/board")).status_code == 200
    resp = await console.post("/logout", {})
    assert resp.status_code == 303 and resp.headers["location"] == "/login?bye=1"
    assert (await console.http.get("/board")).status_code == 303


async def test_a_form_post_without_csrf_is_refused_and_nothing_is_sent(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.post(f"/cases/{ids['triage']}/assign",
                              {"category": "street_vending"}, csrf=False)
    assert resp.status_code == 403 and "CSRF" in resp.text
    wrong = await console.http.post(f"/cases/{ids['triage']}/assign",
                                    data={"category": "street_vending", "csrf_token": "guess"})
    assert wrong.status_code == 403
    assert console.posted("/assign") == []


async def test_a_cross_site_post_is_refused_even_with_the_token(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.post(f"/cases/{ids['triage']}/assign", {"category": "noise"},
                              headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403 and console.posted("/assign") == []


async def test_csrf_token_in_the_htmx_header_is_accepted(console, ids):
    await console.sign_in("tok-street-wenchang")
    resp = await console.http.post(f"/cases/{ids['triage']}/assign",
                                   data={"category": "street_vending"},
                                   headers={"HX-Request": "true", "X-CSRF-Token": console.csrf,
                                            "Origin": "http://console.test"})
    assert resp.status_code == 200 and "已派单" in resp.text


async def test_the_csrf_token_is_per_session(platform, ids):
    a, b = Console(platform), Console(platform)
    try:
        await a.sign_in("tok-street-wenchang")
        await b.sign_in("tok-street-wenchang")
        assert a.csrf != b.csrf
        resp = await b.http.post(f"/cases/{ids['triage']}/assign",
                                 data={"category": "noise", "csrf_token": a.csrf})
        assert resp.status_code == 403
    finally:
        await a.close()
        await b.close()


async def test_login_page_and_pages_send_security_headers(console):
    page = await console.http.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert CSRF.search(page.text)
    assert '<label for="token">' in page.text


async def test_sign_in_attempts_are_rate_limited(console):
    codes = [(await console.sign_in("wrong")).status_code for _ in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_settings_defaults_point_at_the_local_stack():
    s = ConsoleSettings()
    assert s.port == 8080 and s.service_urls()["dispatch"] == "http://127.0.0.1:8002"
    assert settings().secure_cookies is False
