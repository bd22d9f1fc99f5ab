"""The console app on fake services, driven through httpx (no browser, no stack)."""

from __future__ import annotations

import re

import httpx
import pytest
from whistle_console.app import create_app
from whistle_console.settings import ConsoleSettings

from tests.unit.console.fakes import URLS, FakePlatform, seed

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def settings(**overrides) -> ConsoleSettings:
    values = {"intake_url": URLS["intake"], "dispatch_url": URLS["dispatch"],
              "scoring_url": URLS["scoring"], "notify_url": URLS["notify"],
              "secret_key": "unit-test-secret-0123456789", **overrides}
    return ConsoleSettings(**values)


class Console:
    """A browser stand-in: one cookie jar, helpers to sign in and post forms with the page's
    CSRF token."""

    def __init__(self, platform: FakePlatform, *, base_url: str = "http://console.test",
                 **overrides) -> None:
        self.platform = platform
        self.app = create_app(settings(**overrides), transport=platform.transport())
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                      base_url=base_url, follow_redirects=False)
        self.csrf: str | None = None

    async def sign_in(self, token: str, next: str = "/") -> httpx.Response:
        page = await self.http.get("/login", params={"next": next})
        nonce = CSRF.search(page.text).group(1)
        resp = await self.http.post("/login", data={"token": token, "csrf_token": nonce,
                                                    "next": next})
        if resp.status_code == 303:
            home = await self.http.get(resp.headers["location"])
            found = CSRF.search(home.text)
            self.csrf = found.group(1) if found else None
        return resp

    async def post(self, path: str, data: dict, *, csrf: bool = True, **kw) -> httpx.Response:
        body = dict(data)
        if csrf:
            body["csrf_token"] = self.csrf
        return await self.http.post(path, data=body, **kw)

    def posted(self, path_end: str) -> list[tuple]:
        return [c for c in self.platform.calls if c[0] == "POST" and c[2].endswith(path_end)]

    async def close(self) -> None:
        await self.http.aclose()
        await self.app.state.api.aclose()


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform()


@pytest.fixture
def ids(platform) -> dict[str, str]:
    return seed(platform)


@pytest.fixture
async def console(platform, ids):
    found = Console(platform)
    yield found
    await found.close()


@pytest.fixture
async def second(platform, ids):
    """Another browser on the same console and services (another person)."""
    found = Console(platform)
    yield found
    await found.close()
