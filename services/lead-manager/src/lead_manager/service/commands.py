"""What an advisor or administrator asks for through the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from osb_contracts.leads import AppointmentWarning, CustomerChoice, VehicleCase
from osb_contracts.values import Channel, ConfirmationChannel

from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import Appointment, Lead, RuleViolationError
from lead_manager.domain.permissions import Actor
from lead_manager.service.ports import ConcurrencyError, UnitOfWork
from lead_manager.service.texts import rejection_subject


class LeadNotFoundError(LookupError):
    """No lead with that id (or none the user may see)."""


@dataclass(frozen=True)
class RejectLead:
    lead_id: UUID
    channel: Channel
    text: str
    subject: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class ScheduleLead:
    lead_id: UUID
    start: datetime
    end: datetime
    acceptor: str
    confirmation: ConfirmationChannel = ConfirmationChannel.NONE
    expected_version: int | None = None


def default_branch(branch_id: str) -> BranchSettings:
    return BranchSettings(branch_id=branch_id, name=branch_id)


async def load(uow: UnitOfWork, lead_id: UUID, expected_version: int | None) -> Lead:
    lead = await uow.leads.get(lead_id)
    if lead is None:
        raise LeadNotFoundError(str(lead_id))
    if expected_version is not None and expected_version != lead.version:
        raise ConcurrencyError(
            f"the lead is at version {lead.version}, not {expected_version}: reload it"
        )
    return lead


def recipient_for(lead: Lead, channel: Channel) -> str:
    if channel is Channel.EMAIL:
        if not lead.customer.email:
            raise RuleViolationError("channel", "the customer gave no e-mail address")
        return str(lead.customer.email)
    number = lead.customer.mobile or lead.customer.phone
    if not number:
        raise RuleViolationError("channel", "the customer gave no phone number for an SMS")
    return number


def check_channel(branch: BranchSettings, channel: Channel) -> None:
    if channel not in branch.rejection_channels():
        raise RuleViolationError("channel", "SMS is not enabled for this branch (Freischaltung)")


async def reject_lead(
    uow: UnitOfWork, command: RejectLead, *, actor: Actor, clock: Callable[[], datetime]
) -> Lead:
    async with uow:
        lead = await load(uow, command.lead_id, command.expected_version)
        branch = await uow.branches.get(lead.branch_id) or default_branch(lead.branch_id)
        check_channel(branch, command.channel)
        subject = command.subject or (
            rejection_subject(branch) if command.channel is Channel.EMAIL else None
        )
        lead.reject(
            actor=actor,
            channel=command.channel,
            recipient=recipient_for(lead, command.channel),
            text=command.text,
            subject=subject,
            at=clock(),
        )
        await uow.leads.save(lead)
        uow.track(lead)
        await uow.commit()
    return lead


VEHICLE_NOT_CHECKED = AppointmentWarning(
    code="VEHICLE_NOT_CHECKED",
    message="Fahrzeug nicht mit dem Fahrzeugstamm abgeglichen: als Durchlauffahrzeug angelegt",
)


async def schedule_lead(
    uow: UnitOfWork,
    command: ScheduleLead,
    *,
    actor: Actor,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
) -> Lead:
    """Schedule a lead whose customer number is known (the identification dialog comes later)."""
    async with uow:
        lead = await load(uow, command.lead_id, command.expected_version)
        branch = await uow.branches.get(lead.branch_id) or default_branch(lead.branch_id)
        if not lead.customer.customer_number:
            raise RuleViolationError(
                "customer", "the customer must be identified first (no customer number)"
            )
        if not branch.is_active_acceptor(command.acceptor):
            raise RuleViolationError("acceptor", "not an active acceptor of this branch")
        recipient = None
        if command.confirmation is not ConfirmationChannel.NONE:
            channel = Channel(command.confirmation.value)
            check_channel(branch, channel)
            recipient = recipient_for(lead, channel)
        appointment = Appointment(
            id=new_id(),
            start=command.start,
            end=command.end,
            acceptor=command.acceptor,
            customer_number=lead.customer.customer_number,
            customer_choice=CustomerChoice.EXISTING,
            customer=lead.customer,
            vehicle=lead.vehicle,
            vehicle_case=VehicleCase.TRANSIT,
            warnings=(VEHICLE_NOT_CHECKED,),
            confirmation=command.confirmation,
            recipient=recipient,
        )
        lead.schedule(actor=actor, appointment=appointment, at=clock())
        await uow.leads.save(lead)
        await uow.leads.add_appointment(lead, appointment)
        uow.track(lead)
        await uow.commit()
    return lead


async def request_resend(
    uow: UnitOfWork,
    lead_id: UUID,
    notification_id: UUID,
    *,
    actor: Actor,
    clock: Callable[[], datetime],
) -> Lead:
    async with uow:
        lead = await load(uow, lead_id, None)
        if not await uow.leads.has_notification(lead.id, notification_id):
            raise RuleViolationError("notification_id", "no such notification for this lead")
        lead.request_resend(actor=actor, notification_id=notification_id, at=clock())
        uow.track(lead)
        await uow.commit()
    return lead
