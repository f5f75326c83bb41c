"""CloudEvents 1.0 binary content mode on Kafka.

Attributes travel as ``ce_*`` headers (``datacontenttype`` as ``content-type``), the payload
is the contract's JSON, the Kafka key is the registry's key. This module maps the headers
itself: it sits on every hop of the hot path, where the CloudEvents SDK's generic attribute
handling cost more than validating the payload. The SDK stays the oracle: the tests check
that it reads what we write and that we read what it writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, overload

from pydantic import ValidationError

from osb_contracts import sealing
from osb_contracts._base import Message
from osb_contracts.topics import UnknownMessageTypeError, message_type_by_name

CONTENT_TYPE = "application/json"
CORRELATION_ID = "correlationid"
CAUSATION_ID = "causationid"
TRACEPARENT = "traceparent"  # the CloudEvents distributed-tracing extension (W3C)
SPECVERSION = "1.0"
_REQUIRED = ("id", "source", "type", "specversion")

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

    @property
    def header_list(self) -> list[tuple[str, bytes]]:
        """The headers as aiokafka sends them."""
        return [(k, v.encode()) for k, v in self.headers.items()]


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
    traceparent: str | None = None  # of the span that sent it, or (handed on) received it
    # the personal fields' box while they are sealed (the message reads their erased
    # values meanwhile): :func:`opened` with the lead's key reads them
    sealed: str | None = None


def encode(
    message: Message,
    *,
    key: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    traceparent: str | None = None,
    seal_key: bytes | None = None,
) -> KafkaRecord:
    """``seal_key``: seal the message's personal fields with it (:mod:`osb_contracts.sealing`)."""
    event_id = event_id or str(uuid.uuid4())
    headers = {
        "ce_specversion": SPECVERSION,
        "ce_id": event_id,
        "ce_source": source,
        "ce_type": message.cloudevents_type(),
        "ce_time": _format_time(time or datetime.now(UTC)),
        "content-type": CONTENT_TYPE,
        "ce_" + CORRELATION_ID: correlation_id or event_id,
    }
    if causation_id:
        headers["ce_" + CAUSATION_ID] = causation_id
    if traceparent:
        headers["ce_" + TRACEPARENT] = traceparent
    if seal_key is not None and message.personal:
        headers[sealing.HEADER] = sealing.ALGORITHM
        value = sealing.seal(message, seal_key, record_key=key)
    else:
        value = message.model_dump_json().encode()
    return KafkaRecord(key=key.encode(), value=value, headers=headers)


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("a CloudEvents time carries a time zone")
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z"


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
    attributes: dict[str, str] = {}
    try:
        for name, raw in items:
            lowered = name.lower()
            if lowered.startswith("ce_"):
                attributes[lowered[3:]] = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise ContractError("unreadable CloudEvents headers", [("headers", str(exc))]) from None
    missing = [f"ce_{a}" for a in _REQUIRED if not attributes.get(a)]
    if missing:
        raise ContractError(
            f"invalid CloudEvents headers: missing {', '.join(missing)}",
            [(m, "required CloudEvents attribute missing") for m in missing],
        )
    if attributes["specversion"] != SPECVERSION:
        raise ContractError(
            "unsupported CloudEvents specversion", [("ce_specversion", attributes["specversion"])]
        )
    ce_type = attributes["type"]
    try:
        time = datetime.fromisoformat(attributes["time"]) if "time" in attributes else None
    except ValueError:
        raise ContractError("invalid CloudEvents time", [("ce_time", "not RFC 3339")]) from None
    if time is not None and time.tzinfo is None:
        raise ContractError("invalid CloudEvents time", [("ce_time", "no time zone")])
    try:
        model = message_type_by_name(ce_type)
    except UnknownMessageTypeError:
        raise ContractError(
            f"unknown message type {ce_type!r}", [("ce_type", "unknown type or version")]
        ) from None
    if expect is not None:
        allowed = expect if isinstance(expect, tuple) else (expect,)
        if model not in allowed:
            raise ContractError(
                f"{ce_type!r} is not expected here",
                [("ce_type", "not accepted on this topic")],
            )
    message, box = _payload(model, ce_type, value, sealed=sealing.HEADER[3:] in attributes)
    return Envelope(
        id=attributes["id"],
        type=ce_type,
        source=attributes["source"],
        time=time if time is not None else datetime.now(UTC),
        correlation_id=attributes.get(CORRELATION_ID) or attributes["id"],
        causation_id=attributes.get(CAUSATION_ID),
        key=(key.decode(errors="replace") if isinstance(key, bytes) else key),
        message=message,
        traceparent=attributes.get(TRACEPARENT),
        sealed=box,
    )


def _payload(
    model: type[Message], ce_type: str, value: bytes, *, sealed: bool
) -> tuple[Message, str | None]:
    """The message, and its personal fields' box when they are sealed (the message reads
    their erased values meanwhile)."""
    try:
        if not sealed:
            return model.model_validate_json(value), None
        try:
            fields, box = sealing.split(value)
        except ValueError as exc:
            raise ContractError(
                f"invalid sealed {ce_type} payload", [("sealed", str(exc))]
            ) from None
        return model.model_validate({**fields, **model.personal}), box
    except ValidationError as exc:
        raise _invalid(ce_type, exc) from None


def _invalid(ce_type: str, exc: ValidationError) -> ContractError:
    return ContractError(
        f"invalid {ce_type} payload",
        [(".".join(str(p) for p in err["loc"]) or "body", err["msg"]) for err in exc.errors()],
    )


def opened(envelope: Envelope[M], key: bytes) -> Envelope[M]:
    """The envelope with its personal fields read from their box with the lead's ``key``;
    :class:`ContractError` when the key does not open it or what it holds is invalid."""
    if envelope.sealed is None:
        return envelope
    try:
        personal = sealing.unseal(
            envelope.sealed, key, cloudevents_type=envelope.type, record_key=envelope.key or ""
        )
    except sealing.UnsealableError as exc:
        raise ContractError(str(exc), [("sealed", "does not open with the lead's key")]) from None
    message = envelope.message
    model = type(message)
    fields = {n: getattr(message, n) for n in model.model_fields if n not in model.personal}
    try:
        full = model.model_validate({**fields, **personal})
    except ValidationError as exc:
        raise _invalid(envelope.type, exc) from None
    return replace(envelope, message=full, sealed=None)
