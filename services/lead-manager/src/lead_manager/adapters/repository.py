"""Leads and branch settings in PostgreSQL (SQLAlchemy Core on one connection)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.leads import UnusableValue
from osb_contracts.matching import DuplicateCriterion
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle
from osb_platform.db import JsonText, insert_many
from osb_platform.outbox import OutgoingEvent, add_to_outbox
from pydantic import BaseModel
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from lead_manager import SOURCE
from lead_manager.adapters.tables import (
    appointments,
    branch_settings,
    hours_json,
    hours_of,
    lead_history,
    leads,
    offers,
    outbox,
    reminders,
)
from lead_manager.domain.branch import NO_SHOW_GRACE, Acceptor, BranchSettings
from lead_manager.domain.model import Appointment, Lead, Offer, Reminder
from lead_manager.domain.permissions import Actor
from lead_manager.domain.reminders import PlannedReminder, QuietHours
from lead_manager.service.ports import PENDING, ConcurrencyError, DueReminder, StoredOffer


def lead_row(lead: Lead, now: datetime, *, encoded: bool = False) -> dict[str, Any]:
    """The row of a lead; ``encoded``: customer and vehicle as JSON text (bulk inserts)."""
    customer, vehicle = lead.customer, lead.vehicle

    def dump(model: BaseModel) -> Any:
        return JsonText(model.model_dump_json()) if encoded else model.model_dump(mode="json")

    return {
        "id": lead.id,
        "booking_id": lead.booking_id,
        "branch_id": lead.branch_id,
        "status": lead.status.value,
        "version": lead.version,
        "received_at": lead.received_at,
        "requested_start": lead.requested_start,
        "requested_end": lead.requested_end,
        "customer": dump(customer),
        "vehicle": dump(vehicle),
        "services": list(lead.services),
        "comment": lead.comment,
        "warnings": list(lead.warnings),
        "unusable": [u.model_dump(mode="json") for u in lead.unusable],
        "appointment_id": lead.appointment_id,
        "acceptor": lead.acceptor,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
        "mobile": customer.mobile,
        "licence_plate": vehicle.licence_plate,
        "vin": vehicle.vin,
        "customer_number": customer.customer_number,
        "respond_by": lead.respond_by,
        "trace_parent": lead.trace_parent,
        "escalated_at": lead.escalated_at,
        "arrived_at": lead.arrived_at,
        "confirmed_by_customer_at": lead.confirmed_by_customer_at,
        "created_at": now,
        "updated_at": now,
    }


def lead_from_row(row: Any) -> Lead:
    return Lead(
        id=row.id,
        booking_id=row.booking_id,
        branch_id=row.branch_id,
        status=LeadStatus(row.status),
        version=row.version,
        received_at=row.received_at,
        requested_start=row.requested_start,
        requested_end=row.requested_end,
        customer=Customer.model_validate(row.customer),
        vehicle=Vehicle.model_validate(row.vehicle),
        services=tuple(row.services),
        comment=row.comment,
        warnings=tuple(row.warnings),
        unusable=tuple(UnusableValue.model_validate(u) for u in row.unusable),
        appointment_id=row.appointment_id,
        acceptor=row.acceptor,
        respond_by=row.respond_by,
        escalated_at=row.escalated_at,
        arrived_at=row.arrived_at,
        confirmed_by_customer_at=row.confirmed_by_customer_at,
        trace_parent=row.trace_parent,
    )


_LEAD_COLUMNS = [c for c in leads.c if c.name != "search_text"]


class SqlLeadRepository:
    def __init__(self, conn: AsyncConnection, clock: Any) -> None:
        self._conn = conn
        self._clock = clock

    async def get(self, lead_id: UUID, *, for_update: bool = False) -> Lead | None:
        stmt = select(*_LEAD_COLUMNS).where(leads.c.id == lead_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else lead_from_row(row)

    async def get_many(
        self, lead_ids: Iterable[UUID], *, for_update: bool = False
    ) -> dict[UUID, Lead]:
        # one order of locking for every instance: two batches never wait for each other
        stmt = select(*_LEAD_COLUMNS).where(leads.c.id.in_(set(lead_ids))).order_by(leads.c.id)
        if for_update:
            stmt = stmt.with_for_update()
        return {r.id: lead_from_row(r) for r in (await self._conn.execute(stmt)).all()}

    async def by_appointment(self, appointment_id: UUID) -> Lead | None:
        stmt = (
            select(*_LEAD_COLUMNS).where(leads.c.appointment_id == appointment_id).with_for_update()
        )
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else lead_from_row(row)

    async def overdue(self, now: datetime, *, limit: int) -> list[Lead]:
        """New leads past their deadline not yet reported, locked; those another instance
        holds are skipped (it reports them)."""
        stmt = (
            select(*_LEAD_COLUMNS)
            .where(
                leads.c.status == LeadStatus.NEW.value,
                leads.c.respond_by <= now,
                leads.c.escalated_at.is_(None),
            )
            .order_by(leads.c.respond_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [lead_from_row(r) for r in (await self._conn.execute(stmt)).all()]

    async def no_shows(self, now: datetime, *, limit: int) -> list[tuple[Lead, datetime]]:
        """Scheduled leads whose customer has not arrived by the appointment's start and
        the branch's grace, with that start; locked, those another instance holds skipped."""
        grace = func.make_interval(
            0, 0, 0, 0, 0, func.coalesce(branch_settings.c.no_show_grace_minutes, NO_SHOW_GRACE)
        )
        stmt = (
            select(*_LEAD_COLUMNS, appointments.c.start.label("appointment_start"))
            .select_from(
                leads.join(appointments, appointments.c.id == leads.c.appointment_id).outerjoin(
                    branch_settings, branch_settings.c.branch_id == leads.c.branch_id
                )
            )
            .where(
                leads.c.status == LeadStatus.SCHEDULED.value,
                leads.c.arrived_at.is_(None),
                appointments.c.start + grace <= now,
            )
            .order_by(appointments.c.start)
            .limit(limit)
            .with_for_update(of=leads, skip_locked=True)
        )
        rows = (await self._conn.execute(stmt)).all()
        return [(lead_from_row(r), r.appointment_start) for r in rows]

    async def add_new(self, new: Sequence[Lead]) -> set[UUID]:
        """Insert the leads that do not exist yet (by id or booking); return their ids."""
        if not new:
            return set()
        now = self._clock()
        rows = [lead_row(lead, now, encoded=True) for lead in new]
        created = await insert_many(
            self._conn, leads, rows, on_conflict_do_nothing=True, returning="id"
        )
        return set(created)

    async def save(self, lead: Lead) -> None:
        """Write a changed lead if nobody changed it since it was read (version check)."""
        row = lead_row(lead, self._clock())
        del row["id"], row["created_at"], row["booking_id"]
        row["version"] = lead.version + 1
        result = await self._conn.execute(
            update(leads)
            .where(leads.c.id == lead.id, leads.c.version == lead.version)
            .values(**row)
        )
        if result.rowcount != 1:
            raise ConcurrencyError(f"lead {lead.id} was changed by someone else")
        lead.version += 1

    async def add_appointment(self, lead: Lead, appointment: Appointment) -> None:
        await self._conn.execute(
            insert(appointments).values(
                id=appointment.id,
                lead_id=lead.id,
                branch_id=lead.branch_id,
                start=appointment.start,
                end=appointment.end,
                acceptor=appointment.acceptor,
                customer_number=appointment.customer_number,
                customer_choice=appointment.customer_choice.value,
                customer=appointment.customer.model_dump(mode="json"),
                vehicle=appointment.vehicle.model_dump(mode="json"),
                vehicle_case=appointment.vehicle_case.value,
                warnings=[w.model_dump(mode="json") for w in appointment.warnings],
                confirmation=appointment.confirmation.value,
                request_id=appointment.request_id,
                request_fingerprint=appointment.request_fingerprint,
                created_at=self._clock(),
            )
        )

    async def has_notification(self, lead_id: UUID, notification_id: UUID) -> bool:
        """Whether the notifier reported this notification for this lead (in its history)."""
        found = await self._conn.scalar(
            select(lead_history.c.id)
            .where(
                lead_history.c.lead_id == lead_id,
                lead_history.c.details["notification_id"].astext == str(notification_id),
            )
            .limit(1)
        )
        return found is not None

    async def request_fingerprint(self, request_id: UUID) -> str | None:
        """The fingerprint of the schedule request that made an appointment; "" for one
        stored before fingerprints were kept (it matches no repeat)."""
        row = (
            await self._conn.execute(
                select(appointments.c.request_fingerprint).where(
                    appointments.c.request_id == request_id
                )
            )
        ).first()
        return None if row is None else row.request_fingerprint or ""

    async def mark_appointment_deleted(self, appointment_id: UUID, at: datetime) -> None:
        await self._conn.execute(
            update(appointments).where(appointments.c.id == appointment_id).values(deleted_at=at)
        )


def settings_from_row(row: Any) -> BranchSettings:
    return BranchSettings(
        branch_id=row.branch_id,
        name=row.name,
        acceptors=tuple(Acceptor(**a) for a in row.acceptors),
        sms_enabled=row.sms_enabled,
        templates=dict(row.templates),
        cash_sale_customer_number=row.cash_sale_customer_number,
        duplicate_criteria=tuple(DuplicateCriterion(c) for c in row.duplicate_criteria),
        sender_email=row.sender_email,
        opening_hours=hours_of(row.opening_hours),
        holiday_region=row.holiday_region,
        response_minutes=row.response_minutes,
        escalation_email=row.escalation_email,
        rejection_reasons=tuple(row.rejection_reasons),
        no_show_grace_minutes=row.no_show_grace_minutes,
        reminder_offsets=tuple(row.reminder_offsets),
        reminder_quiet=QuietHours(row.reminder_quiet),
        offer_response_hours=row.offer_response_hours,
        lead_retention_months=row.lead_retention_months,
        version=row.version,
    )


class SqlReminderRepository:
    """An appointment's reminders (issue 17); their times are the domain's
    (``domain/reminders.py``)."""

    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def cancel_pending(self, lead_id: UUID) -> None:
        await self._conn.execute(
            update(reminders)
            .where(reminders.c.lead_id == lead_id, reminders.c.state == PENDING)
            .values(state="CANCELLED", updated_at=self._clock())
        )

    async def add(
        self,
        lead_id: UUID,
        appointment_id: UUID,
        channel: Channel,
        recipient: str,
        planned: Sequence[PlannedReminder],
    ) -> None:
        now = self._clock()
        if planned:
            await self._conn.execute(
                insert(reminders),
                [
                    {
                        "id": uuid.uuid4(),
                        "lead_id": lead_id,
                        "appointment_id": appointment_id,
                        "offset_minutes": r.offset_minutes,
                        "due_at": r.due_at,
                        "channel": channel.value,
                        "recipient": recipient,
                        "state": PENDING,
                        "updated_at": now,
                    }
                    for r in planned
                ],
            )

    async def due(self, now: datetime, *, limit: int) -> list[DueReminder]:
        """Pending reminders due by ``now``, earliest first, with their appointment; locked,
        those another instance holds skipped."""
        a = appointments.c
        stmt = (
            select(reminders, a.start, a.end, a.customer, a.vehicle)
            .join(appointments, a.id == reminders.c.appointment_id)
            .where(reminders.c.state == PENDING, reminders.c.due_at <= now)
            .order_by(reminders.c.due_at)
            .limit(limit)
            .with_for_update(of=reminders, skip_locked=True)
        )
        return [
            DueReminder(
                r.lead_id,
                Reminder(
                    id=r.id,
                    appointment_id=r.appointment_id,
                    offset_minutes=r.offset_minutes,
                    due_at=r.due_at,
                    channel=Channel(r.channel),
                    recipient=r.recipient,
                    start=r.start,
                    end=r.end,
                    customer=Customer.model_validate(r.customer),
                    vehicle=Vehicle.model_validate(r.vehicle),
                ),
            )
            for r in (await self._conn.execute(stmt)).all()
        ]

    async def settle(self, reminder_id: UUID, state: str) -> None:
        """What became of a due reminder: SENT, CANCELLED or MISSED."""
        await self._conn.execute(
            update(reminders)
            .where(reminders.c.id == reminder_id)
            .values(state=state, updated_at=self._clock())
        )


class SqlBranchRepository:
    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def get(self, branch_id: str) -> BranchSettings | None:
        row = (
            await self._conn.execute(
                select(branch_settings).where(branch_settings.c.branch_id == branch_id)
            )
        ).first()
        return None if row is None else settings_from_row(row)

    async def all(self) -> list[BranchSettings]:
        rows = await self._conn.execute(
            select(branch_settings).order_by(branch_settings.c.branch_id)
        )
        return [settings_from_row(r) for r in rows]

    async def put(
        self, settings: BranchSettings, *, updated_by: str, expected_version: int | None
    ) -> BranchSettings:
        values = {
            "name": settings.name,
            "acceptors": [a.__dict__ for a in settings.acceptors],
            "sms_enabled": settings.sms_enabled,
            "templates": settings.templates,
            "cash_sale_customer_number": settings.cash_sale_customer_number,
            "duplicate_criteria": [c.value for c in settings.duplicate_criteria],
            "sender_email": settings.sender_email,
            "opening_hours": hours_json(settings.opening_hours),
            "holiday_region": settings.holiday_region,
            "response_minutes": settings.response_minutes,
            "escalation_email": settings.escalation_email,
            "rejection_reasons": list(settings.rejection_reasons),
            "no_show_grace_minutes": settings.no_show_grace_minutes,
            "reminder_offsets": list(settings.reminder_offsets),
            "reminder_quiet": settings.reminder_quiet.value,
            "offer_response_hours": settings.offer_response_hours,
            "lead_retention_months": settings.lead_retention_months,
            "updated_by": updated_by,
            "updated_at": func.now(),
        }
        stmt: Any
        if expected_version is None:
            stmt = (
                insert(branch_settings)
                .values(branch_id=settings.branch_id, version=1, **values)
                .on_conflict_do_update(
                    index_elements=["branch_id"],
                    set_={**values, "version": branch_settings.c.version + 1},
                )
                .returning(branch_settings)
            )
        else:
            stmt = (
                update(branch_settings)
                .where(
                    branch_settings.c.branch_id == settings.branch_id,
                    branch_settings.c.version == expected_version,
                )
                .values(**values, version=expected_version + 1)
                .returning(branch_settings)
            )
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            raise ConcurrencyError(f"the settings of {settings.branch_id} were changed meanwhile")
        stored = settings_from_row(row)
        await self.publish([stored])
        return stored

    async def publish(self, settings: Iterable[BranchSettings]) -> None:
        """Tell the other services (the notifier) through the outbox, in this transaction."""
        now = self._clock()
        events = [
            OutgoingEvent(
                BranchSettingsChanged(
                    branch_id=s.branch_id,
                    settings_version=s.version,
                    name=s.name,
                    sms_enabled=s.sms_enabled,
                    sender_email=s.sender_email,
                    templates=s.templates,
                    changed_at=now,
                )
            )
            for s in settings
        ]
        await add_to_outbox(self._conn, outbox, events, source=SOURCE)


class SqlOfferRepository:
    """Counter-offers (issue 17, point 3)."""

    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def add(self, stored: StoredOffer) -> None:
        now, o = self._clock(), stored.offer
        await self._conn.execute(
            insert(offers).values(
                id=o.id,
                lead_id=stored.lead_id,
                times=[[s.isoformat(), e.isoformat()] for s, e in o.times],
                respond_by=o.respond_by,
                channel=o.channel.value,
                recipient=o.recipient,
                plan=dict(stored.plan),
                offered_by=stored.offered_by.id,
                offered_by_name=stored.offered_by.name,
                state=stored.state,
                taken_index=stored.taken_index,
                created_at=now,
                updated_at=now,
            )
        )

    async def get(self, offer_id: UUID, *, for_update: bool = False) -> StoredOffer | None:
        stmt = select(offers).where(offers.c.id == offer_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return stored_offer(row) if row else None

    async def lapsing(self, now: datetime, *, limit: int) -> list[StoredOffer]:
        """Open offers past their deadline, earliest first; locked, those another instance
        holds skipped."""
        stmt = (
            select(offers)
            .where(offers.c.state == "OPEN", offers.c.respond_by <= now)
            .order_by(offers.c.respond_by)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [stored_offer(r) for r in (await self._conn.execute(stmt)).all()]

    async def settle(self, offer_id: UUID, state: str, taken_index: int | None = None) -> None:
        await self._conn.execute(
            update(offers)
            .where(offers.c.id == offer_id)
            .values(state=state, taken_index=taken_index, updated_at=self._clock())
        )

    async def close_open(self, lead_id: UUID) -> None:
        """The lead's open offer closed (the advisor decided otherwise meanwhile)."""
        await self._conn.execute(
            update(offers)
            .where(offers.c.lead_id == lead_id, offers.c.state == "OPEN")
            .values(state="CLOSED", updated_at=self._clock())
        )


def stored_offer(row: Any) -> StoredOffer:
    return StoredOffer(
        lead_id=row.lead_id,
        offer=Offer(
            id=row.id,
            times=tuple(
                (datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in row.times
            ),
            respond_by=row.respond_by,
            channel=Channel(row.channel),
            recipient=row.recipient,
        ),
        plan=row.plan,
        offered_by=Actor(row.offered_by, row.offered_by_name),
        state=row.state,
        taken_index=row.taken_index,
    )
