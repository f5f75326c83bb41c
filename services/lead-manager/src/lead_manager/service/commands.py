"""What an advisor or administrator asks for through the API."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from osb_contracts import Message
from osb_contracts.customers import CustomerMasterUpdateRequested
from osb_contracts.leads import CustomerChoice, OfferTaken
from osb_contracts.values import Channel, ConfirmationChannel, Customer, LeadStatus
from osb_platform.tracing import step
from prometheus_client import Counter, Histogram

from lead_manager.domain.branch import BranchSettings, default_branch
from lead_manager.domain.identification import merge_taking_lead_data, vehicle_case
from lead_manager.domain.model import (
    Appointment,
    Lead,
    Offer,
    RuleViolationError,
    Trigger,
    require,
)
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.domain.reminders import plan_reminders
from lead_manager.service.ports import (
    ConcurrencyError,
    Identification,
    StoredOffer,
    UnitOfWork,
)
from lead_manager.service.texts import rejection_subject


class LeadNotFoundError(LookupError):
    """No lead with that id (or none the user may see)."""


class RequestReusedError(Exception):
    """A request id sent again for another lead, by another user or with another body."""


@dataclass(frozen=True)
class RejectLead:
    lead_id: UUID
    channel: Channel
    text: str
    subject: str | None = None
    expected_version: int | None = None
    reason: str | None = None  # one of the branch's rejection reasons


@dataclass(frozen=True)
class ScheduleLead:
    lead_id: UUID
    start: datetime
    end: datetime
    acceptor: str
    confirmation: ConfirmationChannel = ConfirmationChannel.NONE
    customer_choice: CustomerChoice = CustomerChoice.EXISTING
    customer_number: str | None = None  # EXISTING / MERGE_*: the master customer chosen
    apply_to_master: bool = False  # MERGE_LEAD_DATA: "In Stammdaten übernehmen"
    expected_version: int | None = None
    request_id: UUID | None = None  # sent twice, one appointment
    # NEW_CUSTOMER: the master record as the advisor completed it (Kundenstamm-Maske)
    new_customer: Customer | None = None

    def fingerprint(self, actor: Actor) -> str:
        """What makes a repeat the same request: the lead, the user and every field asked."""
        fields = {**asdict(self), "request_id": None, "actor": actor.id}
        if self.new_customer is not None:
            fields["new_customer"] = self.new_customer.model_dump(mode="json")
        canonical = json.dumps(fields, default=str, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


DECISIONS = Counter(
    "osb_lead_manager_decisions_total",
    "Leads an advisor scheduled or rejected, by branch and decision",
    ["branch_id", "decision"],
)
DECISION_TIME = Histogram(
    "osb_lead_manager_decision_working_seconds",
    "Opening time from a lead's arrival to its first decision, by branch",
    ["branch_id"],
    buckets=(300, 900, 1800, 3600, 7200, 14400, 28800, 57600, 115200, 230400),
)


def count_decision(lead: Lead, branch: BranchSettings, *, first: bool, at: datetime) -> None:
    """The decision's metrics (after its commit); the time only for a lead's first one."""
    DECISIONS.labels(lead.branch_id, lead.status.value).inc()
    if first:
        waited = branch.calendar().between(lead.received_at, at)
        DECISION_TIME.labels(lead.branch_id).observe(waited.total_seconds())


async def settings_of(uow: UnitOfWork, branch_ids: Iterable[str]) -> dict[str, BranchSettings]:
    """Each branch's settings (the defaults for one never set), each read once."""
    return {b: await uow.branches.get(b) or default_branch(b) for b in dict.fromkeys(branch_ids)}


async def load(uow: UnitOfWork, lead_id: UUID, expected_version: int | None) -> Lead:
    lead = await uow.leads.get(lead_id)
    if lead is None:
        raise LeadNotFoundError(str(lead_id))
    _expect_version(lead, expected_version)
    return lead


def _expect_version(lead: Lead, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != lead.version:
        raise ConcurrencyError(
            f"the lead is at version {lead.version}, not {expected_version}: reload it"
        )


def contact(customer: Customer, channel: Channel) -> str | None:
    """Where ``channel`` reaches the customer: the e-mail, or the mobile (else the phone)."""
    if channel is Channel.EMAIL:
        return str(customer.email) if customer.email else None
    return customer.mobile or customer.phone


def recipient_for(customer: Customer, channel: Channel) -> str:
    found = contact(customer, channel)
    if found:
        return found
    if channel is Channel.EMAIL:
        raise RuleViolationError("channel", "the customer gave no e-mail address", code="NO_EMAIL")
    raise RuleViolationError(
        "channel", "the customer gave no phone number for an SMS", code="NO_PHONE"
    )


def check_channel(branch: BranchSettings, channel: Channel) -> None:
    if channel not in branch.rejection_channels():
        raise RuleViolationError(
            "channel", "SMS is not enabled for this branch", code="SMS_NOT_ENABLED"
        )


async def reject_lead(
    uow: UnitOfWork, command: RejectLead, *, actor: Actor, clock: Callable[[], datetime]
) -> Lead:
    async with uow:
        lead = await load(uow, command.lead_id, command.expected_version)
        branch = await uow.branches.get(lead.branch_id) or default_branch(lead.branch_id)
        check_channel(branch, command.channel)
        if command.reason is not None and command.reason not in branch.rejection_reasons:
            raise RuleViolationError(
                "reason", "not one of the branch's rejection reasons", code="REASON_UNKNOWN"
            )
        subject = command.subject or (
            rejection_subject(branch) if command.channel is Channel.EMAIL else None
        )
        first, at = lead.status in OPEN_STATUSES, clock()
        with step("reject lead", lead.trace_parent, link_current=True) as traceparent:
            lead.reject(
                actor=actor,
                channel=command.channel,
                recipient=recipient_for(lead.customer, command.channel),
                text=command.text,
                subject=subject,
                at=at,
                reason=command.reason,
            )
            await uow.leads.save(lead)
            await uow.offers.close_open(lead.id)  # an offer withdrawn by the rejection
            uow.track(lead, traceparent=traceparent)
            await uow.commit()
    count_decision(lead, branch, first=first, at=at)
    return lead


_REGISTRATION_NAMESPACE = UUID("9d2f6c1e-4b7a-4e8f-a3c5-0e1d2b3c4a5f")


@dataclass(frozen=True)
class ResolvedCustomer:
    number: str
    data: Customer
    extra_events: tuple[Message, ...] = ()


async def resolve_customer(
    lead: Lead,
    command: ScheduleLead,
    branch: BranchSettings,
    *,
    actor: Actor,
    matching: Identification,
    clock: Callable[[], datetime],
) -> ResolvedCustomer:
    """The customer the appointment is for, per the advisor's choice (remote calls only)."""
    choice = command.customer_choice
    if command.new_customer is not None and choice is not CustomerChoice.NEW_CUSTOMER:
        raise RuleViolationError(
            "customer.customer", "only a new customer is entered", code="ONLY_NEW_CUSTOMER"
        )
    if choice is CustomerChoice.CASH_SALE:
        if not branch.cash_sale_customer_number:
            raise RuleViolationError(
                "customer", "the branch has no cash-sale customer number", code="NO_CASH_SALE"
            )
        number = branch.cash_sale_customer_number
        return ResolvedCustomer(
            number, lead.customer.model_copy(update={"customer_number": number})
        )
    if choice is CustomerChoice.NEW_CUSTOMER:
        # Derived from the request, so a retry registers no second customer.
        registration_id = uuid5(_REGISTRATION_NAMESPACE, str(command.request_id or lead.id))
        entered = command.new_customer or lead.customer
        result = await matching.register(
            entered.model_copy(update={"customer_number": None}),
            branch_id=lead.branch_id,
            requested_by=actor.id,
            lead_id=lead.id,
            request_id=registration_id,
        )
        number = result.customer_number
        return ResolvedCustomer(number, entered.model_copy(update={"customer_number": number}))
    chosen = command.customer_number or lead.customer.customer_number
    if not chosen:
        raise RuleViolationError(
            "customer_number", "choose the master customer first", code="CUSTOMER_NOT_CHOSEN"
        )
    number = chosen
    master = await matching.customer(number)
    if master is None:
        raise RuleViolationError(
            "customer_number",
            f"no customer {number} in the customer master",
            code="CUSTOMER_UNKNOWN",
            number=number,
        )
    if choice is CustomerChoice.MERGE_LEAD_DATA:
        merged, changes = merge_taking_lead_data(lead.customer, master)
        events: tuple[Message, ...] = ()
        if command.apply_to_master and changes:
            events = (
                CustomerMasterUpdateRequested(
                    customer_number=number,
                    branch_id=lead.branch_id,
                    lead_id=lead.id,
                    requested_by=actor.id,
                    requested_at=clock(),
                    changes=changes,
                ),
            )
        return ResolvedCustomer(number, merged, events)
    return ResolvedCustomer(number, master)  # EXISTING, MERGE_MASTER_DATA: the master as it is


async def schedule_lead(
    uow: UnitOfWork,
    command: ScheduleLead,
    *,
    actor: Actor,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
    matching: Identification,
    taking: tuple[UUID, int] | None = None,
) -> tuple[Lead, Appointment | None]:
    """Als Termin anlegen. Remote questions first, then one transaction: the status change,
    the appointment and every event commit together, or nothing does. ``taking``: the
    offer and the index of the time the customer took (settled with the appointment); an
    open offer of the lead is closed otherwise.
    """
    fingerprint = command.fingerprint(actor)
    async with uow:
        lead = await load(uow, command.lead_id, None)
        lead.authorise(actor)
        if command.request_id:
            earlier = await uow.leads.request_fingerprint(command.request_id)
            if earlier is not None and earlier != fingerprint:
                raise RequestReusedError(
                    "this request_id was used for another lead, user or appointment"
                )
            if earlier is not None:
                return lead, None  # this very request was carried out already
        _expect_version(lead, command.expected_version)
        branch = await uow.branches.get(lead.branch_id) or default_branch(lead.branch_id)
    lead.ensure_allowed(Trigger.SCHEDULE, actor)
    if not branch.is_active_acceptor(command.acceptor):
        raise RuleViolationError(
            "acceptor", "not an active acceptor of this branch", code="ACCEPTOR_INACTIVE"
        )
    channel = None
    if command.confirmation is not ConfirmationChannel.NONE:
        channel = Channel(command.confirmation.value)
        check_channel(branch, channel)
        entered = command.new_customer or lead.customer
        known_now = command.customer_choice in (
            CustomerChoice.NEW_CUSTOMER,
            CustomerChoice.CASH_SALE,
        )
        if known_now and not contact(entered, channel):
            # refused before customer-matching registers anyone
            recipient_for(lead.customer, channel)  # raises unless the lead has it
    customer = await resolve_customer(
        lead, command, branch, actor=actor, matching=matching, clock=clock
    )
    # the confirmation goes where the appointment's customer is reached (the master's
    # mobile when the advisor took the master data), else where the lead was booked from
    recipient = (
        None
        if channel is None
        else contact(customer.data, channel) or recipient_for(lead.customer, channel)
    )
    lookup = (
        await matching.vehicle(lead.vehicle.vin, customer_number=customer.number)
        if lead.vehicle.vin
        else None
    )
    case, vehicle, warnings = vehicle_case(lead.vehicle, lookup)
    appointment = Appointment(
        id=new_id(),
        start=command.start,
        end=command.end,
        acceptor=command.acceptor,
        customer_number=customer.number,
        customer_choice=command.customer_choice,
        customer=customer.data,
        vehicle=vehicle,
        vehicle_case=case,
        warnings=warnings,
        confirmation=command.confirmation,
        recipient=recipient,
        request_id=command.request_id,
        request_fingerprint=fingerprint if command.request_id else None,
    )
    async with uow:
        current = await load(uow, command.lead_id, lead.version)
        first, at = current.status in OPEN_STATUSES, clock()
        with step("schedule lead", current.trace_parent, link_current=True) as traceparent:
            current.schedule(actor=actor, appointment=appointment, at=at)
            current.events.extend(customer.extra_events)
            await uow.leads.save(current)
            await uow.leads.add_appointment(current, appointment)
            await plan_reminders_of(uow, current, appointment, branch, now=at)
            if taking is not None:
                await uow.offers.settle(taking[0], "TAKEN", taking[1])
            await uow.offers.close_open(current.id)
            uow.track(current, traceparent=traceparent)
            await uow.commit()
    count_decision(current, branch, first=first, at=at)
    return current, appointment


# a lead nobody has decided yet: new, or with a counter-offer out (its decision comes next)
OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.OFFERED)
# the customer's time to take an offered time ends at least this long before the first
OFFER_MARGIN = timedelta(hours=1)
# what a counter-offer's taken time is scheduled with: the advisor's choice then
OFFERABLE = (CustomerChoice.CASH_SALE, CustomerChoice.EXISTING, CustomerChoice.MERGE_MASTER_DATA)
_TAKE_NAMESPACE = UUID("1f4e7c2a-8b3d-4a6e-9c5f-7d2e0b1a3c48")


@dataclass(frozen=True)
class OfferLead:
    """Ablehnen mit Terminvorschlag: one to three times, sent by ``channel``; a time the
    customer takes is scheduled with ``acceptor`` and the customer chosen here."""

    lead_id: UUID
    times: tuple[tuple[datetime, datetime], ...]
    channel: Channel
    acceptor: str
    customer_choice: CustomerChoice = CustomerChoice.CASH_SALE
    customer_number: str | None = None
    expected_version: int | None = None


async def offer_lead(
    uow: UnitOfWork,
    command: OfferLead,
    *,
    actor: Actor,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
) -> Lead:
    async with uow:
        lead = await load(uow, command.lead_id, command.expected_version)
        lead.authorise(actor)
        branch = await uow.branches.get(lead.branch_id) or default_branch(lead.branch_id)
        check_channel(branch, command.channel)
        if not branch.is_active_acceptor(command.acceptor):
            raise RuleViolationError(
                "acceptor", "not an active acceptor of this branch", code="ACCEPTOR_INACTIVE"
            )
        choice = command.customer_choice
        if choice not in OFFERABLE:
            raise RuleViolationError(
                "customer.choice",
                "an offer is scheduled for the cash-sale or a chosen master customer",
                code="OFFER_CHOICE",
            )
        number = command.customer_number or lead.customer.customer_number
        if choice is CustomerChoice.CASH_SALE and not branch.cash_sale_customer_number:
            raise RuleViolationError(
                "customer", "the branch has no cash-sale customer number", code="NO_CASH_SALE"
            )
        if choice is not CustomerChoice.CASH_SALE and not number:
            raise RuleViolationError(
                "customer_number", "choose the master customer first", code="CUSTOMER_NOT_CHOSEN"
            )
        at = clock()
        first = min((start for start, _ in command.times), default=at)
        offer = Offer(
            id=new_id(),
            times=command.times,
            respond_by=min(at + timedelta(hours=branch.offer_response_hours), first - OFFER_MARGIN),
            channel=command.channel,
            recipient=recipient_for(lead.customer, command.channel),
        )
        with step("offer times", lead.trace_parent, link_current=True) as traceparent:
            lead.offer(actor=actor, offer=offer, at=at)
            plan = {
                "acceptor": command.acceptor,
                "confirmation": command.channel.value,
                "customer_choice": choice.value,
                "customer_number": number if choice is not CustomerChoice.CASH_SALE else None,
            }
            offered_by = Actor(actor.id, actor.name)
            await uow.offers.add(StoredOffer(lead.id, offer, plan, offered_by, "OPEN"))
            await uow.leads.save(lead)
            uow.track(lead, traceparent=traceparent)
            await uow.commit()
    return lead


async def take_offer(
    make_uow: Callable[[], UnitOfWork],
    taken: OfferTaken,
    *,
    clock: Callable[[], datetime],
    new_id: Callable[[], UUID],
    matching: Identification,
) -> Lead | None:
    """The customer took an offered time: scheduled as the advisor planned it when
    offering, by that advisor's authority, once (the request id is the offer's and the
    time's, so a redelivery is the same appointment). None: the offer is not open."""
    async with make_uow() as uow:
        stored = await uow.offers.get(taken.offer_id)
    if (
        stored is None
        or stored.lead_id != taken.lead_id
        or taken.time_index >= len(stored.offer.times)
        or stored.state not in ("OPEN", "TAKEN")
        or (stored.state == "TAKEN" and stored.taken_index != taken.time_index)
    ):
        return None
    start, end = stored.offer.times[taken.time_index]
    plan = stored.plan
    command = ScheduleLead(
        lead_id=taken.lead_id,
        start=start,
        end=end,
        acceptor=plan["acceptor"],
        confirmation=ConfirmationChannel(plan["confirmation"]),
        customer_choice=CustomerChoice(plan["customer_choice"]),
        customer_number=plan["customer_number"],
        request_id=uuid5(_TAKE_NAMESPACE, f"{taken.offer_id}/{taken.time_index}"),
    )
    actor = Actor(
        stored.offered_by.id,
        stored.offered_by.name,
        {taken.branch_id: frozenset({Permission.LEAD_MANAGER})},
    )
    lead, _ = await schedule_lead(
        make_uow(),
        command,
        actor=actor,
        clock=clock,
        new_id=new_id,
        matching=matching,
        taking=(taken.offer_id, taken.time_index),
    )
    return lead


async def plan_reminders_of(
    uow: UnitOfWork, lead: Lead, appointment: Appointment, branch: BranchSettings, *, now: datetime
) -> None:
    """The appointment's reminders by its confirmation's channel (none without one); those of
    the lead's earlier appointment are cancelled."""
    planned = []
    channel = appointment.confirmation
    if channel is not ConfirmationChannel.NONE and appointment.recipient:
        planned = plan_reminders(
            appointment.start, branch.reminder_offsets, branch.zone, branch.reminder_quiet, now
        )
    await uow.reminders.cancel_pending(lead.id)
    if planned and appointment.recipient:
        await uow.reminders.add(
            lead.id, appointment.id, Channel(channel.value), appointment.recipient, planned
        )


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
            raise RuleViolationError(
                "notification_id", "no such notification for this lead", code="NOTIFICATION_UNKNOWN"
            )
        with step("request resend", lead.trace_parent, link_current=True) as traceparent:
            lead.request_resend(actor=actor, notification_id=notification_id, at=clock())
            uow.track(lead, traceparent=traceparent)
            await uow.commit()
    return lead


async def save_settings(
    uow: UnitOfWork, settings: BranchSettings, *, actor: Actor, expected_version: int | None
) -> BranchSettings:
    """A branch's OSB settings as its administrator saved them (published to the other
    services through the outbox in the same transaction)."""
    require(actor, Permission.OSB_ADMIN, settings.branch_id)
    async with uow:
        stored = await uow.branches.put(
            settings, updated_by=actor.id, expected_version=expected_version
        )
        await uow.commit()
    return stored
