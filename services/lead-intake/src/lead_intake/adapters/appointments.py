"""The appointments of the lead events, as the customer's links need them (PostgreSQL).

Filled from ``osb.lead.events.v1``: an appointment made, moved, deleted in the DMS,
cancelled, missed. The customer's answers are taken here, one at a time per appointment
(a row lock), and sent on while the lock is held.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from osb_contracts import Envelope
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadNoShow,
    LeadRejected,
)
from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lead_intake.adapters.tables import appointments, offers
from lead_intake.domain.appointments import Appointment, State
from lead_intake.domain.offers import Offer, OfferState

# what the lead events change of an appointment (a deletion in the DMS, a no-show: closed)
_CLOSING: dict[type[Any], State] = {
    LeadCancelledByCustomer: State.CANCELLED,
    LeadCancelled: State.CLOSED,
    LeadNoShow: State.CLOSED,
}
WANTED = frozenset(
    t.cloudevents_type()
    for t in (
        AppointmentCreated,
        LeadCancelledByCustomer,
        LeadCancelled,
        LeadNoShow,
        AppointmentOffered,
        LeadRejected,
    )
)


def _appointment(row: Any) -> Appointment:
    return Appointment(
        row.id, row.lead_id, row.booking_id, row.branch_id, row.start, row.end,
        State(row.state), row.answers,
    )  # fmt: skip


class AppointmentBook:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def apply(self, envelopes: Sequence[Envelope[Any]]) -> None:
        """A batch of lead events, in order, in one transaction; replaying them is harmless
        (an appointment is moved only by a later one)."""
        async with self._engine.begin() as conn:
            for envelope in envelopes:
                await self._apply(conn, envelope.message)

    async def _apply(self, conn: AsyncConnection, message: Any) -> None:
        a = appointments
        if isinstance(message, AppointmentOffered):
            await conn.execute(
                insert(offers)
                .values(
                    id=message.offer_id,
                    lead_id=message.lead_id,
                    booking_id=message.booking_id,
                    branch_id=message.branch_id,
                    times=[[t.start.isoformat(), t.end.isoformat()] for t in message.times],
                    respond_by=message.respond_by,
                    state=OfferState.OPEN.value,
                )
                .on_conflict_do_nothing()
            )
            return
        if isinstance(message, AppointmentCreated | LeadRejected | LeadCancelledByCustomer):
            # the lead decided: an offer still open can no longer be taken
            await conn.execute(
                update(offers)
                .where(offers.c.lead_id == message.lead_id, offers.c.state == OfferState.OPEN)
                .values(state=OfferState.CLOSED.value)
            )
        if isinstance(message, AppointmentCreated):
            await conn.execute(
                update(a)
                .where(
                    and_(
                        a.c.lead_id == message.lead_id,
                        a.c.made_at < message.created_at,
                        a.c.state.notin_([State.CANCELLED.value, State.CLOSED.value]),
                    )
                )
                .values(state=State.MOVED.value)
            )
            await conn.execute(
                insert(a)
                .values(
                    id=message.appointment_id,
                    lead_id=message.lead_id,
                    booking_id=message.booking_id,
                    branch_id=message.branch_id,
                    start=message.start,
                    end=message.end,
                    made_at=message.created_at,
                    state=State.OPEN.value,
                    answers=0,
                )
                .on_conflict_do_nothing()
            )
        elif type(message) in _CLOSING and getattr(message, "appointment_id", None) is not None:
            await conn.execute(
                update(a)
                .where(a.c.id == message.appointment_id)
                .values(state=_CLOSING[type(message)].value)
            )

    async def get(self, appointment_id: uuid.UUID) -> Appointment | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(appointments).where(appointments.c.id == appointment_id))
            ).first()
        return _appointment(row) if row else None

    async def answer(
        self,
        appointment_id: uuid.UUID,
        act: Callable[[Appointment], Awaitable[State | None]],
    ) -> Appointment | None:
        """Lock the appointment and ``act`` on it (it sends the customer's answer on); the
        state it returns is stored with the answer counted, None leaves the row as it was.
        Returns the appointment as it is afterwards (None: not known here)."""
        a = appointments
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(select(a).where(a.c.id == appointment_id).with_for_update())
            ).first()
            if row is None:
                return None
            appointment = _appointment(row)
            state = await act(appointment)
            if state is None:
                return appointment
            await conn.execute(
                update(a)
                .where(a.c.id == appointment_id)
                .values(state=state.value, answers=a.c.answers + 1)
            )
            return Appointment(
                **{**vars(appointment), "state": state, "answers": appointment.answers + 1}
            )


def _offer(row: Any) -> Offer:
    return Offer(
        id=row.id,
        lead_id=row.lead_id,
        booking_id=row.booking_id,
        branch_id=row.branch_id,
        times=tuple((datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in row.times),
        respond_by=row.respond_by,
        state=OfferState(row.state),
        taken_index=row.taken_index,
    )


class OfferBook:
    """The counter-offers, and a time taken from one, once (a row lock)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, offer_id: uuid.UUID) -> Offer | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(offers).where(offers.c.id == offer_id))).first()
        return _offer(row) if row else None

    async def take(
        self, offer_id: uuid.UUID, act: Callable[[Offer], Awaitable[int | None]]
    ) -> Offer | None:
        """Lock the offer and ``act`` on it (it sends the customer's choice on); the index
        it returns is stored as taken, None leaves the offer as it was."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(select(offers).where(offers.c.id == offer_id).with_for_update())
            ).first()
            if row is None:
                return None
            offer = _offer(row)
            index = await act(offer)
            if index is None:
                return offer
            await conn.execute(
                update(offers)
                .where(offers.c.id == offer_id)
                .values(state=OfferState.TAKEN.value, taken_index=index)
            )
            return replace(offer, state=OfferState.TAKEN, taken_index=index)
