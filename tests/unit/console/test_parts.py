"""Scope discovery, the vendored htmx, the SVG map, Chinese labels."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from whistle_console import text
from whistle_console.api import Services, Unauthorized
from whistle_console.roles import NoRole, identify
from whistle_console.territory import load, street_map

from tests.unit.console.conftest import Console
from tests.unit.console.fakes import URLS, FakePlatform

STATIC = Path(__file__).resolve().parents[3] / "clients/console/whistle_console/static"
STREETS = ["120119001", "120119002", "120119003", "120119004", "120119005"]


@pytest.mark.parametrize("me", [True, False])
@pytest.mark.parametrize("token, role, scope", [
    ("tok-operator", "operator", "operator"),
    ("tok-chengguan", "dept", "dept:chengguan"),
    ("tok-street-chaicun", "street", "street:120119004"),
])
async def test_scopes_from_me_or_by_probing(me, token, role, scope):
    platform = FakePlatform(me=me)
    api = Services(URLS, transport=platform.transport())
    try:
        identity = await identify(api, token, STREETS)
    finally:
        await api.aclose()
    assert identity.role == role and scope in identity.scopes
    probed = [c for c in platform.calls if c[2] != "/v1/me"]
    assert bool(probed) is (not me)
    assert all(c[0] == "GET" for c in platform.calls)  # probing never writes


@pytest.mark.parametrize("me", [True, False])
async def test_unknown_and_roleless_tokens(me):
    platform = FakePlatform(me=me)
    api = Services(URLS, transport=platform.transport())
    try:
        with pytest.raises(Unauthorized):
            await identify(api, "nope", STREETS)
        with pytest.raises(NoRole):
            await identify(api, "tok-volunteer", STREETS)
        with pytest.raises(NoRole):
            await identify(api, "tok-hotline", STREETS)
    finally:
        await api.aclose()


async def test_sign_in_works_against_a_dispatch_without_me(platform):
    found = Console(FakePlatform(me=False))
    try:
        resp = await found.sign_in("tok-street-wenchang")
        assert resp.headers["location"] == "/triage"
    finally:
        await found.close()


def test_vendored_htmx_matches_its_notice():
    notice = (STATIC / "NOTICE.md").read_text("utf-8")
    digest = hashlib.sha256((STATIC / "htmx.min.js").read_bytes()).hexdigest()
    assert digest in notice and "2.0.11" in notice
    assert (STATIC / "htmx.min.js").read_bytes().startswith(b"var htmx=function()")


def test_templates_use_no_inline_script_or_style():
    folder = STATIC.parent / "templates"
    for page in folder.glob("*.html"):
        body = page.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), page.name
        assert " style=" not in body and "hx-on" not in body, page.name


def test_every_input_has_a_label():
    folder = STATIC.parent / "templates"
    for page in folder.glob("*.html"):
        body = page.read_text("utf-8")
        for match in re.finditer(r"<(select|textarea|input)\b[^>]*>", body):
            tag = match.group(0)
            if 'type="hidden"' in tag or 'type="checkbox"' in tag:
                continue  # checkboxes are wrapped in their <label>
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident, f"{page.name}: {tag}"
            key = ident.group(1).split("{{")[0]
            assert f'for="{key}' in body or 'label for="{{ id }}"' in body, f"{page.name}: {tag}"


def test_the_street_map_has_every_grid_and_its_count():
    where = load()
    drawn = street_map(where, "120119001", {"12011900100101": 4})
    codes = {s["code"] for s in drawn["shapes"]}
    assert codes == {g["properties"]["code"] for g in where.grids["120119001"]}
    four = next(s for s in drawn["shapes"] if s["code"] == "12011900100101")
    assert four["count"] == 4 and four["d"].startswith("M") and four["fill"] == "#f59e0b"
    for s in drawn["shapes"]:
        assert 0 <= s["cx"] <= drawn["width"] and 0 <= s["cy"] <= drawn["height"]


def test_territory_names_and_streets():
    where = load()
    assert where.name("120119001") == "文昌街道"
    assert where.street_of("12011900100101") == "120119001"
    assert where.street_of("120119004001") == "120119004"
    assert [c.name for c in where.communities["120119001"]][:1] == ["府君山社区"]


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_meet_wcag_aa():
    css = (STATIC / "console.css").read_text("utf-8")
    pairs = re.findall(r"background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6})", css)
    pairs += [(bg, ink) for bg, ink in re.findall(
        r"background: (#[0-9a-f]{6}); border-color: #[0-9a-f]{6}; color: (#[0-9a-f]{6})", css)]
    assert len(pairs) > 10
    for bg, ink in pairs:
        assert contrast(bg, ink) >= 4.5, (bg, ink, contrast(bg, ink))
    for ink in ("#1f2937", "#4b5563", "#1d4ed8", "#065f46", "#b91c1c", "#9a3412", "#991b1b"):
        assert contrast(ink, "#ffffff") >= 4.5 and contrast(ink, "#f8fafc") >= 4.5, ink
    for _, fill, ink in [(0, "#f1f5f9", "#1e293b"), (1, "#fde68a", "#1e293b"),
                         (3, "#f59e0b", "#1e293b"), (6, "#b45309", "#ffffff"),
                         (10, "#7c2d12", "#ffffff")]:
        assert contrast(fill, ink) >= 4.5


def test_countdown_and_labels():
    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert text.countdown(now + timedelta(hours=2, minutes=5), now) == "剩余 2小时5分"
    assert text.countdown((now - timedelta(minutes=7)).isoformat(), now) == "已超期 7分0秒"
    assert text.local("2026-11-25T10:00:00+00:00") == "11-25 18:00"
    assert text.mask_phone("13812341234") == "138****1234"
    assert text.mask_phone("138****1234") == "138****1234"
    assert text.percent(0.955) == "95.5%" and text.percent(None) == "—"
    case = {"assignments": [{"status": "ordered", "escalations": ["ack:overdue", "ack:street"]},
                            {"status": "resolved", "escalations": ["resolve:city"]}]}
    assert text.escalation_level(case) == "street"


def test_the_console_imports_no_service_code():
    folder = STATIC.parent
    for module in folder.glob("*.py"):
        body = module.read_text("utf-8")
        for banned in ("whistle_intake", "whistle_dispatch", "whistle_scoring", "whistle_notify",
                       "whistle_common", "asyncpg", "aiokafka", "kafka"):
            assert not re.search(rf"^\s*(from|import) {banned}\b", body, re.M), (module, banned)
