"""Screenshots of the console's main pages at 1366×768, on the fake services of devserver.py
(the browser test on the real stack can take them too: WHISTLE_SCREENSHOTS=1).

    python -m tests.unit.console.devserver 18080 &
    python -m tests.unit.console.screenshots http://127.0.0.1:18080 docs/screenshots
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright
from whistle_stack.browser import ensure_chromium


def sign_in(page, base: str, token: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("访问令牌").fill(token)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")


def main() -> None:
    base, out = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ensure_chromium(), headless=True)

        def context():
            ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                      timezone_id="Asia/Shanghai")
            page = ctx.new_page()
            page.on("console", lambda m: problems.append(f"{page.url}: {m.text}")
                    if m.type in ("error", "warning") else None)
            return ctx, page

        ctx, page = context()
        page.goto(f"{base}/login")
        page.screenshot(path=out / "login.png")
        sign_in(page, base, "tok-street-wenchang")
        page.screenshot(path=out / "triage.png")
        page.goto(f"{base}/board")
        page.screenshot(path=out / "board.png")
        page.goto(f"{base}/map")
        page.screenshot(path=out / "map.png")
        page.goto(f"{base}/board")
        page.locator(".col-escalated .card a").first.click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=out / "case.png", full_page=True)
        ctx.close()

        ctx, page = context()
        sign_in(page, base, "tok-chengguan")
        page.screenshot(path=out / "orders.png")
        page.locator("#orders tbody a").first.click()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=out / "case-department.png", full_page=True)
        ctx.close()

        ctx, page = context()
        sign_in(page, base, "tok-operator")
        page.goto(f"{base}/supervision")
        page.screenshot(path=out / "supervision.png")
        ctx.close()
        browser.close()
    for line in problems:
        print("console:", line)


if __name__ == "__main__":
    main()
