"""make bench-insight: the figures' read model (Auswertung) rebuilt from a million lead
events, beside reading the same topic alone; the page's server time over a year of data.

Publishes a year of lead events of 20 branches (each lead created, most decided, some
overdue, cancelled or with a failed notification: 1,000,000 events by default) to a topic
of its own with the partitions of ``osb.lead.events.v1``, then in the same run:

- reads the topic from its beginning to its end with a bare aiokafka consumer (the
  baseline: what any rebuild costs at least);
- rebuilds the read model from it with lead-manager's ``InsightFeed`` into a database of
  its own (``lead_manager_bench_insight``), timed until it holds every partition's end;
- asks one branch's figures for the whole year as the page does (the query, then the query
  and the page's HTML), repeated.

Writes .bench/insight.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from lead_manager.adapters.insight import InsightFeed, InsightQueries, stored_positions
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.entrypoints.app import MIGRATIONS
from lead_manager.entrypoints.web import templates
from lead_manager.service.insight import branch_figures
from osb_contracts import Message, encode
from osb_contracts.leads import (
    AppointmentCreated,
    CustomerChoice,
    LeadCancelled,
    LeadCreated,
    LeadNotificationOutcome,
    LeadOverdue,
    LeadRejected,
    NotificationPurpose,
    VehicleCase,
)
from osb_contracts.topics import LEAD_EVENTS
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle
from osb_platform.db import make_engine, upgrade
from osb_testing.infrastructure import TestInfrastructure, provide

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench" / "insight.json"
BRANCHES = [f"B{n:02d}" for n in range(20)]
YEAR_START = datetime(2025, 12, 1, 7, tzinfo=UTC)
CUSTOMER = Customer(last_name="Mustermann", first_name="Erika", email="erika.mustermann@example.de")
VEHICLE = Vehicle(licence_plate="HH-AB 123")
REASONS = ["Kein freier Termin", "Leistung wird nicht angeboten", None]


def lead_events(rng: random.Random) -> list[Message]:
    """One lead's events: created within the year, decided (or not) a while later."""
    lead_id, branch = uuid.uuid4(), rng.choice(BRANCHES)
    created = YEAR_START + timedelta(minutes=rng.randrange(365 * 24 * 60))
    booking = f"B-{lead_id.hex[:8]}"
    events: list[Message] = [
        LeadCreated(
            lead_id=lead_id,
            booking_id=booking,
            branch_id=branch,
            created_at=created,
            requested_start=created + timedelta(days=7),
            customer=CUSTOMER,
            vehicle=VEHICLE,
        )
    ]
    decided = created + timedelta(minutes=rng.randrange(5, 3 * 24 * 60))
    if rng.random() < 0.1:
        events.append(
            LeadOverdue(
                lead_id=lead_id,
                booking_id=booking,
                branch_id=branch,
                received_at=created,
                respond_by=created + timedelta(hours=2),
                overdue_at=created + timedelta(hours=2),
            )
        )
    roll = rng.random()
    if roll < 0.6:
        appointment = uuid.uuid4()
        events.append(
            AppointmentCreated(
                lead_id=lead_id,
                appointment_id=appointment,
                booking_id=booking,
                branch_id=branch,
                start=created + timedelta(days=7),
                end=created + timedelta(days=7, hours=1),
                acceptor="anna",
                customer_number="K-1",
                customer_choice=rng.choice(list(CustomerChoice)),
                customer=CUSTOMER,
                vehicle=VEHICLE,
                vehicle_case=VehicleCase.OWNED_BY_CUSTOMER,
                created_by="anna",
                created_at=decided,
            )
        )
        if rng.random() < 0.05:
            events.append(
                LeadCancelled(
                    lead_id=lead_id,
                    appointment_id=appointment,
                    branch_id=branch,
                    cancelled_at=decided + timedelta(days=1),
                )
            )
    elif roll < 0.85:
        events.append(
            LeadRejected(
                lead_id=lead_id,
                booking_id=booking,
                branch_id=branch,
                rejected_by="anna",
                rejected_at=decided,
                channel=Channel.EMAIL,
                recipient="erika.mustermann@example.de",
                text="Leider nicht möglich.",
                customer=CUSTOMER,
                reason=rng.choice(REASONS),
            )
        )
    if len(events) > 1 and rng.random() < 0.2:
        events.append(
            LeadNotificationOutcome(
                lead_id=lead_id,
                branch_id=branch,
                status=LeadStatus.SCHEDULED,
                notification_id=uuid.uuid4(),
                channel=Channel.EMAIL,
                purpose=NotificationPurpose.CUSTOMER,
                delivered=rng.random() < 0.8,
                error_code=None,
                at=decided,
            )
        )
    return events


async def publish(bootstrap: str, topic: str, n: int) -> dict[str, float]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=LEAD_EVENTS.partitions, replication_factor=1)]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    rng = random.Random(18)
    started, sent = time.perf_counter(), 0
    try:
        pending = []
        while sent < n:
            for message in lead_events(rng)[: n - sent]:
                key = str(message.lead_id)  # type: ignore[attr-defined]
                record = encode(message, key=key, source="/bench/lead-manager")
                headers = [(k, v.encode()) for k, v in record.headers.items()]
                pending.append(
                    await producer.send(topic, record.value, key=record.key, headers=headers)
                )
                sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {"events": sent, "publish_s": round(time.perf_counter() - started, 1)}


async def read_alone(bootstrap: str, topic: str, total: int) -> float:
    """Seconds for a bare consumer to read the topic from its beginning to its end."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        started, seen = time.perf_counter(), 0
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            seen += sum(len(records) for records in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def rebuild(bootstrap: str, topic: str, url: str, total: int) -> float:
    """Seconds for lead-manager's feed to project the topic into an empty read model."""
    engine = make_engine(url, pool_size=2)
    await upgrade(engine, MIGRATIONS)
    feed = InsightFeed(engine, bootstrap, topic=dataclasses.replace(LEAD_EVENTS, name=topic))
    started = time.perf_counter()
    await feed.start()
    try:
        while True:
            async with engine.connect() as conn:
                if sum((await stored_positions(conn)).values()) >= total:
                    return time.perf_counter() - started
            await asyncio.sleep(0.2)
    finally:
        await feed.stop()
        await engine.dispose()


async def page_times(url: str, repeat: int) -> dict[str, Any]:
    """One branch's figures of the whole year: the query alone, then query and HTML."""
    engine = make_engine(url, pool_size=2)
    reads = InsightQueries(engine)
    actor = Actor("lea", "Lea", {"B03": frozenset({Permission.LEAD_MANAGER})})
    first, last = date(2025, 12, 1), date(2026, 11, 30)
    query, page = [], []
    template = templates.get_template("_insight.html")
    try:
        for _ in range(repeat):
            t0 = time.perf_counter()
            figures = await branch_figures(reads, actor, "B03", first, last)
            t1 = time.perf_counter()
            template.render(f=figures, branch_name="Autohaus B03")
            t2 = time.perf_counter()
            query.append((t1 - t0) * 1000)
            page.append((t2 - t0) * 1000)
        leads = figures.total.received
    finally:
        await engine.dispose()

    def summary(ms: list[float]) -> dict[str, float]:
        q = statistics.quantiles(ms, n=20)
        return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(q[18], 1)}

    return {"branch_leads_in_year": leads, "query": summary(query), "query_and_html": summary(page)}


async def measure(infra: TestInfrastructure, events: int, repeat: int) -> dict[str, Any]:
    bootstrap = infra.bootstrap_servers
    topic = f"bench.insight.{uuid.uuid4().hex[:8]}"
    published = await publish(bootstrap, topic, events)
    server = infra.database_urls["lead-manager"]
    admin = await asyncpg.connect(urlunsplit(urlsplit(server)._replace(path="/postgres")))
    await admin.execute("DROP DATABASE IF EXISTS lead_manager_bench_insight")
    await admin.execute("CREATE DATABASE lead_manager_bench_insight")
    await admin.close()
    url = urlunsplit(urlsplit(server)._replace(path="/lead_manager_bench_insight"))
    alone = await read_alone(bootstrap, topic, events)
    rebuilt = await rebuild(bootstrap, topic, url, events)
    pages = await page_times(url, repeat)
    admin_client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin_client.start()
    try:
        await admin_client.delete_topics([topic])
    finally:
        await admin_client.close()
    return {
        **published,
        "read_alone_s": round(alone, 1),
        "read_alone_per_s": round(events / alone),
        "rebuild_s": round(rebuilt, 1),
        "rebuild_per_s": round(events / rebuilt),
        "rebuild_over_read_alone": round(rebuilt / alone, 1),
        "page": pages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    with provide() as infra:
        report = asyncio.run(measure(infra, args.events, args.repeat))
    report["command"] = "make bench-insight"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"{report['events']:,} lead events published in {report['publish_s']} s")
    print(f"{'':34} {'seconds':>8} {'events/s':>10}")
    print(
        f"{'read the topic alone (aiokafka)':34} {report['read_alone_s']:>8} {report['read_alone_per_s']:>10,}"
    )
    print(f"{'rebuild the read model':34} {report['rebuild_s']:>8} {report['rebuild_per_s']:>10,}")
    print(f"rebuild / read alone: {report['rebuild_over_read_alone']}")
    page = report["page"]
    print(f"one branch's year ({page['branch_leads_in_year']:,} leads):")
    for name in ("query", "query_and_html"):
        print(f"  {name:30} p50 {page[name]['p50_ms']} ms  p95 {page[name]['p95_ms']} ms")


if __name__ == "__main__":
    main()
