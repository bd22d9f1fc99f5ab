"""Issue 10: no personal data in the services' logs (runs after everything else logged)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
NAMES = ("张先生", "李女士", "王阿姨")  # reporter and volunteer names the suite posts


def test_no_phone_numbers_or_names_in_service_logs(live):
    found = {}
    for service in ("intake", "dispatch", "scoring", "notify"):
        log = live.stack.layout.logfile(service)
        if not log.exists():
            continue
        text = log.read_text(errors="replace")
        hits = MOBILE.findall(text) + [n for n in NAMES if n in text]
        if hits:
            found[service] = sorted(set(hits))[:5]
    assert found == {}
