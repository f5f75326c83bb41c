"""The advisor's HTTP API (OpenAPI at /docs)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from osb_contracts._base import (
    ONE_LINE,
    CustomerNumber,
    Identifier,
    LongText,
    ShortText,
    Text,
)
from osb_contracts.branches import EmailAddress
from osb_contracts.leads import AppointmentWarning, CustomerChoice, UnusableValue, VehicleCase
from osb_contracts.matching import (
    DuplicateCriterion,
)
from osb_contracts.values import Channel, ConfirmationChannel, Customer, LeadStatus, Vehicle
from osb_platform import templates as osb_templates
from osb_platform.http import RETRY_AFTER_S, error_responses, field_errors
from osb_platform.matching import MatchingRefusedError, MatchingUnavailableError
from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncEngine

from lead_manager.adapters.queries import LeadFilter, LeadQueries
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.domain.branch import Acceptor, BranchSettings, open_counter_text
from lead_manager.domain.model import (
    STATUS_LABELS,
    Lead,
    PermissionMissingError,
    RuleViolationError,
    TransitionRefusedError,
)
from lead_manager.domain.permissions import PERMISSION_LABELS, Actor, Permission
from lead_manager.entrypoints.auth import CurrentActor, forbidden
from lead_manager.service.commands import (
    LeadNotFoundError,
    RejectLead,
    RequestReusedError,
    ScheduleLead,
    default_branch,
    reject_lead,
    request_resend,
    schedule_lead,
)
from lead_manager.service.ports import ConcurrencyError
from lead_manager.service.queries import (
    HistoryItem,
    IdentificationProposal,
    Model,
    NotificationView,
    notifications_of,
    propose_identification,
)
from lead_manager.service.texts import rejection_subject, render

router = APIRouter(
    prefix="/api/v1", responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503)
)

# What the advisor sends is held to the rules of the contracts that carry it on: the same
# bounds, no control characters, one line where a mail header or a list shows it.
SearchText = Annotated[str, Query(max_length=100, description="live search"), ONE_LINE]


# Every placeholder a template may use (the rejection's here, the confirmation's in the
# notifier), with a value of its kind: a template that fails on them fails at saving.
_SAMPLE = {
    "name": "Frau Dr. Erika Mustermann",
    "salutation": "Frau",
    "first_name": "Erika",
    "last_name": "Mustermann",
    "date": "03.12.2026",
    "time": "09:30",
    "branch": "Autohaus Beispiel",
    "vehicle": "VW Golf HH-AB 123",
    "booking_reference": "B-12345",
}


def _usable(template: str) -> str:
    try:
        osb_templates.render(template, _SAMPLE)
    except osb_templates.TemplateRefusedError as exc:
        raise PydanticCustomError("template", str(exc)) from None
    return template


Template = Annotated[LongText, AfterValidator(_usable)]


# a version the client last saw; the columns are PostgreSQL integers
ExpectedVersion = Annotated[int, Field(ge=1, le=2**31 - 1)]


class LeadView(Model):
    id: UUID
    booking_id: str
    branch_id: str
    status: LeadStatus
    status_label: str
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

    @classmethod
    def of(cls, lead: Lead) -> LeadView:
        return cls(
            id=lead.id,
            booking_id=lead.booking_id,
            branch_id=lead.branch_id,
            status=lead.status,
            status_label=STATUS_LABELS[lead.status],
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
        )


class LeadDetail(LeadView):
    history: list[HistoryItem]
    notifications: list[NotificationView]
    read_only: bool


class LeadPage(Model):
    items: list[LeadView]
    next_cursor: str | None


class OpenCount(Model):
    count: int
    display: str


class RejectBody(Model):
    channel: Channel
    text: LongText = Field(min_length=1)
    subject: Text | None = None
    expected_version: ExpectedVersion | None = None


class RejectionDraft(Model):
    channel: Channel
    channels: list[Channel]
    subject: str | None
    text: str
    templates: list[str]


class CustomerChoiceBody(Model):
    choice: CustomerChoice = CustomerChoice.EXISTING
    customer_number: CustomerNumber | None = None
    apply_to_master: bool = False
    customer: Customer | None = Field(
        default=None,
        description="NEW_CUSTOMER: the master record as completed in the customer mask "
        "(without it, the lead's data)",
    )

    @field_validator("customer")
    @classmethod
    def _only_for_a_new_one(cls, value: Customer | None, info: ValidationInfo) -> Customer | None:
        if value is not None and info.data.get("choice") is not CustomerChoice.NEW_CUSTOMER:
            raise PydanticCustomError("not_new_customer", "only a new customer is entered")
        return value


class ScheduleBody(Model):
    start: datetime
    end: datetime
    acceptor: Identifier
    confirmation: ConfirmationChannel = ConfirmationChannel.NONE
    customer: CustomerChoiceBody = Field(default_factory=CustomerChoiceBody)
    expected_version: ExpectedVersion | None = None
    request_id: UUID | None = Field(
        default=None, description="send the same id again and get the same appointment"
    )


class AppointmentView(Model):
    lead: LeadView
    appointment_id: UUID
    customer_number: str | None
    vehicle_case: VehicleCase | None
    warnings: list[AppointmentWarning]


class ConfigurationCheck(Model):
    ok: bool
    message: str | None


class AcceptorBody(Model):
    id: Identifier
    name: Text = Field(min_length=1)
    active: bool = True


class BranchSettingsBody(Model):
    name: Text = Field(min_length=1)
    acceptors: list[AcceptorBody] = Field(default_factory=list, max_length=200)
    sms_enabled: bool = False
    templates: dict[ShortText, Template] = Field(default_factory=dict, max_length=20)
    cash_sale_customer_number: CustomerNumber | None = None
    # as the duplicate search's contract takes them: one to four, each once
    duplicate_criteria: list[DuplicateCriterion] = Field(
        default_factory=lambda: [DuplicateCriterion.ADDRESS], min_length=1, max_length=4
    )
    sender_email: EmailAddress | None = None

    @field_validator("duplicate_criteria")
    @classmethod
    def _each_once(cls, value: list[DuplicateCriterion]) -> list[DuplicateCriterion]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_criterion", "each criterion at most once")
        return value

    @field_validator("acceptors")
    @classmethod
    def _acceptor_ids_once(cls, value: list[AcceptorBody]) -> list[AcceptorBody]:
        if len({a.id for a in value}) != len(value):
            raise PydanticCustomError("duplicate_acceptor", "each acceptor id at most once")
        return value


class BranchSettingsView(BranchSettingsBody):
    branch_id: str
    version: int
    rejection_channels: list[Channel]


class BranchSettingsUpdate(BranchSettingsBody):
    expected_version: ExpectedVersion | None = None


def _deps(request: Request) -> tuple[AsyncEngine, Callable[[], datetime]]:
    return request.app.state.engine, request.app.state.clock


def _uow(request: Request) -> SqlUnitOfWork:
    engine, clock = _deps(request)
    return SqlUnitOfWork(engine, clock)


def _no_branch() -> HTTPException:
    label = PERMISSION_LABELS[Permission.LEAD_MANAGER]
    return HTTPException(403, detail=f"needs the permission '{label}' for at least one branch")


def _require(actor: Actor, permission: Permission, branch_id: str) -> None:
    if not actor.may(permission, branch_id):
        raise forbidden(permission, branch_id)


def _queries(request: Request) -> LeadQueries:
    queries: LeadQueries = request.app.state.queries
    return queries


async def _visible_lead(request: Request, actor: Actor, lead_id: UUID) -> tuple[Lead, list[Any]]:
    found = await _queries(request).get(lead_id)
    if found is None:
        raise HTTPException(404, detail=f"no lead {lead_id}")
    _require(actor, Permission.LEAD_MANAGER, found[0].branch_id)
    return found


class BranchAccess(Model):
    id: str
    name: str
    permissions: list[Permission]


class Me(Model):
    id: str
    name: str
    branches: list[BranchAccess]


@router.get("/me", response_model=Me, tags=["users"])
async def me(request: Request, actor: CurrentActor) -> Me:
    """The signed-in user and the branches they may work in (the page's branch choice)."""
    branches = []
    async with _uow(request) as uow:
        for branch_id, perms in sorted(actor.branches.items()):
            branch = await uow.branches.get(branch_id) or default_branch(branch_id)
            branches.append(BranchAccess(id=branch_id, name=branch.name, permissions=sorted(perms)))
    return Me(id=actor.id, name=actor.name, branches=branches)


@router.get("/leads", response_model=LeadPage, tags=["leads"])
async def list_leads(
    request: Request,
    actor: CurrentActor,
    branch_id: Annotated[list[str] | None, Query(max_length=50)] = None,
    status: Annotated[list[LeadStatus] | None, Query()] = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    acceptor: Annotated[str | None, Query(max_length=64)] = None,
    q: SearchText | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> LeadPage:
    """The lead list with the selection criteria and the live search, newest first."""
    branches = branch_id or actor.branches_with(Permission.LEAD_MANAGER)
    if not branches:
        raise _no_branch()
    for b in branches:
        _require(actor, Permission.LEAD_MANAGER, b)
    where = LeadFilter(branches, status or (), start_from, start_to, acceptor, q)
    try:
        page = await _queries(request).page(where, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise RuleViolationError("cursor", str(exc)) from None
    return LeadPage(items=[LeadView.of(lead) for lead in page.leads], next_cursor=page.next_cursor)


@router.get("/leads/open-count", response_model=OpenCount, tags=["leads"])
async def open_count(
    request: Request,
    actor: CurrentActor,
    branch_id: Annotated[list[str] | None, Query(max_length=50)] = None,
) -> OpenCount:
    """The counter of NEW leads on the button that opens the lead manager ("9+" above nine)."""
    branches = branch_id or actor.branches_with(Permission.LEAD_MANAGER)
    if not branches:
        raise _no_branch()
    for b in branches:
        _require(actor, Permission.LEAD_MANAGER, b)
    count = await _queries(request).open_count(branches)
    return OpenCount(count=count, display=open_counter_text(count))


@router.get("/leads/{lead_id}", response_model=LeadDetail, tags=["leads"])
async def lead_detail(request: Request, actor: CurrentActor, lead_id: UUID) -> LeadDetail:
    """A lead with its history (who, when, what, why)."""
    lead, history = await _visible_lead(request, actor, lead_id)
    closed = lead.status in (
        LeadStatus.REJECTED,
        LeadStatus.CANCELLED,
        LeadStatus.CANCELLED_BY_CUSTOMER,
    )
    items = [HistoryItem.model_validate(h, from_attributes=True) for h in history]
    return LeadDetail(
        **LeadView.of(lead).model_dump(),
        history=items,
        notifications=notifications_of(items),
        read_only=closed and not actor.may(Permission.EDIT_CANCELLED, lead.branch_id),
    )


@router.get("/leads/{lead_id}/rejection-draft", response_model=RejectionDraft, tags=["leads"])
async def rejection_draft(
    request: Request,
    actor: CurrentActor,
    lead_id: UUID,
    channel: Channel | None = None,
    template: Annotated[str | None, Query(max_length=64)] = None,
) -> RejectionDraft:
    """The text to pre-fill the rejection form with, from the branch's template."""
    lead, _ = await _visible_lead(request, actor, lead_id)
    async with _uow(request) as uow:
        branch = await uow.branches.get(lead.branch_id) or default_branch(lead.branch_id)
    channels = list(branch.rejection_channels())
    chosen = channel or channels[-1]
    if chosen not in channels:
        raise RuleViolationError("channel", "SMS is not enabled for this branch (Freischaltung)")
    name = template or f"rejection_{chosen.value.lower()}"
    if name not in branch.templates:
        raise RuleViolationError("template", f"the branch has no template {name!r}")
    return RejectionDraft(
        channel=chosen,
        channels=channels,
        subject=rejection_subject(branch) if chosen is Channel.EMAIL else None,
        text=render(branch.templates[name], lead, branch),
        templates=sorted(branch.templates),
    )


@router.post("/leads/{lead_id}/reject", response_model=LeadView, tags=["leads"])
async def reject(
    request: Request, actor: CurrentActor, lead_id: UUID, body: RejectBody
) -> LeadView:
    """Ablehnen: REJECTED, and LeadRejected with the final text for the notifier."""
    _, clock = _deps(request)
    command = RejectLead(lead_id, body.channel, body.text, body.subject, body.expected_version)
    lead = await reject_lead(_uow(request), command, actor=actor, clock=clock)
    return LeadView.of(lead)


@router.post("/leads/{lead_id}/schedule", response_model=AppointmentView, tags=["leads"])
async def schedule(
    request: Request, actor: CurrentActor, lead_id: UUID, body: ScheduleBody
) -> AppointmentView:
    """Als Termin anlegen: the customer as chosen, the vehicle identified, the appointment."""
    _, clock = _deps(request)
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
        _uow(request),
        command,
        actor=actor,
        clock=clock,
        new_id=uuid.uuid4,
        matching=request.app.state.matching,
    )
    assert lead.appointment_id is not None
    return AppointmentView(
        lead=LeadView.of(lead),
        appointment_id=lead.appointment_id,
        customer_number=appointment.customer_number if appointment else None,
        vehicle_case=appointment.vehicle_case if appointment else None,
        warnings=list(appointment.warnings) if appointment else [],
    )


@router.get(
    "/leads/{lead_id}/identification", response_model=IdentificationProposal, tags=["leads"]
)
async def identification(
    request: Request, actor: CurrentActor, lead_id: UUID
) -> IdentificationProposal:
    """The customer (known number: its master data; else the ranked duplicate candidates,
    field by field) and the vehicle case for the lead's VIN."""
    loaded = await _queries(request).with_settings(lead_id)
    if loaded is None:
        raise HTTPException(404, detail=f"no lead {lead_id}")
    lead, settings = loaded
    _require(actor, Permission.LEAD_MANAGER, lead.branch_id)
    branch = settings or default_branch(lead.branch_id)
    return await propose_identification(lead, branch, request.app.state.matching)


@router.post(
    "/leads/{lead_id}/notifications/{notification_id}/resend",
    response_model=LeadView,
    status_code=202,
    tags=["leads"],
)
async def resend_notification(
    request: Request, actor: CurrentActor, lead_id: UUID, notification_id: UUID
) -> LeadView:
    """Send an e-mail or SMS of this lead again (the notifier reports the outcome)."""
    _, clock = _deps(request)
    lead = await request_resend(_uow(request), lead_id, notification_id, actor=actor, clock=clock)
    return LeadView.of(lead)


@router.get(
    "/branches/{branch_id}/configuration-check",
    response_model=ConfigurationCheck,
    tags=["branches"],
)
async def configuration_check(
    request: Request, actor: CurrentActor, branch_id: str
) -> ConfigurationCheck:
    """What the lead manager checks on opening: at least one active acceptor."""
    _require(actor, Permission.LEAD_MANAGER, branch_id)
    async with _uow(request) as uow:
        branch = await uow.branches.get(branch_id) or default_branch(branch_id)
    problem = branch.configuration_problem()
    return ConfigurationCheck(ok=problem is None, message=problem)


def _settings_view(branch: BranchSettings) -> BranchSettingsView:
    return BranchSettingsView(
        branch_id=branch.branch_id,
        version=branch.version,
        name=branch.name,
        acceptors=[AcceptorBody(id=a.id, name=a.name, active=a.active) for a in branch.acceptors],
        sms_enabled=branch.sms_enabled,
        templates=branch.templates,
        cash_sale_customer_number=branch.cash_sale_customer_number,
        duplicate_criteria=list(branch.duplicate_criteria),
        sender_email=branch.sender_email,
        rejection_channels=list(branch.rejection_channels()),
    )


@router.get("/branches/{branch_id}/settings", response_model=BranchSettingsView, tags=["branches"])
async def read_settings(
    request: Request, actor: CurrentActor, branch_id: str
) -> BranchSettingsView:
    if not (
        actor.may(Permission.OSB_ADMIN, branch_id) or actor.may(Permission.LEAD_MANAGER, branch_id)
    ):
        raise forbidden(Permission.OSB_ADMIN, branch_id)
    async with _uow(request) as uow:
        branch = await uow.branches.get(branch_id) or default_branch(branch_id)
    return _settings_view(branch)


@router.put("/branches/{branch_id}/settings", response_model=BranchSettingsView, tags=["branches"])
async def write_settings(
    request: Request, actor: CurrentActor, branch_id: str, body: BranchSettingsUpdate
) -> BranchSettingsView:
    """OSB settings of a branch; administrators only."""
    _require(actor, Permission.OSB_ADMIN, branch_id)
    settings = BranchSettings(
        branch_id=branch_id,
        name=body.name,
        acceptors=tuple(Acceptor(a.id, a.name, a.active) for a in body.acceptors),
        sms_enabled=body.sms_enabled,
        templates=body.templates or default_branch(branch_id).templates,
        cash_sale_customer_number=body.cash_sale_customer_number,
        duplicate_criteria=tuple(body.duplicate_criteria),
        sender_email=body.sender_email,
    )
    async with _uow(request) as uow:
        stored = await uow.branches.put(
            settings, updated_by=actor.id, expected_version=body.expected_version
        )
        await uow.commit()
    return _settings_view(stored)


def install_domain_errors(app: FastAPI) -> None:
    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return field_errors(404, [], f"no lead {exc}")

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return field_errors(409, [("version", str(exc))], "changed by someone else")

    async def reused(_: Request, exc: Exception) -> JSONResponse:
        return field_errors(409, [("request_id", str(exc))], str(exc))

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TransitionRefusedError)
        status = 403 if isinstance(exc, PermissionMissingError) else 409
        return field_errors(status, [("status", exc.reason)], exc.reason)

    async def rule(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RuleViolationError)
        return field_errors(422, [(exc.field, exc.reason)], exc.reason)

    app.add_exception_handler(LeadNotFoundError, not_found)
    app.add_exception_handler(ConcurrencyError, conflict)
    app.add_exception_handler(RequestReusedError, reused)
    app.add_exception_handler(TransitionRefusedError, refused)
    app.add_exception_handler(RuleViolationError, rule)

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        response = field_errors(503, [("customer-matching", str(exc))], str(exc))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)  # as for any dependency down
        return response

    async def refused_by_matching(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MatchingRefusedError)
        return field_errors(422, [("customer", exc.reason)], str(exc))

    app.add_exception_handler(MatchingUnavailableError, unavailable)
    app.add_exception_handler(MatchingRefusedError, refused_by_matching)
