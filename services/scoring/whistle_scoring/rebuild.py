"""`python -m whistle_scoring rebuild-assessment`: replay cases.events from the beginning.

The assessment is stored one row per event (keyed by event id), so replaying the whole
topic into an emptied table reaches the same numbers as the live consumer did.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from whistle_common.consumer import Incoming
from whistle_common.db import create_pool
from whistle_common.envelope import Envelope, EnvelopeError, decode
from whistle_common.topics import CASES_EVENTS
from whistle_common.usecase import run_use_case

from . import handlers
from .adapters.uow import PgScoringUnitOfWork
from .settings import Settings


async def rebuild(settings: Settings) -> dict:
    """Empty the assessment, replay every case event up to the current end, return counts."""
    pool = await create_pool(settings.database_url)
    units = partial(PgScoringUnitOfWork, pool)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers,
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(CASES_EVENTS, p)
                 for p in await _partitions(settings.kafka_bootstrap_servers, CASES_EVENTS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        await run_use_case(units, handlers.clear_assessment, None)
        seen = skipped = rows = 0
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            replayed = []
            for tp, records in batches.items():
                for rec in records:
                    if rec.offset >= ends[tp]:
                        continue
                    seen += 1
                    try:
                        replayed.append(_incoming(rec, decode(rec.value)))
                    except EnvelopeError:
                        skipped += 1
            rows = await run_use_case(units, handlers.replay_assessment, replayed)
        return {"events_replayed": seen, "undecodable_skipped": skipped, "rows": rows}
    finally:
        await consumer.stop()
        await pool.close()


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in described[0]["partitions"])
    finally:
        await admin.close()


def _incoming(rec, env: Envelope) -> Incoming:
    return Incoming(CASES_EVENTS, rec.key, rec.value, {}, rec.partition, rec.offset, env)


def main() -> None:
    print(json.dumps(asyncio.run(rebuild(Settings()))))
