"""The portal-topic subscriber (batches in, lead requests and dead letters out, then commit)
and the lead events' appointments for the customers' links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from osb_contracts import Envelope
from osb_contracts.topics import LEAD_EVENTS, PORTAL_BOOKINGS
from osb_platform.subscriber import Record, Subscribers

from lead_intake import SERVICE
from lead_intake.adapters.appointments import WANTED
from lead_intake.entrypoints.wiring import Wiring
from lead_intake.service.intake import process_batch

subscribers: Subscribers[Wiring] = Subscribers(SERVICE)


@subscribers.raw(PORTAL_BOOKINGS)
async def portal_bookings(w: Wiring, records: Sequence[Record]) -> None:
    # bookings, not contract events: validated here, answered by lead requests or dead
    # letters; committed after both sends are acknowledged
    result = process_batch(records, clock=w.clock, branches=w.branches)
    await w.producer.dead_letter(result.dead_letters, service=SERVICE)
    await w.producer.send_many(result.outgoing)


@subscribers.batch(LEAD_EVENTS, group=".lead-events", only=WANTED)
async def lead_events(w: Wiring, envelopes: Sequence[Envelope[Any]]) -> None:
    # the appointments the customers' links name, as they are made, moved and closed
    await w.appointments.apply(envelopes)
