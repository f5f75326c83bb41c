"""Subscribers: lead requests, DMS appointment changes and notification outcomes, each
batch in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from osb_contracts import Envelope
from osb_contracts.topics import DMS_APPOINTMENTS, LEAD_REQUESTS, NOTIFICATION_EVENTS
from osb_platform.subscriber import Subscribers

from lead_manager import SERVICE
from lead_manager.service.events import (
    handle_dms_appointments,
    handle_lead_requests,
    handle_notification_outcomes,
)
from lead_manager.service.ports import UnitOfWork


@dataclass(frozen=True)
class Consuming:
    unit_of_work: Callable[[], UnitOfWork]
    clock: Callable[[], datetime]


subscribers: Subscribers[Consuming] = Subscribers(SERVICE)


@subscribers.batch(LEAD_REQUESTS, group=f".{LEAD_REQUESTS.name}")
async def lead_requests(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    await handle_lead_requests(c.unit_of_work(), envelopes, clock=c.clock)


@subscribers.batch(DMS_APPOINTMENTS, group=f".{DMS_APPOINTMENTS.name}")
async def dms_appointments(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    await handle_dms_appointments(c.unit_of_work(), envelopes, clock=c.clock)


@subscribers.batch(NOTIFICATION_EVENTS, group=f".{NOTIFICATION_EVENTS.name}")
async def notification_outcomes(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    await handle_notification_outcomes(c.unit_of_work(), envelopes, clock=c.clock)
