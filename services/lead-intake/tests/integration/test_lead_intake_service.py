"""lead-intake on the real broker and database: subscriber, dead letters, HTTP endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from lead_intake.domain.validation import lead_id_for
from lead_intake.entrypoints.app import create_app
from lead_intake.settings import Settings
from osb_contracts import Envelope, decode, encode
from osb_contracts.leads import LeadRequested
from osb_contracts.portal import BookingSubmitted, PortalCustomer, PortalVehicle
from osb_contracts.topics import LEAD_REQUESTS, PORTAL_BOOKINGS
from osb_platform import make_broker, publish
from osb_testing.fuzz import RECORDS, drawn, records
from osb_testing.kafka import TopicTail, header, move_group_to_end

pytestmark = pytest.mark.integration


def booking(booking_id: str, **customer: str) -> BookingSubmitted:
    now = datetime.now(UTC)
    return BookingSubmitted(
        booking_id=booking_id,
        branch_id="HH-01",
        submitted_at=now,
        requested_start=now + timedelta(days=5),
        customer=PortalCustomer(
            last_name=customer.get("last_name", "Schäfer"),
            email=customer.get("email", "schaefer@example.de"),
        ),
        vehicle=PortalVehicle(licence_plate="HH-OS 42"),
    )


@pytest.fixture
async def client(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    group = f"lead-intake-test-{uuid.uuid4().hex[:8]}"
    await move_group_to_end(kafka_bootstrap_servers, group, [PORTAL_BOOKINGS.name])
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_urls["lead-intake"],
        consumer_group=group,
        max_body_bytes=8 * 1024,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield http


@asynccontextmanager
async def portal_and_tail(bootstrap: str) -> AsyncIterator[tuple[AIOKafkaProducer, TopicTail]]:
    """A raw producer on the portal topic (any bytes, any headers) and a tail of what the
    service makes of it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        async with TopicTail(bootstrap, LEAD_REQUESTS.name, PORTAL_BOOKINGS.dlq) as tail:
            yield producer, tail
    finally:
        await producer.stop()


def lead_request_for(booking_id: str):  # type: ignore[no-untyped-def]
    key = str(lead_id_for(booking_id)).encode()
    return lambda r: r.topic == LEAD_REQUESTS.name and r.key == key


async def test_portal_bookings_become_lead_requests_and_bad_ones_dead_letters(
    client: httpx.AsyncClient, kafka_bootstrap_servers: str
) -> None:
    run = uuid.uuid4().hex[:8]
    good, bad, after = f"OK-{run}", f"BAD-{run}", f"AFTER-{run}"
    producer = make_broker(kafka_bootstrap_servers, client_id="portal-simulator")
    await producer.start()
    dlq = PORTAL_BOOKINGS.dlq
    async with TopicTail(kafka_bootstrap_servers, LEAD_REQUESTS.name, dlq) as tail:
        for message in (booking(good), booking(bad, last_name=" "), booking(after)):
            await publish(
                producer,
                message,
                topic=PORTAL_BOOKINGS,
                key=message.booking_id,
                source="/portal",
                event_id=f"evt-{message.booking_id}",
            )
        # The same record delivered again (the portal retried): the same event, the same lead.
        await publish(
            producer,
            booking(good),
            topic=PORTAL_BOOKINGS,
            key=good,
            source="/portal",
            event_id=f"evt-{good}",
        )
        await producer.publish(
            b"{broken", PORTAL_BOOKINGS.name, key=b"garbage", headers={"ce_specversion": "1.0"}
        )
        requests = await tail.wait_for(lead_request_for(good), count=2)
        await tail.wait_for(lead_request_for(after))
        letters = await tail.wait_for(
            lambda r: r.topic == dlq and r.key in (bad.encode(), b"garbage"), count=2
        )
    await producer.stop()

    envelopes: list[Envelope[LeadRequested]] = [decode(r.headers, r.value, r.key) for r in requests]
    assert all(isinstance(e.message, LeadRequested) for e in envelopes)
    assert envelopes[0].id == envelopes[1].id
    assert envelopes[0].message.lead_id == lead_id_for(good)
    assert envelopes[0].message.customer.email == "schaefer@example.de"
    assert envelopes[0].causation_id == f"evt-{good}"

    invalid = next(r for r in letters if r.key == bad.encode())
    assert header(invalid, "osb_dlq_reason") == "invalid booking"
    assert header(invalid, "osb_dlq_service") == "lead-intake"
    assert header(invalid, "osb_dlq_topic") == PORTAL_BOOKINGS.name
    assert header(invalid, "osb_dlq_offset") is not None
    errors = json.loads(header(invalid, "osb_dlq_errors") or "[]")
    assert [e["field"] for e in errors] == ["customer.last_name"]
    assert BookingSubmitted.model_validate_json(invalid.value).booking_id == bad  # kept as sent
    garbage = next(r for r in letters if r.key == b"garbage")
    assert "CloudEvents" in (header(garbage, "osb_dlq_reason") or "")


async def test_http_booking_is_accepted_once_per_idempotency_key(
    client: httpx.AsyncClient, kafka_bootstrap_servers: str
) -> None:
    booking_id = f"HTTP-{uuid.uuid4().hex[:8]}"
    body = booking(booking_id).model_dump(mode="json")
    key = {"Idempotency-Key": f"key-{booking_id}"}
    async with TopicTail(kafka_bootstrap_servers, LEAD_REQUESTS.name) as tail:
        first = await client.post("/api/v1/bookings", json=body, headers=key)
        assert first.status_code == 202, first.text
        assert "Idempotent-Replayed" not in first.headers  # the first answer is no replay
        assert first.json() == {
            "booking_reference": booking_id,
            "lead_id": str(lead_id_for(booking_id)),
            "status": "accepted",
        }
        retry = await client.post("/api/v1/bookings", json=body, headers=key)
        assert retry.status_code == 202
        assert retry.json() == first.json()
        assert retry.headers["Idempotent-Replayed"] == "true"
        await tail.wait_for(lead_request_for(booking_id))
        await tail.caught_up()  # both answers came after the sends: a duplicate is in by now
        assert len(tail.matching(lead_request_for(booking_id))) == 1

    other = {**body, "comment": "another request"}
    reused = await client.post("/api/v1/bookings", json=other, headers=key)
    assert reused.status_code == 409
    assert reused.json()["errors"] == [
        {"field": "Idempotency-Key", "reason": "already used for a different request"}
    ]


async def test_http_bad_input_names_the_fields(client: httpx.AsyncClient) -> None:
    body = booking(f"BAD-{uuid.uuid4().hex[:8]}", last_name=" ").model_dump(mode="json")
    response = await client.post("/api/v1/bookings", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["customer.last_name"]
    # a bad optional field is no reason to refuse: the booking is accepted
    kept = booking(f"KEPT-{uuid.uuid4().hex[:8]}", email="nope").model_dump(mode="json")
    assert (await client.post("/api/v1/bookings", json=kept)).status_code == 202

    del body["customer"]["last_name"]
    body["surprise"] = 1
    response = await client.post("/api/v1/bookings", json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"customer.last_name", "surprise"}

    huge = {**booking("B-huge").model_dump(mode="json"), "comment": "x" * 9000}
    response = await client.post("/api/v1/bookings", json=huge)
    assert response.status_code == 413


async def test_a_character_no_store_can_hold_is_refused_and_a_line_break_folded(
    client: httpx.AsyncClient, kafka_bootstrap_servers: str
) -> None:
    body = booking(f"NUL-{uuid.uuid4().hex[:8]}").model_dump(mode="json")
    body["customer"]["last_name"] = "Nul\u0000byte"
    refused = await client.post("/api/v1/bookings", json=body)
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["errors"]
    assert error["field"] == "customer.last_name"
    assert "U+0000 at position 4" in error["reason"]

    pasted = booking(f"TAB-{uuid.uuid4().hex[:8]}").model_dump(mode="json")
    pasted["customer"]["first_name"] = "Jürgen\tKarl"
    pasted["customer"]["address"] = {"street": "Große\r\nStraße", "city": "Hamburg"}
    async with TopicTail(kafka_bootstrap_servers, LEAD_REQUESTS.name) as tail:
        accepted = await client.post("/api/v1/bookings", json=pasted)
        assert accepted.status_code == 202, accepted.text
        (record,) = await tail.wait_for(lead_request_for(pasted["booking_id"]))
    lead = decode(record.headers, record.value, record.key).message
    assert lead.customer.first_name == "Jürgen Karl"
    assert lead.customer.address.street == "Große Straße"


async def test_a_nul_on_the_kafka_intake_is_a_dead_letter_naming_the_field(
    client: httpx.AsyncClient, kafka_bootstrap_servers: str
) -> None:
    run = uuid.uuid4().hex[:8]
    poisoned = booking(f"NUL-{run}").model_dump(mode="json")
    poisoned["customer"]["last_name"] = "Nul\u0000byte"
    record = encode(booking(f"NUL-{run}"), key=f"NUL-{run}", source="/portal")
    async with portal_and_tail(kafka_bootstrap_servers) as (producer, tail):
        await producer.send_and_wait(
            PORTAL_BOOKINGS.name,
            json.dumps(poisoned).encode(),
            key=f"NUL-{run}".encode(),
            headers=record.header_list,
        )
        after = booking(f"AFTER-{run}")
        r = encode(after, key=after.booking_id, source="/portal")
        await producer.send_and_wait(
            PORTAL_BOOKINGS.name, r.value, key=r.key, headers=r.header_list
        )
        (letter,) = await tail.wait_for(
            lambda x: x.topic == PORTAL_BOOKINGS.dlq and x.key == f"NUL-{run}".encode()
        )
        await tail.wait_for(lead_request_for(after.booking_id))
    errors = json.loads(header(letter, "osb_dlq_errors") or "[]")
    assert [e["field"] for e in errors] == ["customer.last_name"]
    assert "U+0000" in errors[0]["reason"]


@pytest.mark.fuzz
async def test_every_portal_record_becomes_a_lead_request_or_a_dead_letter(
    client: httpx.AsyncClient, kafka_bootstrap_servers: str
) -> None:
    """Records drawn at random (Hypothesis) on one partition, then a valid booking: each one
    is a lead request (caused by its event id) or a dead letter, and the last one gets
    through."""
    template = booking(f"FZ-{uuid.uuid4().hex[:8]}")
    valid = encode(template, key=template.booking_id, source="/portal")
    fuzzed = drawn(records(json.loads(valid.value), valid.header_list), RECORDS)
    key = f"fuzz-{uuid.uuid4().hex[:8]}"
    async with portal_and_tail(kafka_bootstrap_servers) as (producer, tail):
        sent = []
        for i, (value, drawn_headers) in enumerate(fuzzed):
            # each its own event id, so its lead request can be told from the others'
            headers = [(k, v) for k, v in drawn_headers if k != "ce_id"]
            headers.append(("ce_id", f"fz-{key}-{i}".encode()))
            sent.append(
                await producer.send_and_wait(
                    PORTAL_BOOKINGS.name, value, key=key.encode(), headers=headers
                )
            )
        last = booking(f"LAST-{key}")
        r = encode(last, key=key, source="/portal")
        await producer.send_and_wait(
            PORTAL_BOOKINGS.name, r.value, key=key.encode(), headers=r.header_list
        )
        await tail.wait_for(lead_request_for(last.booking_id))
        await tail.caught_up()
    letters = {
        header(x, "osb_dlq_offset")
        for x in tail.matching(lambda x: x.topic == PORTAL_BOOKINGS.dlq and x.key == key.encode())
    }
    causes = {
        header(x, "ce_causationid") for x in tail.matching(lambda x: x.topic == LEAD_REQUESTS.name)
    }
    for i, meta in enumerate(sent):
        handled = f"fz-{key}-{i}" in causes
        dead = str(meta.offset) in letters
        assert handled != dead, (i, fuzzed[i][0][:80], handled, dead)


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"checks": {"database": "ok", "kafka": "ok"}}
    metrics = await client.get("/metrics/")
    assert metrics.status_code == 200
    assert "python_gc_objects_collected_total" in metrics.text


async def test_a_record_with_unreadable_headers_is_dead_lettered_and_its_batch_survives(
    client: httpx.AsyncClient, kafka_bootstrap_servers: str
) -> None:
    run = uuid.uuid4().hex[:8]
    bad_key, good = f"BIN-{run}".encode(), f"GOOD-{run}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        async with TopicTail(
            kafka_bootstrap_servers, LEAD_REQUESTS.name, PORTAL_BOOKINGS.dlq
        ) as tail:
            record = encode(booking(good), key=good, source="/portal")
            headers = record.header_list
            # Sent together, fetched in one batch (a batch spans partitions): before the
            # tolerant parser, the bad header failed the batch and the good booking was lost.
            await producer.send(
                PORTAL_BOOKINGS.name,
                b"{}",
                key=bad_key,
                headers=[("ce_type", b"\xff\xfe"), ("x-binary", b"\xc3\x28")],
            )
            await producer.send(PORTAL_BOOKINGS.name, record.value, key=record.key, headers=headers)
            await producer.flush()
            await tail.wait_for(lead_request_for(good))
            (letter,) = await tail.wait_for(lambda r: r.key == bad_key)
    finally:
        await producer.stop()
    assert "CloudEvents" in (header(letter, "osb_dlq_reason") or "")
