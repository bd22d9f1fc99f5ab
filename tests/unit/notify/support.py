"""What notify's handler tests share: a fixed moment, a case, and the service's own ways of
running a handler (the consumer's one unit per event, the sender's driver)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from whistle_common.consumer import Incoming
from whistle_common.envelope import new_event
from whistle_common.usecase import run_use_case
from whistle_notify import handlers
from whistle_notify.schemas import PreferencesIn

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
HOOK = "http://hooks.example/gongan"
STREET_MAIL = "jiedao@wenchang.example.cn"
CASE = {"case_id": "c-1", "incident_id": "i-1", "tracking_no": "WS20261125-00000042",
        "street": "120119001", "district": "120119",
        "deadlines": {"ack_by": "2026-11-25T04:00:00+00:00",
                      "resolve_by": "2026-11-27T02:00:00+00:00"}}


def event(type_: str, data: dict, topic: str = "cases.events") -> Incoming:
    env = new_event(type_, source="/test", subject=str(data.get("case_id", "s")), data=data,
                    now=NOW)
    return Incoming(topic, None, env.to_bytes(), {}, 0, 0, env)


async def consume(ctx, uow, msg: Incoming, handler=handlers.on_event) -> None:
    """Apply one event as the consumer does: the handler in one unit, committed."""
    await run_use_case(lambda: uow, partial(handler, ctx), msg)


async def set_prefs(uow, recipient: str, **body) -> dict:
    """PUT /v1/recipients/{recipient}/preferences, as the use case."""
    return await run_use_case(lambda: uow, handlers.set_preferences, handlers.SetPreferences(
        recipient, PreferencesIn.model_validate(body)))


async def deliver(ctx, uow, limit: int = 20) -> int:
    """One round of the sender: claim, then prepare, send and record each."""
    return await handlers.deliver_due(ctx, lambda: uow, limit)


def rows(uow, **match) -> list[dict]:
    """Stored notifications with the given column values, oldest first."""
    found = [r for r in uow.notifications.rows.values()
             if all(r[k] == v for k, v in match.items())]
    return sorted(found, key=lambda r: r["created_at"])
