"""A counter-offer as the customer's links see it, and whether a time may be taken."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from osb_platform.customer_links import TAKES, LinkPurpose

from lead_intake.domain.appointments import Refusal


class OfferState(StrEnum):
    OPEN = "OPEN"
    TAKEN = "TAKEN"  # the customer took a time (``taken_index``)
    CLOSED = "CLOSED"  # rejected (lapsed or by the advisor), scheduled otherwise, cancelled


@dataclass(frozen=True)
class Offer:
    id: uuid.UUID
    lead_id: uuid.UUID
    booking_id: str
    branch_id: str
    times: tuple[tuple[datetime, datetime], ...]
    respond_by: datetime
    state: OfferState
    taken_index: int | None = None


def takeable(offer: Offer, purpose: LinkPurpose, now: datetime) -> tuple[int, ...] | Refusal:
    """The indexes of the times the link offers now, or why none."""
    if offer.state is OfferState.TAKEN:
        return Refusal.TAKEN_ALREADY
    if offer.state is OfferState.CLOSED:
        return Refusal.OFFER_CLOSED
    if now >= offer.respond_by:
        return Refusal.OFFER_LAPSED
    if purpose is LinkPurpose.OFFER:
        return tuple(range(len(offer.times)))
    index = TAKES.index(purpose)
    return (index,) if index < len(offer.times) else Refusal.NOT_OFFERED
