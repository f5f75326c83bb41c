"""What the advisor reads, for the API's routes and the page's alike: a lead with its
history and notifications, the rejection's draft, a branch's settings, and the
identification proposal (asking customer-matching). Each checks the reader's permission
before it reveals anything."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any, Self
from uuid import UUID

from osb_contracts.leads import AppointmentWarning, UnusableValue, VehicleCase
from osb_contracts.matching import (
    DuplicateCandidate,
    DuplicateCriterion,
    DuplicateSearchResult,
    VehicleLookupResult,
    VehicleOwnership,
)
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle
from pydantic import BaseModel, ConfigDict

from lead_manager.domain.branch import (
    BranchSettings,
    Deadline,
    default_branch,
    open_counter_text,
)
from lead_manager.domain.identification import preselected, seen_by, vehicle_case
from lead_manager.domain.model import (
    AccessDeniedError,
    Lead,
    RuleViolationError,
    require,
)
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.service.commands import LeadNotFoundError, check_channel
from lead_manager.service.live import ChangeLog, Position, Subscription
from lead_manager.service.ports import Identification, LeadFilter, LeadReads, UnitOfWork
from lead_manager.service.texts import DISPLAY_ZONE, rejection_subject, render


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryItem(Model):
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    from_status: LeadStatus | None
    to_status: LeadStatus
    reason: str | None
    details: dict[str, Any]


def _running(lead: Lead) -> bool:
    """Whether the lead's response deadline runs: only a new lead's does."""
    return lead.status is LeadStatus.NEW and lead.respond_by is not None


class DeadlineView(Model):
    """A new lead's response deadline: the opening time left (or, ``overdue``, past it)."""

    respond_by: datetime
    overdue: bool
    near: bool  # a quarter of the response time or less left
    minutes: int

    @classmethod
    def of(cls, deadline: Deadline) -> Self:
        minutes = int(deadline.working.total_seconds() // 60)
        return cls(
            respond_by=deadline.respond_by,
            overdue=deadline.overdue,
            near=deadline.near,
            minutes=minutes,
        )


class LeadView(Model):
    id: UUID
    booking_id: str
    branch_id: str
    status: LeadStatus
    version: int
    received_at: datetime
    requested_start: datetime
    requested_end: datetime | None
    services: list[str]
    comment: str | None
    warnings: list[str]
    customer: Customer
    vehicle: Vehicle
    # what the customer typed that cannot be used: as typed, with the field and why
    unusable: list[UnusableValue]
    appointment_id: UUID | None
    acceptor: str | None
    # while the lead is new: how its response deadline stands
    deadline: DeadlineView | None = None
    arrived_at: datetime | None = None  # the customer checked in for the appointment (DMS)
    # the customer confirmed the appointment by a link (a confirmation's or a reminder's)
    confirmed_by_customer_at: datetime | None = None

    @classmethod
    def of(
        cls, lead: Lead, settings: BranchSettings | None = None, now: datetime | None = None
    ) -> Self:
        deadline = None
        if _running(lead) and lead.respond_by and settings and now:
            deadline = DeadlineView.of(settings.deadline(lead.respond_by, now))
        return cls(
            deadline=deadline,
            id=lead.id,
            booking_id=lead.booking_id,
            branch_id=lead.branch_id,
            status=lead.status,
            version=lead.version,
            received_at=lead.received_at,
            requested_start=lead.requested_start,
            requested_end=lead.requested_end,
            services=list(lead.services),
            comment=lead.comment,
            warnings=list(lead.warnings),
            customer=lead.customer,
            vehicle=lead.vehicle,
            unusable=list(lead.unusable),
            appointment_id=lead.appointment_id,
            acceptor=lead.acceptor,
            arrived_at=lead.arrived_at,
            confirmed_by_customer_at=lead.confirmed_by_customer_at,
        )


class NotificationView(Model):
    """One e-mail or SMS sent for the lead, as the notifier last reported it."""

    notification_id: UUID
    channel: Channel
    status: str  # SENT, FAILED or RESEND_REQUESTED
    at: datetime
    attempts: int | None
    reason: str | None
    error_code: str | None = None  # the notifier's FailureCode, or a server's refusal
    permanent: bool = True  # False: the notifier tries again
    escalation: bool = False  # to the branch's escalation address (an overdue lead)
    reminder: bool = False  # an appointment's reminder


_NOTIFICATION_STATUS = {
    "notification sent": "SENT",
    "notification failed": "FAILED",
    "notification resend requested": "RESEND_REQUESTED",
}


def notifications_of(history: list[HistoryItem]) -> list[NotificationView]:
    """The delivery status per notification: its latest outcome in the lead's history."""
    latest: dict[str, NotificationView] = {}
    for item in history:
        status = _NOTIFICATION_STATUS.get(item.action)
        nid = item.details.get("notification_id")
        if status is None or nid is None:
            continue
        before = latest.get(nid)
        channel = item.details.get("channel") or (before.channel if before else None)
        if channel is None:
            continue
        attempts = item.details.get("attempts")
        latest[nid] = NotificationView(
            notification_id=UUID(nid),
            channel=Channel(channel),
            status=status,
            at=item.at,
            attempts=int(attempts) if attempts else (before.attempts if before else None),
            reason=item.reason,
            error_code=item.details.get("error_code"),
            permanent=item.details.get("permanent") != "False",
            escalation=item.details.get("purpose") == "escalation"
            or (before.escalation if before else False),
            reminder=item.details.get("purpose") == "reminder"
            or (before.reminder if before else False),
        )
    return sorted(latest.values(), key=lambda n: n.at)


class ScheduledView(Model):
    """The appointment created for the lead: when, with whom, for which customer."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    start: datetime
    end: datetime
    acceptor: str
    customer_number: str
    vehicle_case: VehicleCase
    deleted_at: datetime | None


class OfferView(Model):
    """The lead's counter-offer: the times, until when the customer may take one, and how
    it stands (OPEN, TAKEN with the time's index, LAPSED, CLOSED)."""

    times: list[tuple[datetime, datetime]]
    respond_by: datetime
    channel: Channel
    state: str
    taken_index: int | None = None


class LeadDetail(LeadView):
    history: list[HistoryItem]
    notifications: list[NotificationView]
    read_only: bool
    appointment: ScheduledView | None = None
    offer: OfferView | None = None


async def lead_detail(
    reads: LeadReads, actor: Actor, lead_id: UUID, *, now: datetime
) -> LeadDetail:
    """A lead with its history (who, when, what, why), its notifications' status and, while
    it is new, its response deadline."""
    found = await reads.get(lead_id)
    if found is None:
        raise LeadNotFoundError(str(lead_id))
    lead, history = found
    lead.authorise(actor)
    settings = await _settings_of(reads, [lead.branch_id] if _running(lead) else [])
    items = [HistoryItem.model_validate(h, from_attributes=True) for h in history]
    scheduled = await reads.appointment(lead.appointment_id) if lead.appointment_id else None
    # the offer read only for a lead that had one: the detail is the page's hot path
    ever_offered = any(h.action == "offered" for h in items)
    offered = await reads.offer_of(lead.id) if ever_offered else None
    return LeadDetail(
        **LeadView.of(lead, settings.get(lead.branch_id), now).model_dump(),
        history=items,
        notifications=notifications_of(items),
        read_only=lead.read_only_for(actor),
        appointment=None if scheduled is None else ScheduledView.model_validate(scheduled),
        offer=None
        if offered is None
        else OfferView(
            times=list(offered.offer.times),
            respond_by=offered.offer.respond_by,
            channel=offered.offer.channel,
            state=offered.state,
            taken_index=offered.taken_index,
        ),
    )


class LeadPage(Model):
    items: list[LeadView]
    next_cursor: str | None
    # on the first page: how many of the first items are new leads past their deadline
    # (most overdue first, ahead of the newest; the later pages leave them out)
    overdue: int = 0


async def _settings_of(reads: LeadReads, branch_ids: Sequence[str]) -> dict[str, BranchSettings]:
    """Each branch's settings, the defaults for one never set (no read for none)."""
    if not branch_ids:
        return {}
    found = {s.branch_id: s for s in await reads.settings_of(sorted(set(branch_ids)))}
    return {b: found.get(b) or default_branch(b) for b in branch_ids}


def _readable(actor: Actor, branch_ids: Sequence[str] | None) -> Sequence[str]:
    """The branches asked for, else all the actor works in; each must be the actor's."""
    branches = branch_ids or actor.branches_with(Permission.LEAD_MANAGER)
    if not branches:
        raise AccessDeniedError(
            f"needs the permission {Permission.LEAD_MANAGER} for at least one branch",
            permission=Permission.LEAD_MANAGER.value,
        )
    for branch_id in branches:
        require(actor, Permission.LEAD_MANAGER, branch_id)
    return branches


def watch_changes(
    changes: ChangeLog, actor: Actor, branch_ids: Sequence[str] | None, since: Position | None
) -> Subscription:
    """The live stream of the branches' lead changes (all the actor works in when none are
    named) after ``since``."""
    return changes.subscribe(_readable(actor, branch_ids), since)


async def lead_page(
    reads: LeadReads,
    actor: Actor,
    where: LeadFilter,
    *,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> LeadPage:
    """The lead list with the selection criteria and the live search, newest first, the
    overdue new leads ahead of the first page; no branch in ``where``: every branch the
    actor works in."""
    where = replace(where, branch_ids=_readable(actor, where.branch_ids))
    try:
        page = await reads.page(where, limit=limit, cursor=cursor, now=now)
    except ValueError as exc:
        raise RuleViolationError("cursor", str(exc), code="CURSOR_INVALID") from None
    leads = page.overdue + page.leads
    settings = await _settings_of(reads, [lead.branch_id for lead in leads if _running(lead)])
    return LeadPage(
        items=[LeadView.of(lead, settings.get(lead.branch_id), now) for lead in leads],
        next_cursor=page.next_cursor,
        overdue=len(page.overdue),
    )


class OpenCount(Model):
    count: int
    display: str


async def open_count(reads: LeadReads, actor: Actor, branch_ids: Sequence[str] | None) -> OpenCount:
    """The counter of NEW leads on the button that opens the lead manager ("9+" above nine)."""
    count = await reads.open_count(_readable(actor, branch_ids))
    return OpenCount(count=count, display=open_counter_text(count))


async def branch_settings(uow: UnitOfWork, actor: Actor, branch_id: str) -> BranchSettings:
    """A branch's OSB settings (the defaults until saved), for its administrators and its
    advisors."""
    if not actor.may(Permission.LEAD_MANAGER, branch_id):
        require(actor, Permission.OSB_ADMIN, branch_id)
    async with uow:
        return await uow.branches.get(branch_id) or default_branch(branch_id)


# An open lead asked for no end: shown for this long in the Servicetermin Manager.
TENTATIVE_MINUTES = 60


class CalendarItem(Model):
    lead_id: UUID
    status: LeadStatus
    start: datetime
    end: datetime
    acceptor: str | None  # None: a new lead at its requested time (tentative)
    name: str
    licence_plate: str | None
    appointment_id: UUID | None
    tentative: bool


class AcceptorColumn(Model):
    id: str
    name: str
    active: bool


class AppointmentOverview(Model):
    """The Servicetermin Manager: the branch's appointments from ``first_day`` for ``days``
    days in the branch's time zone, per acceptor (the branch's acceptors first, then any an
    appointment names that the settings no longer do)."""

    branch_id: str
    first_day: date
    days: int
    zone: str
    new_leads: bool
    acceptors: list[AcceptorColumn]
    entries: list[CalendarItem]


async def appointment_overview(
    reads: LeadReads,
    uow: UnitOfWork,
    actor: Actor,
    branch_id: str,
    *,
    day: date,
    week: bool,
    new_leads: bool,
) -> AppointmentOverview:
    """``day`` alone, or its week (Monday to Sunday)."""
    require(actor, Permission.LEAD_MANAGER, branch_id)
    first_day = day - timedelta(days=day.weekday()) if week else day
    days = 7 if week else 1
    async with uow:
        branch = await uow.branches.get(branch_id) or default_branch(branch_id)
    start = datetime.combine(first_day, time(), DISPLAY_ZONE)
    end = datetime.combine(first_day + timedelta(days=days), time(), DISPLAY_ZONE)
    found = await reads.calendar(branch_id, start, end, new_leads=new_leads)
    booked = {e.acceptor for e in found if e.acceptor}
    columns = [
        AcceptorColumn(id=a.id, name=a.name, active=a.active)
        for a in branch.acceptors
        if a.active or a.id in booked
    ]
    known = {a.id for a in branch.acceptors}
    columns += [AcceptorColumn(id=a, name=a, active=False) for a in sorted(booked - known)]
    entries = [
        CalendarItem(
            lead_id=e.lead_id,
            status=e.status,
            start=e.start,
            end=e.end or e.start + timedelta(minutes=TENTATIVE_MINUTES),
            acceptor=e.acceptor,
            name=" ".join(p for p in (e.first_name, e.last_name) if p),
            licence_plate=e.licence_plate,
            appointment_id=e.appointment_id,
            tentative=e.appointment_id is None,
        )
        for e in found
    ]
    return AppointmentOverview(
        branch_id=branch_id,
        first_day=first_day,
        days=days,
        zone=DISPLAY_ZONE.key,
        new_leads=new_leads,
        acceptors=columns,
        entries=entries,
    )


class RejectionDraft(Model):
    channel: Channel
    channels: list[Channel]
    subject: str | None
    text: str
    templates: list[str]


async def rejection_draft(
    reads: LeadReads,
    actor: Actor,
    lead_id: UUID,
    channel: Channel | None = None,
    template: str | None = None,
) -> RejectionDraft:
    """The text to pre-fill the rejection form with, from the branch's template."""
    lead, branch = await _with_branch(reads, actor, lead_id)
    channels = list(branch.rejection_channels())
    chosen = channel or channels[-1]
    check_channel(branch, chosen)
    name = template or f"rejection_{chosen.value.lower()}"
    offered = sorted(n for n in branch.templates if n.startswith("rejection"))
    if name not in offered:
        raise RuleViolationError(
            "template", f"the branch has no template {name!r}", code="TEMPLATE_UNKNOWN", name=name
        )
    return RejectionDraft(
        channel=chosen,
        channels=channels,
        subject=rejection_subject(branch) if chosen is Channel.EMAIL else None,
        text=render(branch.templates[name], lead, branch),
        templates=offered,  # a rejection offers rejection texts only
    )


async def _with_branch(
    reads: LeadReads, actor: Actor, lead_id: UUID
) -> tuple[Lead, BranchSettings]:
    loaded = await reads.with_settings(lead_id)
    if loaded is None:
        raise LeadNotFoundError(str(lead_id))
    lead, settings = loaded
    lead.authorise(actor)
    return lead, settings or default_branch(lead.branch_id)


class VehicleCaseView(Model):
    """The lead's vehicle as it is for one customer, and the warnings saving with them gives."""

    case: VehicleCase
    warnings: list[AppointmentWarning]

    @classmethod
    def of(cls, lead: Lead, lookup: VehicleLookupResult | None, number: str | None) -> Self:
        case, _, warnings = vehicle_case(lead.vehicle, seen_by(lookup, number))
        return cls(case=case, warnings=list(warnings))


class VehicleProposal(Model):
    """``case`` and ``warnings`` for the selected customer (the known one, the preselected
    candidate, else a new customer); ``ownership`` and the owner as the vehicle master
    holds them."""

    case: VehicleCase
    ownership: VehicleOwnership | None
    owner_customer_number: str | None
    vehicle: Vehicle | None
    warnings: list[AppointmentWarning]
    new_customer: VehicleCaseView  # for "Neuer Kunde"


class ProposedCandidate(DuplicateCandidate):
    vehicle: VehicleCaseView  # the lead's vehicle if this candidate is chosen


class IdentificationProposal(Model):
    """What the advisor decides on: the known customer, or the ranked duplicates with the
    one preselected (only a "certain" one ranked first); the vehicle for each."""

    lead_customer: Customer
    customer_number: str | None
    master: Customer | None
    candidates: list[ProposedCandidate]
    selected: str | None
    criteria: list[DuplicateCriterion]
    vehicle: VehicleProposal


async def identification(
    reads: LeadReads, matching: Identification, actor: Actor, lead_id: UUID
) -> IdentificationProposal:
    """The identification proposal for a lead the actor may see."""
    lead, branch = await _with_branch(reads, actor, lead_id)
    return await propose_identification(lead, branch, matching)


async def propose_identification(
    lead: Lead, branch: BranchSettings, matching: Identification
) -> IdentificationProposal:
    """The known customer, or the ranked duplicate candidates with the one preselected,
    and the vehicle case for each choice."""
    number = lead.customer.customer_number
    vin = lead.vehicle.vin

    async def owner() -> VehicleLookupResult | None:
        # the vehicle's owner as the vehicle master holds it: each case is judged against it
        return await matching.vehicle(vin, customer_number=None) if vin else None

    def search() -> Awaitable[DuplicateSearchResult]:
        return matching.duplicates(
            lead.customer,
            branch_id=lead.branch_id,
            criteria=branch.duplicate_criteria,
            vin=vin,
            lead_id=lead.id,
        )

    # each question a round trip to customer-matching; those needed together asked at once
    candidates: list[ProposedCandidate] = []
    found: DuplicateSearchResult | None = None
    if number:
        master, lookup = await asyncio.gather(matching.customer(number), owner())
        if master is None:  # a number the master does not know: search as for none
            found = await search()
    else:
        master = None
        found = await search()  # the search looks the VIN up as well
        lookup = found.vehicle if found.vehicle or not vin else await owner()
    if found is not None:
        candidates = [
            ProposedCandidate(
                **dict(c), vehicle=VehicleCaseView.of(lead, lookup, c.customer_number)
            )
            for c in found.candidates
        ]
    selected = number if master is not None else preselected(candidates)
    case, vehicle, warnings = vehicle_case(lead.vehicle, seen_by(lookup, selected))
    return IdentificationProposal(
        lead_customer=lead.customer,
        customer_number=number if master is not None else None,
        master=master,
        candidates=candidates,
        selected=selected if master is None else None,
        criteria=list(branch.duplicate_criteria),
        vehicle=VehicleProposal(
            case=case,
            ownership=lookup.ownership if lookup else None,
            owner_customer_number=lookup.owner_customer_number if lookup else None,
            vehicle=vehicle,
            warnings=list(warnings),
            new_customer=VehicleCaseView.of(lead, lookup, None),
        ),
    )
