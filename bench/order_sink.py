"""Bench helper process: records when each lead order reaches a department topic.

Prints `ready` once it has its partitions, then appends `incident_id<TAB>unix time` lines to
the output file until stopped. Runs apart from the load generator so neither slows the other.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time

from aiokafka import AIOKafkaConsumer


async def main(bootstrap: str, out_path: str) -> None:
    # the broker answers a fetch as soon as a record arrives (fetch.min.bytes 1), so a long
    # wait adds no latency; a 5 ms wait made the broker answer 200 empty fetches a second,
    # which the bench then counted as the pipeline's Kafka cost
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                group_id=None, fetch_max_wait_ms=500)
    consumer.subscribe(pattern=r"^dispatch\.orders\..+")
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=200)
    for tp in consumer.assignment():
        await consumer.position(tp)
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with open(out_path, "a", encoding="utf-8") as out:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.time()
            for records in batches.values():
                for rec in records:
                    event = json.loads(rec.value)
                    data = event.get("data", {})
                    if event.get("type") == "dispatch.ordered.v1" and data.get("role") == "lead":
                        out.write(f"{data['incident_id']}\t{now}\n")
            out.flush()
    await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
