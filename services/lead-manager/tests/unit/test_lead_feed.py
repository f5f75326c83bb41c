"""What the live pages learn of a lead event: sealed ones without a key, anonymised leads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from lead_manager.adapters.lead_feed import lead_change
from osb_contracts import Message, encode
from osb_contracts.leads import AnonymisedBy, LeadAnonymised, LeadCreated
from osb_contracts.sealing import new_key
from osb_contracts.values import Customer, LeadStatus

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
LEAD = uuid.UUID(int=7)


def record(message: Message, *, seal: bool = False) -> ConsumerRecord[bytes, bytes]:
    sent = encode(message, key=str(LEAD), source="/t", seal_key=new_key() if seal else None)
    return ConsumerRecord(
        "osb.lead.events.v1", 2, 41, 0, 0, sent.key, sent.value, None, 0, 0, sent.header_list
    )


def test_a_sealed_event_reaches_the_pages_without_a_key() -> None:
    created = LeadCreated(
        lead_id=LEAD,
        booking_id="B-1",
        branch_id="HH-01",
        created_at=NOW,
        requested_start=NOW,
        customer=Customer(last_name="Vogelsang", email="vogelsang@example.de"),
    )
    change = lead_change(record(created, seal=True))
    assert change is not None
    assert (change.lead_id, change.kind, change.status) == (str(LEAD), "LeadCreated", "NEW")


def test_an_anonymised_lead_is_a_change_the_pages_show_at_once() -> None:
    anonymised = LeadAnonymised(
        lead_id=LEAD,
        branch_id="HH-01",
        status=LeadStatus.CANCELLED,
        by=AnonymisedBy.ERASURE,
        anonymised_at=NOW,
    )
    change = lead_change(record(anonymised))
    assert change is not None
    assert (change.kind, change.status, change.branch_id) == (
        "LeadAnonymised",
        "CANCELLED",
        "HH-01",
    )
    assert (change.partition, change.offset) == (2, 41)
