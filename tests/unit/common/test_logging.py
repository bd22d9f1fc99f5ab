"""Service logs: one JSON object a line, personal data masked, no line per outgoing request."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import structlog
from whistle_common.logging import configure_logging


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)
    structlog.reset_defaults()


async def test_an_outgoing_request_writes_no_line_but_a_warning_does(capsys, restore_logging):
    configure_logging("notify", "INFO")
    transport = httpx.MockTransport(lambda request: httpx.Response(202))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.post("http://gateway.test/sms", json={"to": "1"})).status_code == 202
    logging.getLogger("httpx").warning("gateway certificate expires soon")
    structlog.get_logger("notify").info("sms sent", phone="13812345678")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["gateway certificate expires soon", "sms sent"]
    assert all(line["service"] == "notify" for line in lines)
    assert lines[1]["phone"] == "138****5678"


def test_client_libraries_stay_at_warnings_when_the_service_logs_debug(restore_logging):
    configure_logging("notify", "DEBUG")
    assert logging.getLogger("whistle_notify").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
