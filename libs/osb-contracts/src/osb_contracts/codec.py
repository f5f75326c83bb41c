"""CloudEvents 1.0 binary content mode on Kafka.

Attributes travel as ``ce_*`` headers, the payload is the contract's JSON, the Kafka key is
the registry's key (CloudEvents ``partitionkey``). The CloudEvents SDK builds and checks the
attributes; pydantic checks the payload.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, overload

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from osb_contracts._base import Message
from osb_contracts.topics import UnknownMessageTypeError, message_type_by_name

CONTENT_TYPE = "application/json"
CORRELATION_ID = "correlationid"
CAUSATION_ID = "causationid"
_FORMAT = JSONFormat()

M = TypeVar("M", bound=Message)


class ContractError(ValueError):
    """A Kafka record that is not a valid message of ours; ``errors`` say which field and why."""

    def __init__(self, reason: str, errors: Iterable[tuple[str, str]] = ()) -> None:
        self.reason = reason
        self.errors = tuple(errors) or (("", reason),)
        super().__init__(reason)


@dataclass(frozen=True)
class KafkaRecord:
    """What to hand to a Kafka producer (FastStream wants ``str`` headers)."""

    key: bytes
    value: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Envelope(Generic[M]):
    id: str
    type: str
    source: str
    time: datetime
    correlation_id: str
    causation_id: str | None
    key: str | None
    message: M


def encode(
    message: Message,
    *,
    key: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> KafkaRecord:
    event_id = event_id or str(uuid.uuid4())
    attributes: dict[str, object] = {
        "id": event_id,
        "type": message.cloudevents_type(),
        "source": source,
        "time": time or datetime.now(UTC),
        "datacontenttype": CONTENT_TYPE,
        CORRELATION_ID: correlation_id or event_id,
    }
    if causation_id:
        attributes[CAUSATION_ID] = causation_id
    record = ce_kafka.to_binary(
        CloudEvent(attributes, message.model_dump_json().encode()), _FORMAT, lambda _: key
    )
    return KafkaRecord(
        key=key.encode(),
        value=record.value,
        headers={name: value.decode() for name, value in record.headers.items()},
    )


Headers = Mapping[str, bytes | str] | Iterable[tuple[str, bytes | str]]


@overload
def decode(
    headers: Headers, value: bytes, key: bytes | str | None = None, *, expect: type[M]
) -> Envelope[M]: ...
@overload
def decode(
    headers: Headers,
    value: bytes,
    key: bytes | str | None = None,
    *,
    expect: tuple[type[Message], ...] | None = None,
) -> Envelope[Any]: ...
def decode(
    headers: Headers,
    value: bytes,
    key: bytes | str | None = None,
    *,
    expect: type[M] | tuple[type[Message], ...] | None = None,
) -> Envelope[Any]:
    """Read a record; raise :class:`ContractError` naming what is wrong with it."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    raw = {
        name.lower(): v if isinstance(v, bytes) else v.encode()
        for name, v in items
        if name.lower().startswith(ce_kafka.CE_PREFIX) or name.lower() == "content-type"
    }
    try:
        # Parse only the attributes here; the payload is validated by pydantic below.
        event = ce_kafka.from_binary(ce_kafka.KafkaMessage(raw, key, b""), _FORMAT)
    except BaseCloudEventException as exc:
        raise ContractError(
            f"invalid CloudEvents headers: {exc}", [("headers", str(exc))]
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ContractError("unreadable CloudEvents headers", [("headers", str(exc))]) from None
    if event.get_specversion() != "1.0":
        raise ContractError(
            "unsupported CloudEvents specversion", [("ce_specversion", event.get_specversion())]
        )
    try:
        model = message_type_by_name(event.get_type())
    except UnknownMessageTypeError:
        raise ContractError(
            f"unknown message type {event.get_type()!r}", [("ce_type", "unknown type or version")]
        ) from None
    if expect is not None:
        allowed = expect if isinstance(expect, tuple) else (expect,)
        if model not in allowed:
            raise ContractError(
                f"{event.get_type()!r} is not expected here",
                [("ce_type", "not accepted on this topic")],
            )
    try:
        message = model.model_validate_json(value)
    except ValidationError as exc:
        raise ContractError(
            f"invalid {event.get_type()} payload",
            [(".".join(str(p) for p in err["loc"]) or "body", err["msg"]) for err in exc.errors()],
        ) from None
    time = event.get_time()
    partition_key = event.get_extension(ce_kafka.PARTITIONKEY_ATTR)
    return Envelope(
        id=event.get_id(),
        type=event.get_type(),
        source=event.get_source(),
        time=time if time is not None else datetime.now(UTC),
        correlation_id=str(event.get_extension(CORRELATION_ID) or event.get_id()),
        causation_id=event.get_extension(CAUSATION_ID),
        key=str(partition_key) if partition_key is not None else None,
        message=message,
    )
