"""Notify's handlers wired to fakes: an in-memory unit of work, channels that keep what they
are given, and a clock the test moves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from whistle_catalogue import load_catalogue
from whistle_notify import handlers
from whistle_notify.domain.delivery import RetryPolicy
from whistle_notify.render import Renderer

from .fakes import Clock, FakeChannel, FakeNotifyUnitOfWork
from .support import HOOK, NOW, STREET_MAIL


@pytest.fixture(scope="session")
def renderer() -> Renderer:
    return Renderer(load_catalogue().departments)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def channels() -> dict[str, FakeChannel]:
    return {name: FakeChannel(name) for name in ("sms", "webhook", "email", "inbox")}


@pytest.fixture
def ctx(renderer, channels, clock) -> handlers.Context:
    """Gongan has a webhook, the street an e-mail; two non-urgent SMS per ten minutes."""
    return handlers.Context(renderer=renderer, channels=channels,
                            policy=RetryPolicy(max_attempts=3, base_seconds=2),
                            webhooks={"gongan": HOOK}, emails={"street:120119001": STREET_MAIL},
                            rate_limit=2, rate_window=timedelta(minutes=10), clock=clock)


@pytest.fixture
def uow() -> FakeNotifyUnitOfWork:
    return FakeNotifyUnitOfWork()
