"""make bench-pipeline: bookings per second from the portal topic to committed NEW leads.

Side by side, in one run, on the same broker and on databases created for the round:
- baseline: a raw aiokafka consumer that reads the same bookings and inserts the same lead
  rows (into a copy of the leads table, indexes included) with asyncpg executemany, one
  transaction per batch, committing offsets after it;
- pipeline: lead-intake and lead-manager as processes: validation, the second hop through
  the lead request topic, inbox, lead rows, history, outbox, and the relay publishing
  LeadCreated. A booking counts when its LeadCreated is on the lead events topic;
- the same pipeline with two instances of each service in the same consumer groups (the
  partitions shared between them, one outbox relay elected among them).

Latency is the Kafka timestamp of the booking record to that of its LeadCreated (or to the
baseline's commit), for bookings produced as fast as the producer goes (throughput run)
and at a steady rate below saturation (latency run).

Throughput runs in rounds (``--rounds``, 3): each round the baseline, then the pipeline, on
fresh databases; the figure is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from lead_intake.domain.validation import lead_id_for
from lead_manager.entrypoints.app import MIGRATIONS as LEAD_MANAGER_MIGRATIONS
from osb_contracts import encode
from osb_contracts.leads import LeadCreated
from osb_contracts.portal import BookingSubmitted, PortalAddress, PortalCustomer, PortalVehicle
from osb_contracts.topics import LEAD_EVENTS, LEAD_REQUESTS, PORTAL_BOOKINGS
from osb_local_infra.postgres import database_url, ensure_databases
from osb_platform.db import make_engine, upgrade
from osb_testing.infrastructure import TestInfrastructure, provide
from osb_testing.kafka import header, move_group_to_end, partitions_of
from osb_testing.system import lead_system

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench" / "pipeline.json"
SECRET = "bench-secret-of-at-least-32-characters!"  # noqa: S105 - a throw-away local key


def bookings(prefix: str, n: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    start = datetime.now(UTC) + timedelta(days=5)
    out = []
    for i in range(n):
        booking_id = f"{prefix}{i:06d}"
        message = BookingSubmitted(
            booking_id=booking_id,
            branch_id=("HH-01", "M-01", "W-01")[i % 3],
            submitted_at=datetime.now(UTC),
            requested_start=start + timedelta(minutes=15 * (i % 500)),
            customer=PortalCustomer(
                salutation="Frau",
                first_name="Greta",
                last_name=f"Bäcker{i}",
                email=f"greta.baecker{i}@example.de",
                phone="040 1234567" if i % 3 != 2 else "01 5123456",
                address=PortalAddress(
                    street="Mühlenweg",
                    house_number=str(i % 90 + 1),
                    postcode="20095",
                    city="Hamburg",
                ),
            ),
            vehicle=PortalVehicle(licence_plate=f"HH-GB {i % 9000 + 1}", make="VW", model="Golf"),
        )
        record = encode(message, key=booking_id, source="/bench/portal")
        out.append((record.key, record.value, record.header_list))
    return out


async def produce(bootstrap: str, records: list[Any], per_second: float | None) -> dict[bytes, int]:
    """Send; return each key's record timestamp (ms)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    sent: dict[bytes, int] = {}
    try:
        started = time.monotonic()
        futures = []
        for n, (key, value, headers) in enumerate(records):
            ts = int(time.time() * 1000)
            sent[key] = ts
            futures.append(
                await producer.send(
                    PORTAL_BOOKINGS.name, value, key=key, headers=headers, timestamp_ms=ts
                )
            )
            if per_second:
                ahead = started + n / per_second - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


def summary(label: str, n: int, seconds: float, latencies_ms: list[float]) -> dict[str, Any]:
    q = statistics.quantiles(latencies_ms, n=100) if len(latencies_ms) > 1 else [0.0] * 99
    return {
        "path": label,
        "bookings": n,
        "seconds": round(seconds, 3),
        "per_second": round(n / seconds, 1),
        "p50_ms": round(q[49], 1),
        "p99_ms": round(q[98], 1),
    }


async def baseline(
    bootstrap: str, pg_url: str, records: list[Any], rate: float | None, label: str
) -> dict[str, Any]:
    conn = await asyncpg.connect(pg_url)
    await conn.execute("DROP TABLE IF EXISTS bench_baseline_leads")
    await conn.execute("CREATE TABLE bench_baseline_leads (LIKE leads INCLUDING ALL)")
    group = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    await move_group_to_end(bootstrap, group, [PORTAL_BOOKINGS.name])
    consumer = AIOKafkaConsumer(
        PORTAL_BOOKINGS.name,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        max_poll_records=500,
    )
    await consumer.start()
    wanted = {key for key, _, _ in records}
    done_at: dict[bytes, float] = {}
    insert = (
        "INSERT INTO bench_baseline_leads (id, booking_id, branch_id, status, version, "
        "received_at, requested_start, customer, vehicle, services, warnings, last_name, email, "
        "licence_plate, created_at, updated_at) VALUES "
        "($1,$2,$3,'NEW',1,now(),$4::timestamptz,$5::jsonb,$6::jsonb,'[]','[]',$7,$8,$9,now(),now())"
    )

    async def consume() -> None:
        while len(done_at) < len(wanted):
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            rows, keys = [], []
            for part in batches.values():
                for r in part:
                    body = json.loads(r.value)
                    rows.append(
                        (
                            uuid.uuid5(uuid.NAMESPACE_URL, body["booking_id"]),
                            body["booking_id"],
                            body["branch_id"],
                            datetime.fromisoformat(body["requested_start"]),
                            json.dumps(body["customer"]),
                            json.dumps(body["vehicle"]),
                            body["customer"]["last_name"],
                            body["customer"]["email"],
                            body["vehicle"]["licence_plate"],
                        )
                    )
                    keys.append(r.key)
            if rows:
                async with conn.transaction():
                    await conn.executemany(insert, rows)
                await consumer.commit()
                now = time.time() * 1000
                for k in keys:
                    if k in wanted:
                        done_at[k] = now

    task = asyncio.create_task(consume())
    sent = await produce(bootstrap, records, rate)
    await task
    await consumer.stop()
    await conn.execute("DROP TABLE bench_baseline_leads")
    await conn.close()
    first = min(sent.values())
    seconds = (max(done_at.values()) - first) / 1000
    return summary(label, len(records), seconds, [done_at[k] - sent[k] for k in done_at])


async def pipeline(
    bootstrap: str,
    urls: dict[str, str],
    records: list[Any],
    rate: float | None,
    label: str,
    instances: int = 1,
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    system = await lead_system(run, bootstrap=bootstrap, database_urls=urls, jwt_secret=SECRET)
    first = [system.intake, system.manager]
    processes = first + [p.another(i) for p in first for i in range(2, instances + 1)]
    events = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await events.start()
    try:
        # every process stopped however the run ends: one left running would read the next
        # runs' bookings in its own groups and send everything twice
        await asyncio.gather(*(p.start() for p in processes))
        # the bookings go out once every instance has its partitions, not during the rebalance
        await groups_settled(
            {
                f"intake-{run}": [p for p in processes if p.name.startswith("lead-intake")],
                f"manager-{run}.{LEAD_REQUESTS.name}": [
                    p for p in processes if p.name.startswith("lead-manager")
                ],
            }
        )
        # a fresh database's Auswertung reads the lead events' whole history first: before the
        # load, so what is measured is the pipeline with the read model kept current
        await insight_caught_up([p for p in processes if p.name.startswith("lead-manager")])
        await housekeeping_done(urls["lead-manager"])
        keys = {str(lead_id_for(k.decode())).encode(): k for k, _, _ in records}
        partitions = await partitions_of(bootstrap, [LEAD_EVENTS.name])
        start = await events.end_offsets(partitions)
        sent = await produce(bootstrap, records, rate)
        # While the pipeline runs, only the topic's end offsets are watched: reading every
        # event here would take CPU from the pipeline (the baseline measures in its own
        # loop). The events are read afterwards; their timestamps are the broker's.
        end = await published(events, start, len(records))
        for process in processes:
            process.stop()
        created = await read_between(events, start, end)
    finally:
        for process in processes:
            process.stop()
        await events.stop()
    created_type = LeadCreated.cloudevents_type()
    done_at: dict[bytes, int] = {}
    for r in created:
        if r.key in keys and header(r, "ce_type") == created_type:
            done_at.setdefault(keys[r.key], r.timestamp)
    if len(done_at) != len(records):
        raise SystemExit(f"{len(done_at)} of {len(records)} bookings became LeadCreated")
    first = min(sent.values())
    seconds = (max(done_at.values()) - first) / 1000
    return summary(label, len(records), seconds, [done_at[k] - sent[k] for k in done_at])


async def groups_settled(groups: dict[str, list[Any]]) -> None:
    """Wait until every instance has had partitions of its group: each reports the group's
    lag only for partitions assigned to it, and the one that joined last gets its first
    ones in the rebalance that includes everybody."""
    async with httpx.AsyncClient(timeout=5, follow_redirects=True) as http, asyncio.timeout(120):
        for group, processes in groups.items():
            for process in processes:
                while f'group="{group}"' not in (await http.get(f"{process.url}/metrics")).text:
                    await asyncio.sleep(0.5)


async def insight_caught_up(managers: list[Any]) -> None:
    async with httpx.AsyncClient(timeout=5, follow_redirects=True) as http, asyncio.timeout(900):
        for process in managers:
            while (
                "\nosb_lead_manager_insight_lag 0.0"
                not in (await http.get(f"{process.url}/metrics")).text
            ):
                await asyncio.sleep(1)


async def housekeeping_done(url: str) -> None:
    """Vacuum and checkpoint what that rebuild wrote (here several 100,000 rows): else the
    autovacuum and the checkpoint it causes run during the measurement."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def published(
    consumer: AIOKafkaConsumer, start: dict[TopicPartition, int], count: int
) -> dict[TopicPartition, int]:
    """Wait until ``count`` records are on the partitions past ``start``; their end offsets."""
    end = start
    async with asyncio.timeout(600):
        while sum(end.values()) - sum(start.values()) < count:
            await asyncio.sleep(0.05)
            end = await consumer.end_offsets(list(start))
    return end


async def read_between(
    consumer: AIOKafkaConsumer, start: dict[TopicPartition, int], end: dict[TopicPartition, int]
) -> list[Any]:
    """The records from ``start`` up to ``end`` (offsets per partition)."""
    consumer.assign(list(start))
    for tp, offset in start.items():
        consumer.seek(tp, offset)
    found: list[Any] = []
    while [tp for tp in start if await consumer.position(tp) < end[tp]]:
        for part in (await consumer.getmany(timeout_ms=500)).values():
            found += part
    return found


async def fresh_databases(infra: TestInfrastructure, run: str) -> dict[str, str]:
    """Both services' databases new for this run, lead-manager's migrated: the pipeline and
    the baseline start from the same empty tables, whatever earlier runs left behind."""
    urls = dict(infra.database_urls)
    for service in ("lead-intake", "lead-manager"):
        name = f"bench_{service.replace('-', '_')}_{run}"
        urls[service] = database_url(infra.database_urls[service], name)
    await ensure_databases({s: urls[s] for s in ("lead-intake", "lead-manager")})
    engine = make_engine(urls["lead-manager"], pool_size=1)
    await upgrade(engine, LEAD_MANAGER_MIGRATIONS)
    await engine.dispose()
    return urls


async def drop_databases(infra: TestInfrastructure, urls: dict[str, str]) -> None:
    admin = await asyncpg.connect(database_url(infra.database_urls["lead-manager"], "postgres"))
    try:
        for service in ("lead-intake", "lead-manager"):
            name = urlsplit(urls[service]).path.lstrip("/")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def measure(
    infra: TestInfrastructure, args: argparse.Namespace
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Throughput rounds (baseline, then pipeline, each round on fresh databases), then the
    latency run of both at the steady rate."""
    run = uuid.uuid4().hex[:6]
    bootstrap = infra.bootstrap_servers
    rounds = []
    for n in range(args.rounds):
        urls = await fresh_databases(infra, f"{run}{n}")
        try:
            big = bookings(f"BENCH-{run}-{n}-", args.bookings)
            base = await baseline(
                bootstrap, urls["lead-manager"], big, None, "baseline: aiokafka + asyncpg"
            )
            one = pipeline(bootstrap, urls, big, None, "pipeline: intake + manager")
            # two instances of each on bookings of their own, the same number; every other
            # round first, so that neither always finds the fuller tables
            two = pipeline(
                bootstrap,
                urls,
                bookings(f"BENCH-{run}-{n}-TWO-", args.bookings),
                None,
                "pipeline: two instances of each",
                instances=2,
            )
            if n % 2:
                double = await two
                single = await one
            else:
                single = await one
                double = await two
            rounds.append([base, single, double])
        finally:
            await drop_databases(infra, urls)
    urls = await fresh_databases(infra, f"{run}l")
    rate = args.latency_rate
    try:
        steady = [
            await baseline(
                bootstrap,
                urls["lead-manager"],
                bookings(f"BENCH-{run}-BL-", args.latency_bookings),
                rate,
                f"baseline at {rate:.0f}/s",
            ),
            await pipeline(
                bootstrap,
                urls,
                bookings(f"BENCH-{run}-L-", args.latency_bookings),
                rate,
                f"pipeline at {rate:.0f}/s",
            ),
        ]
    finally:
        await drop_databases(infra, urls)
    return rounds, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-bookings", type=int, default=3_000)
    parser.add_argument("--latency-rate", type=float, default=500.0)
    args = parser.parse_args()
    with provide() as infra:
        # The services' event loop for the baseline as well: the same runtime on both sides.
        rounds, steady = uvloop.run(measure(infra, args))
    # Each round compares the two paths under the same conditions; the machine's two cores
    # are shared with the broker and the database, so rounds vary: the median is the figure.
    ratios = [pipe["per_second"] / base["per_second"] for base, pipe, _ in rounds]
    ratio = statistics.median(ratios)
    scaling = [two["per_second"] / one["per_second"] for _, one, two in rounds]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench-pipeline",
        "rounds": rounds,
        "round_ratios": [round(r, 3) for r in ratios],
        "steady_rate": steady,
        "pipeline_to_baseline": round(ratio, 3),
        "two_instances_round_ratios": [round(r, 3) for r in scaling],
        "two_instances_to_one": round(statistics.median(scaling), 3),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"{'round':5} {'path':34} {'bookings':>8} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for n, r in [(str(i + 1), r) for i, pair in enumerate(rounds) for r in pair] + [
        ("-", r) for r in steady
    ]:
        figures = f"{r['bookings']:>8} {r['per_second']:>9} {r['p50_ms']:>8} {r['p99_ms']:>8}"
        print(f"{n:5} {r['path']:34} {figures}")
    listed = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"pipeline / baseline throughput per round: {listed}; median {ratio:.2f}")
    listed = ", ".join(f"{r:.2f}" for r in scaling)
    print(f"two instances / one per round: {listed}; median {statistics.median(scaling):.2f}")
    print(f"(written to {OUT.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
