from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lead_intake.domain.validation import Branch, lead_id_for
from lead_intake.service.intake import process_batch
from osb_contracts import decode, encode
from osb_contracts.leads import LeadRequested
from osb_contracts.portal import BookingSubmitted, PortalCustomer

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
BRANCHES = {"HH-01": Branch("HH-01")}


@dataclass
class FakeRecord:
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    key: bytes | None = b"k"
    topic: str = "osb.portal.bookings.v1"
    partition: int = 0
    offset: int = 0


def record_of(message: BookingSubmitted, offset: int = 0) -> FakeRecord:
    r = encode(message, key=message.booking_id, source="/portal", event_id=f"evt-{offset}")
    return FakeRecord(r.value, r.header_list, r.key, offset=offset)


def booking(
    booking_id: str, email: str = "kunde@example.de", branch_id: str = "HH-01"
) -> BookingSubmitted:
    return BookingSubmitted(
        booking_id=booking_id,
        branch_id=branch_id,
        submitted_at=NOW,
        requested_start=NOW + timedelta(days=1),
        customer=PortalCustomer(last_name="Kunde", email=email),
    )


def test_valid_and_invalid_records_are_split_in_order() -> None:
    records = [
        record_of(booking("B-1"), 0),
        record_of(booking("B-2", branch_id="XX-99"), 1),
        FakeRecord(b"not json at all", [("ce_type", b"x")], offset=2),
        record_of(booking("B-3"), 3),
    ]
    result = process_batch(records, clock=lambda: NOW, branches=BRANCHES)
    leads: list[LeadRequested] = [
        decode(o.record.headers, o.record.value).message for o in result.outgoing
    ]
    assert [type(m) for m in leads] == [LeadRequested, LeadRequested]
    assert [m.booking_id for m in leads] == ["B-1", "B-3"]
    assert [o.record.key for o in result.outgoing] == [
        str(lead_id_for("B-1")).encode(),
        str(lead_id_for("B-3")).encode(),
    ]
    assert [d.offset for d in result.dead_letters] == [1, 2]
    assert result.dead_letters[0].reason == "invalid booking"
    assert result.dead_letters[1].reason.startswith("invalid CloudEvents headers")
    assert result.dead_letters[0].errors[0][0] == "branch_id"
    # The reasons travel as JSON in the dead letter's headers.
    assert json.loads(json.dumps(result.dead_letters[0].errors)) == [
        list(e) for e in result.dead_letters[0].errors
    ]


def test_a_redelivered_booking_yields_the_same_event() -> None:
    first = process_batch([record_of(booking("B-1"))], clock=lambda: NOW, branches=BRANCHES)
    again = process_batch([record_of(booking("B-1"))], clock=lambda: NOW, branches=BRANCHES)
    assert first.outgoing[0].record.headers["ce_id"] == again.outgoing[0].record.headers["ce_id"]
    assert first.outgoing[0].record.key == again.outgoing[0].record.key
