"""Subscribers: lead requests, DMS appointment changes and notification outcomes, each
batch in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from osb_contracts import Envelope
from osb_contracts.leads import OfferTaken
from osb_contracts.topics import DMS_APPOINTMENTS, LEAD_REQUESTS, NOTIFICATION_EVENTS
from osb_platform.subscriber import Subscribers

from lead_manager import SERVICE
from lead_manager.service.events import (
    handle_dms_appointments,
    handle_lead_requests,
    handle_notification_outcomes,
    take_offer_once,
)
from lead_manager.service.ports import Identification, UnitOfWork


@dataclass(frozen=True)
class Consuming:
    unit_of_work: Callable[[], UnitOfWork]
    clock: Callable[[], datetime]
    # customer-matching, for a counter-offer's time the customer took (it is scheduled)
    matching: Identification | None = None


subscribers: Subscribers[Consuming] = Subscribers(SERVICE)


@subscribers.batch(LEAD_REQUESTS, group=f".{LEAD_REQUESTS.name}")
async def lead_requests(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    await handle_lead_requests(c.unit_of_work(), envelopes, clock=c.clock)
    # a taken offer is scheduled like "Als Termin anlegen" (customer-matching asked first),
    # each in its own transactions after the batch; a redelivery is the same appointment
    for envelope in envelopes:
        if isinstance(envelope.message, OfferTaken):
            assert c.matching is not None, "lead-manager consumes lead requests with matching"
            await take_offer_once(
                c.unit_of_work, envelope.message, clock=c.clock, matching=c.matching
            )


@subscribers.batch(DMS_APPOINTMENTS, group=f".{DMS_APPOINTMENTS.name}")
async def dms_appointments(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    await handle_dms_appointments(c.unit_of_work(), envelopes, clock=c.clock)


@subscribers.batch(NOTIFICATION_EVENTS, group=f".{NOTIFICATION_EVENTS.name}")
async def notification_outcomes(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    await handle_notification_outcomes(c.unit_of_work(), envelopes, clock=c.clock)
