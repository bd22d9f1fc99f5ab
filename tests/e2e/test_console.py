"""Issue 16 on the real stack, in headless Chromium (Debian's `chromium`, driven by Playwright
through `executable_path`; no browser is downloaded): a street office signs in, sees a triaged
case and assigns it; the department signs in, sees the order, acknowledges and resolves it; the
street office sees it resolved. Then the refusals: another department's case (403 page),
another street's case, a form post without the CSRF token, an expired session. Pages are
checked at 1366×768 for labels, keyboard use and horizontal overflow.

Needs the street-office token `dev-street-120119001-token` (scopes `street:120119001`,
`incidents:read`) among the development tokens, and dispatch honouring `street:<code>`.
WHISTLE_SCREENSHOTS=1 saves the pages it visits under docs/screenshots/stack-*.png.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from pathlib import Path

import httpx
import pytest
from whistle_common.settings import DEV_TOKENS
from whistle_stack.browser import ensure_chromium
from whistle_stack.procs import read_pid, spawn, stop_pid

from tests.support.incidents import GRID, incident, post
from tests.support.stack import case_of

pytestmark = pytest.mark.e2e

STREET = "120119001"  # 文昌街道, the street of GRID
STREET_TOKEN = f"dev-street-{STREET}-token"
DEPT_TOKEN = "dev-dept-chengguan-token"
OTHER_STREET_GRID = "12011900400101"  # 柴村街道
AMBIGUOUS = "你好，我想反映个事情，上次打过电话了到现在也没人给个说法，你们到底管不管"
VIEWPORT = {"width": 1366, "height": 768}
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SHORT_PORT = 18181  # a second console with 5-second sessions, for the expiry check


@pytest.fixture(scope="module")
def chromium() -> str:
    path = ensure_chromium()
    if path is None:
        pytest.skip("no Chromium: apt-get install chromium (as root the test setup does it)")
    return path


@pytest.fixture(scope="module")
def console_url(live) -> str:
    """The stack's console (component `console`): started here when `live` did not."""
    console = live.stack.console
    started = console.start()
    console.wait_ready(timeout=60)
    yield console.url
    if started and os.environ.get("WHISTLE_KEEP_STACK") != "1":
        console.stop()


@pytest.fixture
async def browser(chromium):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        found = await p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox"])
        yield found
        await found.close()


async def new_page(browser):
    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN",
                                        timezone_id="Asia/Shanghai")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    return page


async def sign_in(page, base: str, token: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("访问令牌").fill(token)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, await page.locator("main").inner_text()


async def shot(page, name: str) -> None:
    if os.environ.get("WHISTLE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"stack-{name}.png"))


async def until_visible(page, url: str, selector: str, timeout: float = 45) -> None:
    """Reload `url` until `selector` is on it (the services are eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        await page.goto(url)
        if await page.locator(selector).count():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} not on {url} after {timeout}s:\n"
                                 + (await page.locator("main").inner_text())[:2000])
        await asyncio.sleep(1)


async def usable(page) -> None:
    """Labels on every field, no sideways scrolling at 1366×768, no script errors."""
    unlabeled = await page.evaluate("""() => Array.from(
        document.querySelectorAll('input:not([type=hidden]), select, textarea'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.outerHTML.slice(0, 120))""")
    assert unlabeled == [], unlabeled
    width = await page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{page.url} is {width}px wide"
    assert page.errors == [], page.errors


async def triaged_case(live) -> tuple[str, str]:
    """A complaint the classifier is unsure of, in 文昌街道: (incident id, case id)."""
    text = f"{AMBIGUOUS}（来电编号{random.randint(100000, 999999)}）"
    async with live.http("intake") as client:
        resp = await post(client, incident(category=None, description=text))
    assert resp.status_code == 201, resp.text
    assert resp.json()["needs_triage"] is True, resp.json()
    incident_id = resp.json()["incident_id"]
    return incident_id, await case_of(live, incident_id)


async def dispatched_case(live, category: str, grid: str) -> str:
    async with live.http("intake") as client:
        resp = await post(client, incident(category=category,
                                           location={"grid_code": grid},
                                           description=f"控制台测试 {category} {grid}"))
    assert resp.status_code == 201, resp.text
    return await case_of(live, resp.json()["incident_id"])


def street_token_or_skip() -> None:
    if STREET_TOKEN not in DEV_TOKENS:
        pytest.skip(f"{STREET_TOKEN} is not among the development tokens yet")


async def test_triage_assign_acknowledge_resolve_in_the_browser(live, console_url, browser):
    street_token_or_skip()
    _, case_id = await triaged_case(live)

    street = await new_page(browser)
    await sign_in(street, console_url, STREET_TOKEN)
    item = f"#case-{case_id}"
    await until_visible(street, f"{console_url}/triage", item)
    await shot(street, "triage")
    await usable(street)
    # the queue works from the keyboard: J reaches a case, Tab its first suggestion
    await street.locator("h1").click()
    await street.keyboard.press("j")
    assert await street.evaluate("document.activeElement.hasAttribute('data-triage')")
    await street.keyboard.press("Tab")
    assert await street.evaluate("document.activeElement.closest('[data-triage]') !== null")

    article = street.locator(item)
    assert await article.locator("[data-suggestion]").count() >= 1  # the top-3
    await article.get_by_text("选择其他类别或部门").click()
    await article.get_by_label("类别", exact=True).select_option("street_vending")
    await article.get_by_role("button", name="派单", exact=True).click()
    await street.locator(f"{item}.done").wait_for()
    assert "城管执法队" in await street.locator(f"{item}.done").inner_text()

    dept = await new_page(browser)
    await sign_in(dept, console_url, DEPT_TOKEN)
    row = f"#order-{case_id}"
    await until_visible(dept, f"{console_url}/orders", row)
    await shot(dept, "orders")
    await usable(dept)
    await dept.locator(row).get_by_role("button", name="报到").click()
    await dept.locator("#orders .flash").wait_for()
    assert "已报到" in await dept.locator("#orders .flash").inner_text()
    await dept.goto(f"{console_url}/cases/{case_id}")
    await dept.get_by_label("处理结果").fill("已清理占道摊点，恢复通行")
    await dept.get_by_role("button", name="办结").click()
    await dept.wait_for_load_state("networkidle")
    assert "已办结" in await dept.locator("main .flash").inner_text()
    await shot(dept, "case-department")

    async def resolved() -> bool:
        await street.goto(f"{console_url}/cases/{case_id}")
        return "已办结" in await street.locator("#h-state").inner_text()

    deadline = time.monotonic() + 30
    while not await resolved():
        assert time.monotonic() < deadline, "the street office never saw the case resolved"
        await asyncio.sleep(1)
    timeline = await street.locator(".timeline").inner_text()
    assert "部门报到" in timeline and "已清理占道摊点" in timeline
    await shot(street, "case")
    await usable(street)
    for path in ("/board", "/map"):
        await street.goto(f"{console_url}{path}")
        await usable(street)
        await shot(street, path.strip("/"))


async def test_a_department_gets_the_403_page_for_another_departments_case(live, console_url,
                                                                           browser):
    other = await dispatched_case(live, "water", GRID)  # 水务: chengguan is not on it
    page = await new_page(browser)
    await sign_in(page, console_url, DEPT_TOKEN)
    resp = await page.goto(f"{console_url}/cases/{other}")
    assert resp.status == 403
    assert "无权访问" in await page.locator("main").inner_text()
    assert "控制台测试" not in await page.content()


async def test_a_street_cannot_see_another_streets_cases(live, console_url, browser):
    street_token_or_skip()
    other = await dispatched_case(live, "water", OTHER_STREET_GRID)
    page = await new_page(browser)
    await sign_in(page, console_url, STREET_TOKEN)
    resp = await page.goto(f"{console_url}/cases/{other}")
    assert resp.status == 403
    await page.goto(f"{console_url}/board")
    assert f"控制台测试 water {OTHER_STREET_GRID}" not in await page.content()
    async with live.http("dispatch") as client:  # and the service itself agrees
        listed = await client.get("/v1/cases", params={"street": "120119004"},
                                  headers={"Authorization": f"Bearer {STREET_TOKEN}"})
    assert listed.status_code == 403 or all(
        i["street"] == STREET for i in listed.json()["items"])


async def test_a_form_post_without_the_csrf_token_is_refused(live, console_url, browser):
    case_id = await dispatched_case(live, "street_vending", GRID)
    page = await new_page(browser)
    await sign_in(page, console_url, DEPT_TOKEN)
    refused = await page.request.post(f"{console_url}/cases/{case_id}/reports",
                                      form={"kind": "acknowledged", "dept": "chengguan"},
                                      max_redirects=0)
    assert refused.status == 403 and "CSRF" in await refused.text()
    async with live.http("dispatch") as client:
        case = (await client.get(f"/v1/cases/{case_id}",
                                 headers={"Authorization": f"Bearer {DEPT_TOKEN}"})).json()
    lead = next(a for a in case["assignments"] if a["dept"] == "chengguan")
    assert lead["status"] == "ordered"  # nothing was reported


async def test_an_expired_session_goes_back_to_sign_in(live, console_url, browser):
    env = live.stack.console.env() | {"CONSOLE_PORT": str(SHORT_PORT),
                                      "CONSOLE_SESSION_SECONDS": "5"}
    layout = live.stack.layout
    spawn([sys.executable, "-m", "whistle_console"], pidfile=layout.pidfile("console-short"),
          logfile=layout.logfile("console-short"), env=env, cwd=layout.root)
    base = f"http://127.0.0.1:{SHORT_PORT}"
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=1) as client:
            while True:
                try:
                    if (await client.get(f"{base}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "short-session console did not start"
                await asyncio.sleep(0.2)
        page = await new_page(browser)
        await sign_in(page, base, DEPT_TOKEN)
        assert "/orders" in page.url
        await asyncio.sleep(6)
        await page.goto(f"{base}/orders")
        assert "/login" in page.url and "expired=1" in page.url
        assert "会话已过期" in await page.locator("main").inner_text()
    finally:
        pid = read_pid(layout.pidfile("console-short"), "whistle_console")
        if pid:
            stop_pid(pid, timeout=10)
        layout.pidfile("console-short").unlink(missing_ok=True)


async def test_operators_see_supervision_and_the_ranking(live, console_url, browser):
    page = await new_page(browser)
    await sign_in(page, console_url, "dev-operator-token")
    await page.goto(f"{console_url}/supervision")
    text = await page.locator("main").inner_text()
    assert "超期与督办" in text and "部门考核排名" in text
    await usable(page)
    await shot(page, "supervision")
