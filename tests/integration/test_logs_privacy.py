"""Issue 10: no personal data in the services' logs. The test logs its own incident with a
name and a phone number first, so it does not depend on running after the others."""

from __future__ import annotations

import re

import pytest

from tests.support.incidents import incident, post
from tests.support.stack import case_of

pytestmark = pytest.mark.integration
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
NAMES = ("张先生", "李女士", "王阿姨")  # reporter and volunteer names the suite posts


async def test_no_phone_numbers_or_names_in_service_logs(live):
    async with live.http("intake") as client:
        body = incident(reporter={"name": "张先生", "phone": "13912345678"})
        created = (await post(client, body)).json()
    await case_of(live, created["incident_id"])
    found, sizes = {}, {}
    for service in ("intake", "dispatch", "scoring", "notify"):
        log = live.stack.layout.logfile(service)
        assert log.exists(), f"no log file for {service} at {log}"
        text = log.read_text(errors="replace")
        sizes[service] = len(text)
        hits = MOBILE.findall(text) + [n for n in NAMES if n in text]
        if hits:
            found[service] = sorted(set(hits))[:5]
    assert all(sizes.values()), f"empty service logs: {sizes}"
    assert found == {}
