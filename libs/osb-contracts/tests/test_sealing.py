"""The lead events' personal fields sealed with the lead's key (crypto-shredding)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from osb_contracts import ContractError, Message, decode, encode, opened
from osb_contracts.leads import (
    ERASED,
    AppointmentCreated,
    AppointmentOffered,
    AppointmentWarning,
    CustomerChoice,
    LeadAnonymised,
    LeadCreated,
    LeadRejected,
    LeadReminderDue,
    LeadRescheduleRequested,
    LeadUpdated,
    OfferedTime,
    Unusable,
    UnusableValue,
    VehicleCase,
)
from osb_contracts.sealing import new_key
from osb_contracts.topics import LEAD_EVENTS, key_of
from osb_contracts.values import (
    Address,
    Channel,
    ConfirmationChannel,
    Customer,
    LeadStatus,
    Vehicle,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
LEAD = UUID("5d0f1e0a-7c1b-4a55-9d0e-6a3f3c2b1a00")
# what the person is found by: none of it may be readable in a sealed record
PERSON = ("Brunhilde", "Vogelsang", "vogelsang@example.de", "+4915112345678", "WVWZZZ1JZXW000001")
CUSTOMER = Customer(
    first_name="Brunhilde",
    last_name="Vogelsang",
    email="vogelsang@example.de",
    mobile="+4915112345678",
    birth_date=date(1971, 5, 4),
    address=Address(street="Lindenallee", house_number="7", postcode="20259", city="Hamburg"),
)
VEHICLE = Vehicle(vin="WVWZZZ1JZXW000001", licence_plate="HH-BV 71", make="VW", model="Golf")
IDS = {"lead_id": LEAD, "booking_id": "B-1", "branch_id": "HH-01"}


def personal_messages() -> list[Message]:
    """One of each lead event with personal fields, every such field filled."""
    return [
        LeadCreated(
            **IDS,
            created_at=NOW,
            requested_start=NOW,
            customer=CUSTOMER,
            vehicle=VEHICLE,
            unusable=(
                UnusableValue(
                    field="customer.phone", value="Vogelsang 0151", code=Unusable.PHONE_INVALID
                ),
            ),
        ),
        LeadUpdated(
            lead_id=LEAD,
            branch_id="HH-01",
            status=LeadStatus.NEW,
            updated_by="anna",
            updated_at=NOW,
            changed_fields=("customer.email",),
            customer=CUSTOMER,
            vehicle=VEHICLE,
        ),
        LeadRejected(
            **IDS,
            rejected_by="anna",
            rejected_at=NOW,
            channel=Channel.EMAIL,
            recipient="vogelsang@example.de",
            subject="Ihre Anfrage, Frau Vogelsang",
            text="Sehr geehrte Frau Brunhilde Vogelsang, leider ...",
            customer=CUSTOMER,
        ),
        AppointmentCreated(
            **IDS,
            appointment_id=uuid4(),
            start=NOW,
            end=NOW + timedelta(hours=1),
            acceptor="anna",
            customer_number="K-4711",
            customer_choice=CustomerChoice.EXISTING,
            customer=CUSTOMER,
            vehicle=VEHICLE,
            vehicle_case=VehicleCase.OWNED_BY_CUSTOMER,
            warnings=(AppointmentWarning(code="PLATE", message="HH-BV 71 statt HH-BV 17"),),
            confirmation=ConfirmationChannel.SMS,
            recipient="+4915112345678",
            created_by="anna",
            created_at=NOW,
        ),
        LeadReminderDue(
            **IDS,
            reminder_id=uuid4(),
            appointment_id=uuid4(),
            start=NOW,
            end=NOW + timedelta(hours=1),
            channel=Channel.EMAIL,
            recipient="vogelsang@example.de",
            customer=CUSTOMER,
            vehicle=VEHICLE,
            due_at=NOW,
        ),
        AppointmentOffered(
            **IDS,
            offer_id=uuid4(),
            times=(OfferedTime(start=NOW, end=NOW + timedelta(hours=1)),),
            respond_by=NOW,
            channel=Channel.SMS,
            recipient="+4915112345678",
            customer=CUSTOMER,
            vehicle=VEHICLE,
            offered_by="anna",
            offered_at=NOW,
        ),
        LeadRescheduleRequested(
            **IDS,
            appointment_id=uuid4(),
            requested_start=NOW,
            note="Frau Vogelsang kann erst um 10",
            requested_at=NOW,
        ),
    ]


def test_every_lead_event_with_personal_fields_is_covered_here() -> None:
    marked = {m for m in LEAD_EVENTS.messages if m.personal}
    assert marked == {type(m) for m in personal_messages()}
    # the event that tells of an erasure carries nothing the erasure removed
    assert LeadAnonymised.personal == {}


@pytest.mark.parametrize("message", personal_messages(), ids=lambda m: type(m).__name__)
def test_a_sealed_event_holds_nothing_of_the_person_and_opens_with_the_lead_s_key(
    message: Message,
) -> None:
    key = new_key()
    record = encode(message, key=key_of(message), source="/t", time=NOW, seal_key=key)
    readable = (record.value + json.dumps(record.headers).encode()).decode().lower()
    assert not [p for p in PERSON if p.lower() in readable]
    assert "vogelsang" not in readable
    plain = encode(message, key=key_of(message), source="/t", time=NOW)
    assert "vogelsang" in plain.value.decode().lower()  # the test's person is in the fields

    envelope = decode(record.header_list, record.value, record.key)
    assert envelope.sealed is not None
    # without the key every personal field reads as erased, the others as sent
    for name, erased in type(message).personal.items():
        assert getattr(envelope.message, name) == erased
    for name in type(message).model_fields.keys() - type(message).personal.keys():
        assert getattr(envelope.message, name) == getattr(message, name)

    back = opened(envelope, key)
    assert back.sealed is None
    assert back.message == message


def test_a_box_does_not_open_with_another_key_nor_moved_to_another_lead() -> None:
    message = personal_messages()[2]
    key = new_key()
    record = encode(message, key=str(LEAD), source="/t", seal_key=key)
    with pytest.raises(ContractError, match="do not open"):
        opened(decode(record.header_list, record.value, record.key), new_key())
    moved = decode(record.header_list, record.value, str(uuid4()).encode())
    with pytest.raises(ContractError, match="do not open"):
        opened(moved, key)


def test_a_message_without_personal_fields_is_not_sealed_and_old_records_read_as_before() -> None:
    anonymised = LeadAnonymised(
        lead_id=LEAD,
        branch_id="HH-01",
        status=LeadStatus.REJECTED,
        by="ERASURE",
        customer_numbers=("K-4711",),
        anonymised_at=NOW,
    )
    record = encode(anonymised, key=str(LEAD), source="/t", seal_key=new_key())
    assert "ce_osbsealed" not in record.headers
    assert decode(record.header_list, record.value, record.key).message == anonymised
    unsealed = personal_messages()[0]
    plain = encode(unsealed, key=str(LEAD), source="/t")
    envelope = decode(plain.header_list, plain.value, plain.key)
    assert envelope.sealed is None
    assert envelope.message == unsealed


def test_a_record_that_says_it_is_sealed_and_is_not_is_refused() -> None:
    record = encode(personal_messages()[0], key=str(LEAD), source="/t")
    headers = [*record.header_list, ("ce_osbsealed", b"A256GCM")]
    with pytest.raises(ContractError, match="invalid sealed"):
        decode(headers, record.value, record.key)


def test_the_cloudevents_sdk_reads_a_sealed_record() -> None:
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat

    message = personal_messages()[0]
    record = encode(message, key=str(LEAD), source="/t", time=NOW, seal_key=new_key())
    event = ce_kafka.from_binary(
        ce_kafka.KafkaMessage(
            {k: v.encode() for k, v in record.headers.items()}, record.key, record.value
        ),
        JSONFormat(),
    )
    assert event.get_extension("osbsealed") == "A256GCM"
    data = event.get_data()
    assert isinstance(data, dict)
    assert data["lead_id"] == str(LEAD)
    assert ERASED not in json.dumps(data)  # erased values are the reader's, not sent
