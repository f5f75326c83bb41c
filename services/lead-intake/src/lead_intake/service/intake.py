"""Turn a batch of portal records into lead requests and dead letters."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from osb_contracts import ContractError, Envelope, decode, encode
from osb_contracts.leads import LeadCancellationRequested, LeadRequested
from osb_contracts.portal import BookingCancelled, BookingSubmitted
from osb_contracts.topics import LEAD_REQUESTS, PORTAL_BOOKINGS
from osb_platform.producer import DeadLetter, Outgoing
from osb_platform.tracing import hop, traceparent_here

from lead_intake import SOURCE
from lead_intake.domain.validation import (
    BookingInvalidError,
    Branch,
    validate_booking,
    validate_cancellation,
)

# Event ids of what we publish derive from the incoming event id, so a redelivered
# booking yields the very same LeadRequested event (deduplicated by lead-manager's inbox).
_EVENT_NAMESPACE = uuid.UUID("0b7f6a52-31c4-4e0e-9a43-5c2d8f1e7a90")


class Record(Protocol):
    """What the service reads of a Kafka record (aiokafka's ConsumerRecord has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass
class BatchResult:
    outgoing: list[Outgoing] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def lead_request(
    message: BookingSubmitted | BookingCancelled,
    *,
    cause: str,
    correlation_id: str | None,
    now: datetime,
    branches: Mapping[str, Branch],
    traceparent: str | None = None,
) -> Outgoing:
    """The one use case of both entrypoints: validate a portal booking or cancellation and
    make it a lead request. ``cause`` names what brought it (the portal event's id, or the
    HTTP booking's); the lead request's event id derives from it, so the same cause makes
    the same event. ``traceparent``: the trace it continues (else the current span's).
    Raises ``BookingInvalidError`` naming every bad field."""
    result: LeadRequested | LeadCancellationRequested
    if isinstance(message, BookingSubmitted):
        result = validate_booking(message, now=now, branches=branches)
    else:
        result = validate_cancellation(message, branches=branches)
    record = encode(
        result,
        key=str(result.lead_id),
        source=SOURCE,
        event_id=str(uuid.uuid5(_EVENT_NAMESPACE, cause)),
        correlation_id=correlation_id,
        causation_id=cause,
        traceparent=traceparent or traceparent_here(f"publish {result.cloudevents_type()}"),
    )
    return Outgoing(LEAD_REQUESTS.name, record)


def process_batch(
    records: Sequence[Record], *, clock: Callable[[], datetime], branches: Mapping[str, Branch]
) -> BatchResult:
    result = BatchResult()
    alone = len(records) == 1
    for record in records:
        try:
            envelope: Envelope[BookingSubmitted | BookingCancelled] = decode(
                record.headers, record.value or b"", record.key, expect=PORTAL_BOOKINGS.messages
            )
            result.outgoing.append(
                lead_request(
                    envelope.message,
                    cause=envelope.id,
                    correlation_id=envelope.correlation_id,
                    now=clock(),
                    branches=branches,
                    traceparent=_arrival(envelope, record, alone),
                )
            )
        except ContractError as exc:
            result.dead_letters.append(DeadLetter.of(record, exc.reason, exc.errors))
        except BookingInvalidError as exc:
            errors = [(e.field, e.reason) for e in exc.errors]
            result.dead_letters.append(DeadLetter.of(record, "invalid booking", errors))
    return result


def _arrival(envelope: Envelope[Any], record: Record, alone: bool) -> str | None:
    """The trace the booking's lead request continues: a span marking the booking's
    arrival (the root of a new trace when the portal sent none); in a larger batch a
    booking that comes with a trace continues its sender's span without one of its own
    (as every subscriber does, ``osb_platform.subscriber``)."""
    if envelope.traceparent and not alone:
        return envelope.traceparent
    return hop(
        f"receive {envelope.type}",
        envelope.traceparent,
        {"messaging.destination.name": record.topic},
    )
