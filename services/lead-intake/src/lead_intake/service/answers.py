"""The customer's answer by a link: confirm, cancel, ask for another time.

The answer goes on as a lead request (``osb.lead.requests.v1``), the cancellation as the
portal's ``LeadCancellationRequested``: lead-manager owns the lead and changes it. The
appointment stays locked here until the request is acknowledged, so an answer is taken
once; its event id is the appointment's and the answer's count, so a request sent again
after a lost commit is the same event (lead-manager's inbox drops it).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from osb_contracts import encode
from osb_contracts.leads import CustomerAnswered, LeadCancellationRequested, OfferTaken
from osb_contracts.topics import LEAD_REQUESTS
from osb_platform.customer_links import CustomerLink
from osb_platform.producer import Outgoing
from osb_platform.tracing import traceparent_here

from lead_intake import SOURCE
from lead_intake.domain.appointments import (
    AFTER,
    ANSWERS,
    Action,
    Appointment,
    Refusal,
    State,
    check,
)
from lead_intake.domain.offers import Offer, takeable

_ANSWER_NAMESPACE = uuid.UUID("7d3f0c1e-5a2b-4f68-9c47-1e0b8d6a2f35")
NOTE_MAX = 1000  # what the customer may write (the page's field says so too)


class Sender(Protocol):
    async def send_many(self, outgoing: list[Outgoing]) -> None: ...


class Book(Protocol):
    async def answer(
        self, appointment_id: uuid.UUID, act: Callable[[Appointment], Awaitable[State | None]]
    ) -> Appointment | None: ...


@dataclass
class Answered:
    appointment: Appointment | None  # None: not known here (yet)
    refusal: Refusal | None = None


def request_for(
    appointment: Appointment,
    action: Action,
    note: str | None,
    now: datetime,
    requested_start: datetime | None = None,
) -> Outgoing:
    """The lead request that carries the customer's answer to lead-manager
    (``requested_start``: the customer's wish, with OTHER_TIME)."""
    message: CustomerAnswered | LeadCancellationRequested
    if action is Action.CANCEL:
        message = LeadCancellationRequested(
            lead_id=appointment.lead_id,
            booking_id=appointment.booking_id,
            branch_id=appointment.branch_id,
            cancelled_at=now,
            reason=note,
            appointment_id=appointment.id,
        )
    else:
        message = CustomerAnswered(
            lead_id=appointment.lead_id,
            booking_id=appointment.booking_id,
            branch_id=appointment.branch_id,
            appointment_id=appointment.id,
            answer=ANSWERS[action],
            requested_start=requested_start,
            note=note,
            answered_at=now,
        )
    cause = f"link:{appointment.id}/{appointment.answers}"
    record = encode(
        message,
        key=str(appointment.lead_id),
        source=SOURCE,
        event_id=str(uuid.uuid5(_ANSWER_NAMESPACE, cause)),
        causation_id=cause,
        traceparent=traceparent_here(f"publish {message.cloudevents_type()}"),
    )
    return Outgoing(LEAD_REQUESTS.name, record)


@dataclass
class Taken:
    offer: Offer | None  # None: not known here (yet)
    refusal: Refusal | None = None


class OfferTaking(Protocol):
    async def take(
        self, offer_id: uuid.UUID, act: Callable[[Offer], Awaitable[int | None]]
    ) -> Offer | None: ...


async def take_time(
    book: OfferTaking, producer: Sender, link: CustomerLink, index: int, now: datetime
) -> Taken:
    """Take the offered time if the link may take it now; the refusal says why not. The
    request's event id is the offer's and the time's: sent again after a lost commit, it is
    the same event."""
    refused: list[Refusal] = []

    async def act(offer: Offer) -> int | None:
        offered = takeable(offer, link.purpose, now)
        if isinstance(offered, Refusal) or index not in offered:
            refused.append(offered if isinstance(offered, Refusal) else Refusal.NOT_OFFERED)
            return None
        cause = f"offer:{offer.id}/{index}"
        record = encode(
            OfferTaken(
                lead_id=offer.lead_id,
                booking_id=offer.booking_id,
                branch_id=offer.branch_id,
                offer_id=offer.id,
                time_index=index,
                taken_at=now,
            ),
            key=str(offer.lead_id),
            source=SOURCE,
            event_id=str(uuid.uuid5(_ANSWER_NAMESPACE, cause)),
            causation_id=cause,
            traceparent=traceparent_here(f"publish {OfferTaken.cloudevents_type()}"),
        )
        await producer.send_many([Outgoing(LEAD_REQUESTS.name, record)])
        return index

    offer = await book.take(link.about, act)
    if offer is None:
        return Taken(None, Refusal.NOT_YET)
    return Taken(offer, refused[0] if refused else None)


async def take_answer(
    book: Book,
    producer: Sender,
    link: CustomerLink,
    action: Action,
    note: str | None,
    now: datetime,
    requested_start: datetime | None = None,
) -> Answered:
    """Take the answer if the link may give it now; the refusal says why not."""
    refused: list[Refusal] = []

    async def act(appointment: Appointment) -> State | None:
        refusal = check(appointment, link.purpose, action, now)
        if refusal is not None:
            refused.append(refusal)
            return None
        request = request_for(appointment, action, note, now, requested_start)
        await producer.send_many([request])
        return AFTER[action]

    appointment = await book.answer(link.about, act)
    if appointment is None:
        return Answered(None, Refusal.NOT_YET)
    return Answered(appointment, refused[0] if refused else None)
