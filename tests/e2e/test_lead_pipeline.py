"""End to end: portal -> lead-intake -> lead-manager -> API and lead events, as processes."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from lead_intake.domain.validation import lead_id_for
from lead_manager.adapters.tables import lead_history, leads, outbox
from osb_contracts import decode, encode
from osb_contracts.leads import LeadCreated
from osb_contracts.portal import BookingSubmitted, PortalCustomer, PortalVehicle
from osb_contracts.topics import LEAD_EVENTS, LEAD_REQUESTS, PORTAL_BOOKINGS
from osb_platform.db import make_engine
from osb_testing.kafka import TopicTail, header, wait_group_caught_up
from osb_testing.outbox import wait_outbox_drained
from osb_testing.system import LeadSystem
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

pytestmark = pytest.mark.e2e


def booking(booking_id: str) -> BookingSubmitted:
    now = datetime.now(UTC)
    return BookingSubmitted(
        booking_id=booking_id,
        branch_id="HH-01",
        submitted_at=now,
        requested_start=now + timedelta(days=7),
        customer=PortalCustomer(
            first_name="Lena", last_name="Lorenz", email=f"{booking_id.lower()}@example.de"
        ),
        vehicle=PortalVehicle(licence_plate="HH-LL 1"),
    )


async def send_bookings(bootstrap: str, ids: list[str], per_second: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        started = time.monotonic()
        for n, booking_id in enumerate(ids):
            record = encode(booking(booking_id), key=booking_id, source="/e2e/portal")
            await producer.send(
                PORTAL_BOOKINGS.name,
                record.value,
                key=record.key,
                headers=record.header_list,
            )
            ahead = started + n / per_second - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        await producer.flush()
    finally:
        await producer.stop()


async def test_a_portal_booking_becomes_a_new_lead_in_the_api(
    system: LeadSystem, kafka_bootstrap_servers: str, auth: dict[str, str]
) -> None:
    booking_id = f"E2E-{system.run_id}-1"
    await send_bookings(kafka_bootstrap_servers, [booking_id, booking_id], per_second=100)
    lead_id = lead_id_for(booking_id)
    async with httpx.AsyncClient(base_url=system.manager.url, headers=auth) as http:
        async with asyncio.timeout(30):
            while (response := await http.get(f"/api/v1/leads/{lead_id}")).status_code == 404:
                await asyncio.sleep(0.1)
        assert response.status_code == 200, response.text
        lead = response.json()
        assert (lead["status"], lead["booking_id"]) == ("NEW", booking_id)
        assert lead["customer"]["email"] == f"{booking_id.lower()}@example.de"
        assert lead["vehicle"]["licence_plate"] == "HH-LL 1"
        found = await http.get("/api/v1/leads", params={"q": booking_id})
        assert [i["id"] for i in found.json()["items"]] == [str(lead_id)]

        # What an operator sees: per-topic counters, the outbox backlog, consumer lag. The
        # lag gauge is refreshed by a watcher now and then: wait for the update that shows
        # the consumed bookings (a lag that never falls to 0 fails here), and for the relay,
        # which publishes the lead's event after the commit (its first send of a process
        # took 50-800 ms here).
        async with asyncio.timeout(30):
            while (manager := await metrics(http, system.manager.url)).get(
                ("osb_consumer_lag", LEAD_REQUESTS.name)
            ) != 0 or not manager.get(("osb_messages_published_total", LEAD_EVENTS.name)):
                await asyncio.sleep(0.2)
        intake = await metrics(http, system.intake.url)
    assert intake[("osb_messages_consumed_total", PORTAL_BOOKINGS.name)] >= 2
    assert intake[("osb_messages_published_total", LEAD_REQUESTS.name)] >= 1
    assert manager[("osb_messages_consumed_total", LEAD_REQUESTS.name)] >= 2
    assert manager[("osb_handler_seconds_count", LEAD_REQUESTS.name)] >= 1
    assert manager[("osb_messages_published_total", LEAD_EVENTS.name)] >= 1
    assert ("osb_outbox_backlog", "") in manager

    # The logs: JSON lines, and no customer's data in them.
    for process in (system.intake, system.manager):
        lines = (process.logs / f"{process.name}.log").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        assert {r["service"] for r in records} == {process.name}
        text = "\n".join(lines).lower()
        assert booking_id.lower() + "@example.de" not in text
        assert "lorenz" not in text


async def metrics(http: httpx.AsyncClient, base: str) -> dict[tuple[str, str], float]:
    """Samples by (name, topic); summed over the other labels."""
    found: dict[tuple[str, str], float] = {}
    body = (await http.get(f"{base}/metrics", follow_redirects=True)).text
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            key = (sample.name, sample.labels.get("topic", ""))
            found[key] = found.get(key, 0.0) + sample.value
    return found


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
async def test_lead_manager_stopped_mid_stream_loses_nothing_and_doubles_nothing(
    system: LeadSystem, kafka_bootstrap_servers: str, database_urls: dict[str, str], stop: str
) -> None:
    """SIGKILL: nothing runs on the way out. SIGTERM: the batch in hand is finished and
    committed, the process exits within its grace period, and nothing is redone."""
    total = 1000
    prefix = f"KILL-{system.run_id}-"
    ids = [f"{prefix}{n:04d}" for n in range(total)]
    lead_keys = {str(lead_id_for(i)).encode() for i in ids}
    engine = make_engine(database_urls["lead-manager"], pool_size=2)

    async def leads_stored() -> int:
        async with engine.connect() as conn:
            n = await conn.scalar(
                select(func.count()).select_from(leads).where(leads.c.booking_id.like(f"{prefix}%"))
            )
        return int(n or 0)

    # The first part streams in while the process is stopped; the rest arrives only while
    # it is down, so the stop always falls mid-stream.
    first, rest = ids[: total * 3 // 5], ids[total * 3 // 5 :]
    async with TopicTail(kafka_bootstrap_servers, LEAD_EVENTS.name) as tail:
        sending = asyncio.create_task(send_bookings(kafka_bootstrap_servers, first, per_second=250))
        async with asyncio.timeout(60):
            while await leads_stored() < 150:
                await asyncio.sleep(0.02)
        if stop == "SIGKILL":
            system.manager.kill()
        else:
            # Stopped by itself within the grace period (stop() SIGKILLs after the timeout,
            # which gives -9); uvicorn re-raises SIGTERM after its clean shutdown, hence -15.
            assert system.manager.stop(timeout=30) in (0, -signal.SIGTERM)
            log = (system.manager.logs / "lead-manager.log").read_text()
            assert "Application shutdown complete." in log  # the lifespan drained and closed
        killed_at = await leads_stored()
        await sending
        await send_bookings(kafka_bootstrap_servers, rest, per_second=1000)
        await system.manager.start()
        async with asyncio.timeout(120):
            while await leads_stored() < total:
                await asyncio.sleep(0.1)
        await tail.wait_for(
            lambda r: r.key in lead_keys and header(r, "ce_type") == LeadCreated.cloudevents_type(),
            count=total,
            timeout=60,
        )
        # Every outbox row of the run is marked published, so every send (a repeat after the
        # kill included) is done; the tail then reads up to the topic's end.
        await wait_outbox_drained(database_urls["lead-manager"], lead_keys)
        await tail.caught_up()

    assert 0 < killed_at < total
    assert await leads_stored() == total
    async with engine.connect() as conn:
        lead_ids = select(leads.c.id).where(leads.c.booking_id.like(f"{prefix}%"))
        history = await conn.scalar(
            select(func.count())
            .select_from(lead_history)
            .where(lead_history.c.lead_id.in_(lead_ids), lead_history.c.action == "created")
        )
        outbox_rows = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.key.in_(list(lead_keys)))
        )
    await engine.dispose()
    assert history == total, "a lead was created twice"
    assert outbox_rows == total, "a LeadCreated was written twice"
    created = tail.matching(
        lambda r: r.key in lead_keys and header(r, "ce_type") == LeadCreated.cloudevents_type()
    )
    event_ids_per_lead: dict[bytes, set[str]] = {}
    for record in created:
        event = decode(record.headers, record.value, record.key)
        assert isinstance(event.message, LeadCreated)
        event_ids_per_lead.setdefault(record.key, set()).add(event.id)
    assert set(event_ids_per_lead) == lead_keys, "a LeadCreated was never published"
    assert all(len(v) == 1 for v in event_ids_per_lead.values()), "two different LeadCreated events"
    # Records repeated by the relay after the kill carry the same event id (deduplicated by
    # consumers); count them so the run shows the window.
    if stop == "SIGTERM":
        # A clean stop leaves nothing to replay: each LeadCreated is on the topic once.
        assert len(created) == total
    print(f"{stop}: LeadCreated records {len(created)} for {total} leads; stopped at {killed_at}")


async def test_lead_intake_stopped_with_sigterm_mid_stream_loses_nothing_and_doubles_nothing(
    system: LeadSystem, kafka_bootstrap_servers: str
) -> None:
    """lead-intake drains the batch in hand, commits after its lead requests are on the
    broker, exits in its grace period; after the restart every booking has exactly one."""
    total = 1000
    prefix = f"TERM-{system.run_id}-"
    ids = [f"{prefix}{n:04d}" for n in range(total)]
    keys = {str(lead_id_for(i)).encode() for i in ids}

    def requested() -> list[Any]:
        return tail.matching(lambda r: r.key in keys)

    first, rest = ids[: total * 3 // 5], ids[total * 3 // 5 :]
    async with TopicTail(kafka_bootstrap_servers, LEAD_REQUESTS.name) as tail:
        sending = asyncio.create_task(send_bookings(kafka_bootstrap_servers, first, per_second=250))
        async with asyncio.timeout(60):
            while len(requested()) < 150:
                await asyncio.sleep(0.02)
        # Stopped by itself within the grace period (-9 after the timeout would fail here).
        assert system.intake.stop(timeout=30) in (0, -signal.SIGTERM)
        log = (system.intake.logs / "lead-intake.log").read_text()
        assert "Application shutdown complete." in log
        at_stop = len(requested())
        await sending
        await send_bookings(kafka_bootstrap_servers, rest, per_second=1000)  # while it is down
        await system.intake.start()
        await tail.wait_for(lambda r: r.key in keys, count=total, timeout=120)
        # lead-intake commits a booking after its lead request is on the broker: with its
        # group at the end of the bookings, every request it will send is sent.
        await wait_group_caught_up(
            kafka_bootstrap_servers, f"intake-{system.run_id}", [PORTAL_BOOKINGS.name]
        )
        await tail.caught_up()
        records = requested()
    assert {r.key for r in records} == keys, "a booking got no lead request"
    assert len(records) == total, f"{len(records) - total} lead requests sent twice"
    print(f"SIGTERM lead-intake: {at_stop} of {total} lead requests out when it stopped")
