"""`osb` against the real broker: tail, dead letters, publishing as the portal and the DMS."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from osb_cli import kafka_ops
from osb_cli.main import app
from osb_contracts.topics import DMS_APPOINTMENTS, PORTAL_BOOKINGS
from osb_platform import DeadLetter, Producer
from typer.testing import CliRunner

pytestmark = pytest.mark.integration


def osb(bootstrap: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(
        app,
        list(args),
        env={"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "COLUMNS": "250", **(env or {})},
    )
    assert result.exit_code == 0, result.output
    return result.output


def booking_file(tmp_path: Path, booking_id: str) -> Path:
    start = datetime.now(UTC) + timedelta(days=5)
    path = tmp_path / "booking.json"
    path.write_text(
        json.dumps(
            {
                "booking_id": booking_id,
                "branch_id": "HH-01",
                "submitted_at": datetime.now(UTC).isoformat(),
                "requested_start": start.isoformat(),
                "customer": {"first_name": "Ole", "last_name": "Olsen", "email": "ole@example.de"},
            }
        )
    )
    return path


def test_publish_a_booking_from_a_file_and_tail_it(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    booking_id = f"CLI-{uuid.uuid4().hex[:8]}"
    out = osb(kafka_bootstrap_servers, "publish-booking", str(booking_file(tmp_path, booking_id)))
    assert f"published booking {booking_id}" in out

    # The key is the booking id, so it is the last record of its partition.
    shown = osb(kafka_bootstrap_servers, "tail", PORTAL_BOOKINGS.name, "--last", "1", "--no-follow")
    assert f'"booking_id": "{booking_id}"' in shown
    assert "ce_type: osb.portal.BookingSubmitted.v1" in shown
    assert "ce_source: /osb-cli/portal" in shown


def test_an_invalid_booking_file_is_refused_field_by_field(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"booking_id": "X", "branch_id": "HH 01"}))
    result = CliRunner().invoke(
        app,
        ["publish-booking", str(path)],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers},
    )
    assert result.exit_code == 2
    assert "branch_id" in result.output
    assert "customer: Field required" in result.output


@pytest.mark.parametrize(
    ("command", "event"),
    [("delete-appointment", "AppointmentDeleted"), ("customer-arrived", "CustomerArrived")],
)
def test_delete_an_appointment_or_check_its_customer_in_as_the_dms_would(
    kafka_bootstrap_servers: str, command: str, event: str
) -> None:
    appointment = uuid.uuid4()
    out = osb(kafka_bootstrap_servers, command, str(appointment), "--branch", "HH-01")
    assert f"{event} for {appointment}" in out
    shown = osb(
        kafka_bootstrap_servers, "tail", DMS_APPOINTMENTS.name, "--last", "3", "--no-follow"
    )
    assert f'"appointment_id": "{appointment}"' in shown
    assert f"ce_type: osb.dms.{event}.v1" in shown


async def _dead_letter(bootstrap: str, value: bytes) -> None:
    producer = Producer(bootstrap, client_id="test-cli")
    await producer.start()
    try:
        letter = DeadLetter(
            PORTAL_BOOKINGS.name,
            0,
            41,
            b"CLI-KEY",
            value,
            [("ce_type", b"osb.portal.BookingSubmitted.v1")],
            "the booking is invalid",
            [("customer.email", "not an e-mail address")],
        )
        await producer.dead_letter([letter], service="lead-intake")
    finally:
        await producer.stop()


def test_list_show_and_replay_a_dead_letter(kafka_bootstrap_servers: str) -> None:
    marker = f"cli-{uuid.uuid4().hex}".encode()
    asyncio.run(_dead_letter(kafka_bootstrap_servers, marker))
    (letter,) = [
        r
        for r in asyncio.run(kafka_ops.dead_letters(kafka_bootstrap_servers, PORTAL_BOOKINGS.name))
        if r.value == marker
    ]

    listed = osb(kafka_bootstrap_servers, "dlq", "list", PORTAL_BOOKINGS.name)
    assert "the booking is invalid" in listed
    assert f"{PORTAL_BOOKINGS.name}[0]@41" in listed
    # when it expires: the dead-letter topic's retention after it was written
    expires = datetime.fromtimestamp(letter.timestamp / 1000, UTC) + timedelta(days=30)
    assert expires.isoformat(timespec="seconds") in listed.replace("\n", "")
    assert "each expires after 30 days" in listed

    where = ["--partition", str(letter.partition), "--offset", str(letter.offset)]
    shown = osb(kafka_bootstrap_servers, "dlq", "show", PORTAL_BOOKINGS.dlq, *where)
    assert "not an e-mail address" in shown
    assert "osb_dlq_service: lead-intake" in shown

    replayed = osb(kafka_bootstrap_servers, "dlq", "replay", PORTAL_BOOKINGS.name, *where)
    assert "replayed" in replayed
    back = [
        r
        for r in asyncio.run(_last(kafka_bootstrap_servers, PORTAL_BOOKINGS.name))
        if r.value == marker
    ]
    assert len(back) == 1
    names = [k for k, _ in back[0].headers]
    assert names == ["ce_type"], "the dead-letter headers are gone, the original ones kept"
    assert back[0].key == b"CLI-KEY"


async def _last(bootstrap: str, topic: str) -> list[kafka_ops.Record]:
    return [r async for r in kafka_ops.read(bootstrap, topic, last=5)]


async def _commit_at_start(bootstrap: str, group: str) -> int:
    """A group that committed offset 0 on every partition of the portal topic: its lag."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        tps = [TopicPartition(PORTAL_BOOKINGS.name, p) for p in range(PORTAL_BOOKINGS.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        await consumer.commit({tp: begins[tp] for tp in tps})
        return sum(ends[tp] - begins[tp] for tp in tps)
    finally:
        await consumer.stop()


def test_topics_show_partitions_and_consumer_lag(kafka_bootstrap_servers: str) -> None:
    group = f"cli-lag-{uuid.uuid4().hex[:8]}"
    lag = asyncio.run(_commit_at_start(kafka_bootstrap_servers, group))
    assert lag > 0
    out = osb(kafka_bootstrap_servers, "topics", "--group", group, "--groups")
    row = next(line for line in out.splitlines() if PORTAL_BOOKINGS.name + " " in line)
    assert f" {PORTAL_BOOKINGS.partitions} " in row
    assert f"{group} ({lag:,})" in row
    everything = osb(kafka_bootstrap_servers, "topics")
    assert all(name in everything for name in (PORTAL_BOOKINGS.name, DMS_APPOINTMENTS.dlq))


def test_a_local_token_for_the_page(kafka_bootstrap_servers: str) -> None:
    secret = "cli-test-secret-of-at-least-32-characters"
    out = osb(
        kafka_bootstrap_servers,
        "token",
        "--branch",
        "M-01",
        env={"LEAD_MANAGER_JWT_SECRET": secret},
    )
    claims = jwt.decode(out.strip(), secret, algorithms=["HS256"], issuer="osb-lead-manager")
    assert claims["branches"] == {"M-01": ["LEAD_MANAGER"]}
