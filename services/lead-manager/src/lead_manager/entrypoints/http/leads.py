"""The lead routes: the list, a lead, the advisor's actions on it. Each is a call into the
service layer (``service.queries`` to read, ``service.commands`` to act)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from osb_contracts.values import Channel, LeadStatus
from osb_platform.http import error_responses

from lead_manager.entrypoints.auth import CurrentActor
from lead_manager.entrypoints.http.deps import Clock, Matching, Reads, Work
from lead_manager.entrypoints.http.schemas import (
    AppointmentView,
    OfferBody,
    RejectBody,
    ScheduleBody,
    SearchText,
)
from lead_manager.service import queries
from lead_manager.service.commands import (
    OfferLead,
    RejectLead,
    ScheduleLead,
    offer_lead,
    reject_lead,
    request_resend,
    schedule_lead,
)
from lead_manager.service.ports import LeadFilter
from lead_manager.service.queries import (
    IdentificationProposal,
    LeadDetail,
    LeadPage,
    LeadView,
    OpenCount,
    RejectionDraft,
)

router = APIRouter(
    prefix="/api/v1",
    tags=["leads"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503),
)

Branches = Annotated[list[str] | None, Query(max_length=50)]


@router.get("/leads", response_model=LeadPage)
async def list_leads(
    reads: Reads,
    clock: Clock,
    actor: CurrentActor,
    branch_id: Branches = None,
    status: Annotated[list[LeadStatus] | None, Query()] = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    acceptor: Annotated[str | None, Query(max_length=64)] = None,
    q: SearchText | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> LeadPage:
    """The lead list with the selection criteria and the live search, newest first."""
    where = LeadFilter(branch_id or [], status or (), start_from, start_to, acceptor, q)
    return await queries.lead_page(reads, actor, where, limit=limit, cursor=cursor, now=clock())


@router.get("/leads/open-count", response_model=OpenCount)
async def open_count(reads: Reads, actor: CurrentActor, branch_id: Branches = None) -> OpenCount:
    """The counter of NEW leads on the button that opens the lead manager ("9+" above nine)."""
    return await queries.open_count(reads, actor, branch_id)


@router.get("/leads/{lead_id}", response_model=LeadDetail)
async def lead_detail(reads: Reads, clock: Clock, actor: CurrentActor, lead_id: UUID) -> LeadDetail:
    """A lead with its history (who, when, what, why) and, while new, its deadline."""
    return await queries.lead_detail(reads, actor, lead_id, now=clock())


@router.get("/leads/{lead_id}/rejection-draft", response_model=RejectionDraft)
async def rejection_draft(
    reads: Reads,
    actor: CurrentActor,
    lead_id: UUID,
    channel: Channel | None = None,
    template: Annotated[str | None, Query(max_length=64)] = None,
) -> RejectionDraft:
    """The text to pre-fill the rejection form with, from the branch's template."""
    return await queries.rejection_draft(reads, actor, lead_id, channel, template)


@router.post("/leads/{lead_id}/reject", response_model=LeadView)
async def reject(
    uow: Work, clock: Clock, actor: CurrentActor, lead_id: UUID, body: RejectBody
) -> LeadView:
    """Ablehnen: REJECTED, and LeadRejected with the final text for the notifier."""
    command = RejectLead(
        lead_id, body.channel, body.text, body.subject, body.expected_version, body.reason
    )
    return LeadView.of(await reject_lead(uow, command, actor=actor, clock=clock))


@router.post("/leads/{lead_id}/offer", response_model=LeadView)
async def offer(
    uow: Work, clock: Clock, actor: CurrentActor, lead_id: UUID, body: OfferBody
) -> LeadView:
    """Ablehnen mit Terminvorschlag: OFFERED, and AppointmentOffered for the notifier; the
    customer takes a time by its link, or the branch's deadline rejects the lead."""
    command = OfferLead(
        lead_id,
        tuple((t.start, t.end) for t in body.times),
        body.channel,
        body.acceptor,
        body.customer.choice,
        body.customer.customer_number,
        body.expected_version,
    )
    return LeadView.of(await offer_lead(uow, command, actor=actor, clock=clock, new_id=uuid.uuid4))


@router.post("/leads/{lead_id}/schedule", response_model=AppointmentView)
async def schedule(
    uow: Work,
    clock: Clock,
    matching: Matching,
    actor: CurrentActor,
    lead_id: UUID,
    body: ScheduleBody,
) -> AppointmentView:
    """Als Termin anlegen: the customer as chosen, the vehicle identified, the appointment."""
    command = ScheduleLead(
        lead_id,
        body.start,
        body.end,
        body.acceptor,
        body.confirmation,
        body.customer.choice,
        body.customer.customer_number,
        body.customer.apply_to_master,
        body.expected_version,
        body.request_id,
        body.customer.customer,
    )
    lead, appointment = await schedule_lead(
        uow, command, actor=actor, clock=clock, new_id=uuid.uuid4, matching=matching
    )
    assert lead.appointment_id is not None
    return AppointmentView(
        lead=LeadView.of(lead),
        appointment_id=lead.appointment_id,
        customer_number=appointment.customer_number if appointment else None,
        vehicle_case=appointment.vehicle_case if appointment else None,
        warnings=list(appointment.warnings) if appointment else [],
    )


@router.get("/leads/{lead_id}/identification", response_model=IdentificationProposal)
async def identification(
    reads: Reads, matching: Matching, actor: CurrentActor, lead_id: UUID
) -> IdentificationProposal:
    """The customer (known number: its master data; else the ranked duplicate candidates,
    field by field) and the vehicle case for the lead's VIN."""
    return await queries.identification(reads, matching, actor, lead_id)


@router.post(
    "/leads/{lead_id}/notifications/{notification_id}/resend",
    response_model=LeadView,
    status_code=202,
)
async def resend_notification(
    uow: Work, clock: Clock, actor: CurrentActor, lead_id: UUID, notification_id: UUID
) -> LeadView:
    """Send an e-mail or SMS of this lead again (the notifier reports the outcome)."""
    lead = await request_resend(uow, lead_id, notification_id, actor=actor, clock=clock)
    return LeadView.of(lead)
