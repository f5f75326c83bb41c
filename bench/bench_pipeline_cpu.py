"""Where the lead pipeline's CPU goes: CPU seconds per process while 15,000 bookings flow.

`uv run python bench/bench_pipeline_cpu.py` (after `make install`): lead-intake and
lead-manager as processes, the broker and PostgreSQL (its backends alive at the start), and
this script (the producer, and the end offsets of the lead events topic), read from /proc
before and after.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from aiokafka import AIOKafkaConsumer
from bench_pipeline import (
    SECRET,
    bookings,
    drop_databases,
    fresh_databases,
    produce,
    published,
)
from osb_contracts.topics import LEAD_EVENTS
from osb_testing.infrastructure import TestInfrastructure, provide
from osb_testing.kafka import partitions_of
from osb_testing.system import lead_system

BOOKINGS = 15_000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def pids(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


async def run(infra: TestInfrastructure) -> None:
    run_id = uuid.uuid4().hex[:8]
    urls = await fresh_databases(infra, run_id)
    try:
        await measure(infra, run_id, urls)
    finally:
        await drop_databases(infra, urls)


async def measure(infra: TestInfrastructure, run_id: str, urls: dict[str, str]) -> None:
    records = bookings(f"CPU-{run_id}-", BOOKINGS)
    system = await lead_system(
        run_id, bootstrap=infra.bootstrap_servers, database_urls=urls, jwt_secret=SECRET
    )
    await asyncio.gather(system.intake.start(), system.manager.start())
    assert system.intake.proc is not None
    assert system.manager.proc is not None
    groups = {
        "lead-intake": [system.intake.proc.pid],
        "lead-manager": [system.manager.proc.pid],
        "kafka": pids("kafka.Kafka"),
        "postgres": pids("postgres"),
    }
    before = {k: sum(cpu_seconds(p) for p in v) for k, v in groups.items()}
    own, started = time.process_time(), time.monotonic()
    try:
        events = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap_servers)
        await events.start()
        try:
            start = await events.end_offsets(
                await partitions_of(infra.bootstrap_servers, [LEAD_EVENTS.name])
            )
            await produce(infra.bootstrap_servers, records, None)
            await published(events, start, BOOKINGS)
        finally:
            await events.stop()
        wall = time.monotonic() - started
        after = {
            k: sum(cpu_seconds(p) for p in v if Path(f"/proc/{p}").exists())
            for k, v in groups.items()
        }
    finally:
        system.intake.stop()
        system.manager.stop()
    print(f"{BOOKINGS:,} bookings in {wall:.1f} s ({BOOKINGS / wall:,.0f}/s), CPU seconds:")
    for name in groups:
        print(f"  {name:14} {after[name] - before[name]:6.2f}")
    print(f"  {'this script':14} {time.process_time() - own:6.2f}")


if __name__ == "__main__":
    with provide() as infra:
        asyncio.run(run(infra))
