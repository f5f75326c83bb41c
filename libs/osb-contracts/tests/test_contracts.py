from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import uuid4

import pytest
from osb_contracts import (
    TOPICS,
    ContractError,
    Envelope,
    all_topic_specs,
    decode,
    encode,
    one_line,
)
from osb_contracts._base import BIGINT_MAX, BIGINT_MIN, Contract
from osb_contracts.dms import CustomerMasterChanged, MasterChange
from osb_contracts.leads import LeadCreated, LeadRejected
from osb_contracts.portal import BookingSubmitted, PortalCustomer
from osb_contracts.schemas import breaking_changes, check, generate
from osb_contracts.topics import all_message_types
from osb_contracts.values import Channel, Customer
from pydantic import Field, ValidationError

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def booking(**overrides: object) -> BookingSubmitted:
    fields: dict[str, object] = {
        "booking_id": "B-1",
        "branch_id": "HH-01",
        "submitted_at": NOW,
        "requested_start": NOW + timedelta(days=2),
        "customer": PortalCustomer(first_name="Jürgen", last_name="Größmann"),
    }
    fields.update(overrides)
    return BookingSubmitted.model_validate(fields)


def test_messages_are_frozen_and_refuse_unknown_fields() -> None:
    message = booking()
    with pytest.raises(ValidationError):
        message.booking_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra_forbidden"):
        BookingSubmitted.model_validate({**message.model_dump(), "unexpected": 1})


def test_strings_are_bounded() -> None:
    with pytest.raises(ValidationError, match="at most 200 characters"):
        booking(customer=PortalCustomer(last_name="x" * 201))
    with pytest.raises(ValidationError, match="at most 4000 characters"):
        booking(comment="x" * 4001)


def test_lead_events_need_time_zones_and_valid_customer_data() -> None:
    customer = Customer(last_name="Meier", email="meier@example.de", phone="+4940123456")
    fields = {
        "lead_id": uuid4(),
        "booking_id": "B-1",
        "branch_id": "HH-01",
        "created_at": NOW,
        "requested_start": NOW,
        "customer": customer,
    }
    LeadCreated.model_validate(fields)
    with pytest.raises(ValidationError, match="time zone"):
        LeadCreated.model_validate({**fields, "created_at": NOW.replace(tzinfo=None)})
    with pytest.raises(ValidationError, match="phone"):
        Customer(last_name="Meier", phone="040 123456")
    with pytest.raises(ValidationError, match="email"):
        Customer(last_name="Meier", email="not-an-address")


def test_a_refusal_s_message_does_not_quote_what_it_refused() -> None:
    """A validation error is logged and kept with a dead letter: it names the field and
    the rule, not the customer's data (issue 19)."""
    with pytest.raises(ValidationError) as refused:
        Customer(last_name="Quappendorf", email="quappendorf@@example.de", phone="0151 9876")
    assert "quappendorf" not in str(refused.value).lower()
    assert "9876" not in str(refused.value)
    assert {e["loc"] for e in refused.value.errors()} == {("email",), ("phone",)}


def test_every_registry_message_has_one_home_and_a_dlq() -> None:
    types = all_message_types()
    assert len(types) == len(set(types)), "a message type is on two topics"
    names = [name for name, _, _ in all_topic_specs()]
    assert len(names) == len(set(names))
    for topic in TOPICS:
        assert topic.name.startswith("osb.")
        assert topic.name.endswith(".v1")
        if topic.has_dlq:
            assert topic.dlq in names
    lead_topics = [t for t in TOPICS if t.key == "lead_id"]
    assert all(t.partitions >= 3 for t in lead_topics)


def test_codec_round_trip_carries_cloudevents_attributes() -> None:
    message = booking()
    record = encode(message, key="B-1", source="/portal/hh", correlation_id="c-1", time=NOW)
    assert record.key == b"B-1"
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["ce_type"] == "osb.portal.BookingSubmitted.v1"
    assert record.headers["ce_source"] == "/portal/hh"
    assert record.headers["ce_time"] == "2026-11-26T09:30:00Z"
    assert record.headers["ce_correlationid"] == "c-1"
    assert record.headers["content-type"] == "application/json"
    headers = {k: v.encode() for k, v in record.headers.items()}
    envelope: Envelope[BookingSubmitted] = decode(headers, record.value, record.key)
    assert envelope.message == message
    assert envelope.id == record.headers["ce_id"]
    assert envelope.correlation_id == "c-1"
    assert envelope.time == NOW
    assert envelope.key == "B-1"


def test_codec_names_what_is_wrong() -> None:
    record = encode(booking(), key="B-1", source="/portal")
    missing = {k: v for k, v in record.headers.items() if k != "ce_source"}
    with pytest.raises(ContractError, match="CloudEvents headers"):
        decode(missing, record.value)

    unknown = {**record.headers, "ce_type": "osb.portal.BookingSubmitted.v9"}
    with pytest.raises(ContractError, match="unknown message type") as err:
        decode(unknown, record.value)
    assert err.value.errors == (("ce_type", "unknown type or version"),)

    broken = record.value.replace(b'"branch_id":"HH-01"', b'"branch_id":"HH 01!"')
    with pytest.raises(ContractError) as err:
        decode(record.headers, broken)
    assert [field for field, _ in err.value.errors] == ["branch_id"]

    with pytest.raises(ContractError, match="not expected here"):
        decode(record.headers, record.value, expect=LeadRejected)


def test_checked_in_schemas_match_the_code() -> None:
    assert check() == []


def test_schema_change_detection() -> None:
    old = generate(LeadRejected)
    added_optional = copy.deepcopy(old)
    added_optional["properties"]["note"] = {"type": "string"}
    assert breaking_changes(old, added_optional) == []

    removed = copy.deepcopy(old)
    del removed["properties"]["text"]
    assert breaking_changes(old, removed) == ["text: removed"]

    required = copy.deepcopy(added_optional)
    required["required"].append("note")
    assert breaking_changes(old, required) == ["note: newly required"]

    retyped = copy.deepcopy(old)
    retyped["properties"]["text"] = {"type": "integer"}
    assert breaking_changes(old, retyped) == ["text: type or constraints changed"]

    new_enum_value = copy.deepcopy(old)
    new_enum_value["$defs"]["Channel"]["enum"].append("LETTER")
    assert breaking_changes(old, new_enum_value) == []
    assert Channel.EMAIL in new_enum_value["$defs"]["Channel"]["enum"]


def test_the_cloudevents_sdk_reads_what_we_write() -> None:
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat

    record = encode(
        booking(), key="B-1", source="/portal", correlation_id="c-9", causation_id="e-1", time=NOW
    )
    message = ce_kafka.KafkaMessage(
        {k: v.encode() for k, v in record.headers.items()}, record.key, record.value
    )
    event = ce_kafka.from_binary(message, JSONFormat())
    assert event.get_specversion() == "1.0"
    assert event.get_type() == "osb.portal.BookingSubmitted.v1"
    assert event.get_source() == "/portal"
    assert event.get_id() == record.headers["ce_id"]
    assert event.get_time() == NOW
    assert event.get_datacontenttype() == "application/json"
    assert event.get_extension("correlationid") == "c-9"
    assert event.get_extension("causationid") == "e-1"
    assert event.get_data() == json.loads(record.value)


def test_we_read_what_the_cloudevents_sdk_writes() -> None:
    from cloudevents.core.bindings import kafka as ce_kafka
    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import CloudEvent

    message = booking()
    event = CloudEvent(
        {
            "id": "sdk-1",
            "type": "osb.portal.BookingSubmitted.v1",
            "source": "/sdk",
            "time": NOW,
            "datacontenttype": "application/json",
            "correlationid": "c-sdk",
        },
        message.model_dump(mode="json"),
    )
    record = ce_kafka.to_binary(event, JSONFormat(), lambda _: "B-1")
    envelope: Envelope[BookingSubmitted] = decode(record.headers, record.value, record.key)
    assert (envelope.id, envelope.source, envelope.time) == ("sdk-1", "/sdk", NOW)
    assert envelope.correlation_id == "c-sdk"
    assert envelope.message == message


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f"])
def test_characters_no_store_can_hold_are_refused_in_every_string(character: str) -> None:
    with pytest.raises(ValidationError) as refused:
        booking(customer={"last_name": f"Nul{character}byte"})
    (error,) = refused.value.errors()
    assert error["loc"] == ("customer", "last_name")
    assert error["type"] == "control_character"
    assert f"U+{ord(character):04X} at position 4" in error["msg"]
    with pytest.raises(ValidationError, match="control_character"):
        booking(comment=f"a{character}")  # a long text too
    with pytest.raises(ValidationError, match="control_character"):
        booking(services=("Inspektion", f"Öl{character}"))


def test_a_lone_surrogate_is_refused_by_pydantic_itself() -> None:
    with pytest.raises(ValidationError, match="string_unicode"):
        booking(customer={"last_name": "Nul\ud800byte"})


def test_a_portal_form_may_break_lines_and_a_one_line_field_may_not() -> None:
    pasted = booking(customer=PortalCustomer(last_name="Größmann", first_name="Jürgen\tKarl"))
    assert pasted.customer.first_name == "Jürgen\tKarl"  # lead-intake folds it
    assert booking(comment="Zeile 1\r\nZeile 2").comment == "Zeile 1\r\nZeile 2"
    with pytest.raises(ValidationError) as refused:
        LeadRejected.model_validate(
            {
                **rejected_fields(),
                "subject": "Ihr Termin\r\nBcc: all@example.de",
            }
        )
    (error,) = refused.value.errors()
    assert (error["loc"], error["type"]) == (("subject",), "not_one_line")
    assert "U+000D at position 11" in error["msg"]
    with pytest.raises(ValidationError, match="not_one_line"):
        Customer(last_name="Meier", email="a\x00b@example.de")


def rejected_fields() -> dict[str, object]:
    return {
        "lead_id": uuid4(),
        "booking_id": "B-1",
        "branch_id": "HH-01",
        "channel": Channel.EMAIL,
        "recipient": "kunde@example.de",
        "text": "Leider nicht.\n\nGrüße",  # a long text keeps its line breaks
        "rejected_by": "anna",
        "rejected_at": NOW,
        "customer": Customer(last_name="Meier"),
    }


def test_a_string_field_without_a_character_guard_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match=r"\['note', 'tags'\] need STORABLE or ONE_LINE"):

        class Loose(Contract):  # pragma: no cover - never created
            note: str
            tags: tuple[str, ...] = ()
            count: int = Field(default=0, ge=0, le=10)


def test_an_integer_field_that_may_leave_the_bigint_range_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match=r"\['a', 'b', 'c', 'd'\] need bounds within"):

        class Loose(Contract):  # pragma: no cover - never created
            a: int
            b: int = Field(ge=0)  # no upper bound
            c: int | None = Field(default=None, ge=0, le=2**63)  # one past bigint
            d: tuple[int, ...] = ()
            fine: int | None = Field(default=None, gt=-1, lt=10)
            also_fine: Annotated[int, Field(ge=BIGINT_MIN, le=BIGINT_MAX)] = 0


def test_a_revision_past_bigint_is_refused_by_the_codec() -> None:
    message = CustomerMasterChanged(
        change=MasterChange.DELETE, customer_number="K1", revision=BIGINT_MAX, changed_at=NOW
    )
    record = encode(message, key="K1", source="/dms")
    too_big = record.value.replace(str(BIGINT_MAX).encode(), str(BIGINT_MAX + 1).encode())
    assert decode(record.header_list, record.value, b"K1").message == message
    with pytest.raises(ContractError) as refused:
        decode(record.header_list, too_big, b"K1")
    assert [field for field, _ in refused.value.errors] == ["revision"]


def test_text_from_outside_is_made_one_line() -> None:

    assert one_line("550 5.1.1\r\n  mailbox\tunknown\x00") == "550 5.1.1 mailbox unknown"
    assert one_line("x" * 300) == "x" * 200
    assert one_line("abc", limit=2) == "ab"
