"""Topic registry and idempotent topic creation."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

INCIDENTS_RECEIVED = "incidents.received"
DISPATCH_REPORTS = "dispatch.reports"
CASES_EVENTS = "cases.events"
POINTS_EVENTS = "points.events"
NOTIFICATIONS_REQUESTS = "notifications.requests"
NOTIFICATIONS_DLQ = "notifications.dlq"
INSIGHTS_HOTSPOTS = "insights.hotspots"
DISPATCH_ORDERS_PREFIX = "dispatch.orders."

CORE_TOPICS = (
    INCIDENTS_RECEIVED, DISPATCH_REPORTS, CASES_EVENTS, POINTS_EVENTS, NOTIFICATIONS_REQUESTS,
    NOTIFICATIONS_DLQ, INSIGHTS_HOTSPOTS,
)
CONSUMED_TOPICS = (INCIDENTS_RECEIVED, DISPATCH_REPORTS, CASES_EVENTS, POINTS_EVENTS,
                   NOTIFICATIONS_REQUESTS, INSIGHTS_HOTSPOTS)

# Topics of one service's streams, not part of the contract: scoring's hotspot counting
# (incidents re-keyed by category and place, and the windowed table's changelog, which Faust
# reads back on start so that a restart loses no counts). Name → topic configuration.
HOTSPOT_KEYS = "whistle-scoring-hotspot-keys"
HOTSPOT_CHANGELOG = "whistle-scoring-hotspot_counts-changelog"
INTERNAL_TOPICS: dict[str, dict[str, str]] = {
    HOTSPOT_KEYS: {"retention.ms": str(7 * 86400 * 1000)},
    HOTSPOT_CHANGELOG: {"cleanup.policy": "compact,delete",
                        "retention.ms": str(7 * 86400 * 1000)},
}


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of a consumed topic."""
    return topic if topic.endswith(".dlq") else f"{topic}.dlq"


def orders_topic(dept_code: str) -> str:
    """The dispatch topic of one department."""
    if not dept_code.isidentifier() or dept_code.lower() != dept_code:
        raise ValueError(f"department code {dept_code!r} must be a lowercase identifier")
    return f"{DISPATCH_ORDERS_PREFIX}{dept_code}"


def all_topics(dept_codes: Iterable[str] = ()) -> list[str]:
    """Every topic of the platform, with the DLQ of each consumed topic."""
    topics = list(CORE_TOPICS) + [dlq_topic(t) for t in CONSUMED_TOPICS]
    topics += [orders_topic(code) for code in dept_codes]
    return sorted(set(topics))


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], *, partitions: int, replication: int,
    configs: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet (with `configs[topic]`, if any); return the
    names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(
                [NewTopic(t, num_partitions=partitions, replication_factor=replication,
                          topic_configs=(configs or {}).get(t) or {})
                 for t in missing])
        except TopicAlreadyExistsError:
            pass  # a sibling worker created it first
        return missing
    finally:
        await admin.close()

# The event types the contract allows on each topic; anything else is poison for the DLQ.
EVENT_TYPES: dict[str, frozenset[str]] = {
    INCIDENTS_RECEIVED: frozenset({"incident.received.v1"}),
    DISPATCH_REPORTS: frozenset({"dispatch.reported.v1"}),
    CASES_EVENTS: frozenset({
        "case.created.v1", "case.dispatched.v1", "case.acknowledged.v1", "case.arrived.v1",
        "case.resolved.v1", "case.returned.v1", "case.overdue.v1", "case.escalated.v1",
        "case.rated.v1", "case.reopened.v1", "case.closed.v1", "case.extension_requested.v1",
        "case.extension_decided.v1", "case.assigned.v1", "case.unassigned.v1",
        "case.queued_for_triage.v1", "classification.corrected.v1", "case.merged.v1",
        "case.split.v1",
    }),
    POINTS_EVENTS: frozenset({"points.awarded.v1", "points.redeemed.v1"}),
    NOTIFICATIONS_REQUESTS: frozenset({"notification.requested.v1"}),
    INSIGHTS_HOTSPOTS: frozenset({"hotspot.detected.v1"}),
}
ORDER_EVENT_TYPES = frozenset({"dispatch.ordered.v1", "dispatch.withdrawn.v1",
                               "dispatch.updated.v1"})


def event_types_of(topic: str) -> frozenset[str]:
    """The event types allowed on a topic."""
    if topic.startswith(DISPATCH_ORDERS_PREFIX):
        return ORDER_EVENT_TYPES
    return EVENT_TYPES.get(topic, frozenset())
