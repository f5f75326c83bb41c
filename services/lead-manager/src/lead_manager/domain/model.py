"""The lead (Terminlead), its statuses and every transition DOMAIN.md allows.

The aggregate records what happened in ``events`` (contracts to publish through the outbox)
and ``history`` (what the advisor sees); it never publishes or stores anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from osb_contracts import Message
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    AppointmentWarning,
    CustomerChoice,
    LeadArrived,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadConfirmedByCustomer,
    LeadCreated,
    LeadNoShow,
    LeadNotificationOutcome,
    LeadOverdue,
    LeadRejected,
    LeadReminderDue,
    LeadRequested,
    LeadRescheduleRequested,
    LeadUpdated,
    NotificationPurpose,
    OfferedTime,
    UnusableValue,
    VehicleCase,
)
from osb_contracts.notifications import (
    NotificationFailed,
    NotificationResendRequested,
    NotificationSent,
)
from osb_contracts.values import Channel, ConfirmationChannel, Customer, LeadStatus, Vehicle

from lead_manager.domain.permissions import (
    SYSTEM_APPOINTMENTS,
    SYSTEM_DEADLINE,
    SYSTEM_NOTIFIER,
    SYSTEM_OFFERS,
    Actor,
    Permission,
)


class Trigger(StrEnum):
    SCHEDULE = "SCHEDULE"
    REJECT = "REJECT"
    APPOINTMENT_DELETED = "APPOINTMENT_DELETED"
    CUSTOMER_CANCELS = "CUSTOMER_CANCELS"
    CORRECT_DATA = "CORRECT_DATA"
    ARRIVE = "ARRIVE"
    NO_SHOW = "NO_SHOW"
    CUSTOMER_RESCHEDULES = "CUSTOMER_RESCHEDULES"
    OFFER = "OFFER"
    OFFER_LAPSES = "OFFER_LAPSES"


_VERBS = {  # for the English reasons; the page phrases the codes in German
    Trigger.SCHEDULE: "schedule",
    Trigger.REJECT: "reject",
    Trigger.APPOINTMENT_DELETED: "cancel for a deleted appointment",
    Trigger.CUSTOMER_CANCELS: "cancel on the customer's behalf",
    Trigger.CORRECT_DATA: "correct",
    Trigger.ARRIVE: "mark arrived",
    Trigger.NO_SHOW: "mark a no-show",
    Trigger.CUSTOMER_RESCHEDULES: "reschedule on the customer's behalf",
    Trigger.OFFER: "offer other times for",
    Trigger.OFFER_LAPSES: "let the offer lapse for",
}

_S = LeadStatus
_CLOSED = (_S.REJECTED, _S.CANCELLED_BY_CUSTOMER, _S.CANCELLED, _S.NO_SHOW)
# (from, trigger) -> (to, needs "Stornierte Terminleads bearbeiten"). DOMAIN.md treats CANCELLED
# leads (appointment deleted in the DMS) like REJECTED ones.
TRANSITIONS: dict[tuple[LeadStatus, Trigger], tuple[LeadStatus, bool]] = {
    (_S.NEW, Trigger.SCHEDULE): (_S.SCHEDULED, False),
    (_S.NEW, Trigger.REJECT): (_S.REJECTED, False),
    (_S.SCHEDULED, Trigger.APPOINTMENT_DELETED): (_S.CANCELLED, False),
    (_S.NEW, Trigger.CUSTOMER_CANCELS): (_S.CANCELLED_BY_CUSTOMER, False),
    (_S.SCHEDULED, Trigger.CUSTOMER_CANCELS): (_S.CANCELLED_BY_CUSTOMER, False),
    (_S.NEW, Trigger.CORRECT_DATA): (_S.NEW, False),
    # the customer did not come by the start and the grace; arriving later makes it good
    (_S.SCHEDULED, Trigger.NO_SHOW): (_S.NO_SHOW, False),
    (_S.SCHEDULED, Trigger.ARRIVE): (_S.SCHEDULED, False),
    (_S.NO_SHOW, Trigger.ARRIVE): (_S.SCHEDULED, False),
    (_S.NO_SHOW, Trigger.APPOINTMENT_DELETED): (_S.CANCELLED, False),
    # the customer asks for another time by a link: the advisor decides anew
    (_S.SCHEDULED, Trigger.CUSTOMER_RESCHEDULES): (_S.NEW, False),
    # Ablehnen mit Terminvorschlag: taken (or scheduled by the advisor), lapsed, withdrawn
    (_S.NEW, Trigger.OFFER): (_S.OFFERED, False),
    (_S.OFFERED, Trigger.SCHEDULE): (_S.SCHEDULED, False),
    (_S.OFFERED, Trigger.OFFER_LAPSES): (_S.REJECTED, False),
    (_S.OFFERED, Trigger.REJECT): (_S.REJECTED, False),
    (_S.OFFERED, Trigger.CUSTOMER_CANCELS): (_S.CANCELLED_BY_CUSTOMER, False),
    (_S.OFFERED, Trigger.CORRECT_DATA): (_S.OFFERED, False),
    **{(s, Trigger.CORRECT_DATA): (s, True) for s in _CLOSED},
    **{(s, Trigger.SCHEDULE): (_S.SCHEDULED, True) for s in _CLOSED},
}


class LeadError(Exception):
    """A refusal the advisor may see: a stable ``code`` and its ``params`` for the page to
    phrase (in German, in the web layer), and an English ``reason`` for the API and logs."""

    code = "REFUSED"

    def __init__(self, reason: str, *, code: str | None = None, **params: str) -> None:
        self.reason = reason
        self.params = params
        if code is not None:
            self.code = code
        super().__init__(reason)


class TransitionRefusedError(LeadError):
    """The trigger is not allowed in the lead's status; nothing changed."""

    code = "TRANSITION_REFUSED"


class PermissionMissingError(TransitionRefusedError):
    """Allowed in principle, but not for this user (a closed lead without the permission
    to edit cancelled leads)."""

    code = "READ_ONLY"


class AccessDeniedError(PermissionMissingError):
    """The user lacks a permission for the branch, whatever the lead's status."""

    code = "PERMISSION_MISSING"


def require(actor: Actor, permission: Permission, branch_id: str) -> None:
    if not actor.may(permission, branch_id):
        raise AccessDeniedError(
            f"needs the permission {permission} for branch {branch_id}",
            permission=permission.value,
            branch=branch_id,
        )


class RuleViolationError(LeadError, ValueError):
    """The request breaks a rule of the branch (SMS not enabled, no text, ...)."""

    def __init__(self, field: str, reason: str, *, code: str, **params: str) -> None:
        self.field = field
        super().__init__(f"{field}: {reason}", code=code, field=field, **params)
        self.reason = reason


def decide(status: LeadStatus, trigger: Trigger, *, may_edit_cancelled: bool) -> LeadStatus:
    """The status after ``trigger``, or the reason it is refused."""
    rule = TRANSITIONS.get((status, trigger))
    if rule is None:
        raise TransitionRefusedError(
            f"cannot {_VERBS[trigger]} a lead in status {status}",
            status=status.value,
            trigger=trigger.value,
        )
    target, needs_permission = rule
    if needs_permission and not may_edit_cancelled:
        raise PermissionMissingError(
            f"a lead in status {status} is read-only without the permission "
            f"{Permission.EDIT_CANCELLED}",
            status=status.value,
            permission=Permission.EDIT_CANCELLED.value,
        )
    return target


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    from_status: LeadStatus | None
    to_status: LeadStatus
    reason: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Appointment:
    id: UUID
    start: datetime
    end: datetime
    acceptor: str
    customer_number: str
    customer_choice: CustomerChoice
    customer: Customer
    vehicle: Vehicle
    vehicle_case: VehicleCase
    warnings: tuple[AppointmentWarning, ...] = ()
    confirmation: ConfirmationChannel = ConfirmationChannel.NONE
    recipient: str | None = None
    request_id: UUID | None = None  # the advisor's request: sent twice, one appointment
    request_fingerprint: str | None = None  # the lead, user and body the request_id stands for


@dataclass(frozen=True)
class Offer:
    """Ablehnen mit Terminvorschlag: one to three other times sent to the customer, taken
    by a link by ``respond_by`` or the lead is rejected with the branch's text."""

    id: UUID
    times: tuple[tuple[datetime, datetime], ...]
    respond_by: datetime
    channel: Channel
    recipient: str


@dataclass(frozen=True)
class Reminder:
    """An appointment's reminder whose time has come (``service/ports.DueReminder``)."""

    id: UUID
    appointment_id: UUID
    offset_minutes: int
    due_at: datetime
    channel: Channel
    recipient: str
    start: datetime
    end: datetime
    customer: Customer
    vehicle: Vehicle


@dataclass
class Lead:
    id: UUID
    booking_id: str
    branch_id: str
    status: LeadStatus
    received_at: datetime
    requested_start: datetime
    customer: Customer
    vehicle: Vehicle
    requested_end: datetime | None = None
    services: tuple[str, ...] = ()
    comment: str | None = None
    warnings: tuple[str, ...] = ()
    # what the customer typed that cannot be used, kept as typed (not in customer/vehicle)
    unusable: tuple[UnusableValue, ...] = ()
    appointment_id: UUID | None = None
    acceptor: str | None = None
    # a new lead is to be answered by then: the branch's response time in its opening hours
    respond_by: datetime | None = None
    escalated_at: datetime | None = None  # when it was reported overdue (once)
    arrived_at: datetime | None = None  # the customer's arrival for the appointment (DMS)
    # the customer confirmed the appointment by a link in a confirmation or reminder
    confirmed_by_customer_at: datetime | None = None
    trace_parent: str | None = None  # the booking's trace context (W3C traceparent)
    version: int = 1
    events: list[Message] = field(default_factory=list, compare=False)
    new_history: list[HistoryEntry] = field(default_factory=list, compare=False)

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def create(cls, request: LeadRequested, *, actor: Actor, at: datetime) -> Lead:
        lead = cls(
            id=request.lead_id,
            booking_id=request.booking_id,
            branch_id=request.branch_id,
            status=LeadStatus.NEW,
            received_at=request.received_at,
            requested_start=request.requested_start,
            requested_end=request.requested_end,
            services=request.services,
            customer=request.customer,
            vehicle=request.vehicle,
            comment=request.comment,
            warnings=request.warnings,
            unusable=request.unusable,
        )
        lead._record(actor, at, "created", None, reason="booked on the portal")
        lead.events.append(
            LeadCreated(
                lead_id=lead.id,
                booking_id=lead.booking_id,
                branch_id=lead.branch_id,
                created_at=at,
                requested_start=lead.requested_start,
                requested_end=lead.requested_end,
                services=lead.services,
                customer=lead.customer,
                vehicle=lead.vehicle,
                unusable=lead.unusable,
            )
        )
        return lead

    # -- transitions -------------------------------------------------------------------------
    def reject(
        self,
        *,
        actor: Actor,
        channel: Channel,
        recipient: str,
        text: str,
        subject: str | None,
        at: datetime,
        reason: str | None = None,
    ) -> None:
        self._require(actor, Permission.LEAD_MANAGER)
        target = self._decide(Trigger.REJECT, actor)
        if not text.strip():
            raise RuleViolationError("text", "the customer needs a text", code="TEXT_MISSING")
        previous = self._move(target)
        details = {"channel": channel.value}
        self._record(actor, at, "rejected", previous, reason=reason, details=details)
        self._rejected(actor, channel, recipient, text, subject, at, reason)

    def _rejected(
        self,
        actor: Actor,
        channel: Channel,
        recipient: str,
        text: str,
        subject: str | None,
        at: datetime,
        reason: str | None = None,
    ) -> None:
        """``LeadRejected`` with the final text for the notifier."""
        self.events.append(
            LeadRejected(
                lead_id=self.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                rejected_by=actor.id,
                rejected_at=at,
                channel=channel,
                recipient=recipient,
                subject=subject,
                text=text,
                customer=self.customer,
                reason=reason,
            )
        )

    def schedule(self, *, actor: Actor, appointment: Appointment, at: datetime) -> None:
        self._require(actor, Permission.LEAD_MANAGER)
        target = self._decide(Trigger.SCHEDULE, actor)
        if appointment.end <= appointment.start:
            raise RuleViolationError(
                "end", "the appointment ends before it starts", code="END_BEFORE_START"
            )
        previous = self._move(target)
        self.appointment_id = appointment.id
        self.acceptor = appointment.acceptor
        self.arrived_at = None  # a new appointment: its customer has not come yet
        self.confirmed_by_customer_at = None  # nor confirmed it
        self._record(
            actor,
            at,
            "scheduled",
            previous,
            details={
                "appointment_id": str(appointment.id),
                "customer_number": appointment.customer_number,
                "vehicle_case": appointment.vehicle_case.value,
            },
        )
        self.events.append(
            AppointmentCreated(
                lead_id=self.id,
                appointment_id=appointment.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                start=appointment.start,
                end=appointment.end,
                acceptor=appointment.acceptor,
                customer_number=appointment.customer_number,
                customer_choice=appointment.customer_choice,
                customer=appointment.customer,
                vehicle=appointment.vehicle,
                vehicle_case=appointment.vehicle_case,
                warnings=appointment.warnings,
                services=self.services,
                confirmation=appointment.confirmation,
                recipient=appointment.recipient,
                created_by=actor.id,
                created_at=at,
            )
        )

    def offer(self, *, actor: Actor, offer: Offer, at: datetime) -> None:
        """Propose other times instead of the requested one (OFFERED)."""
        self._require(actor, Permission.LEAD_MANAGER)
        target = self._decide(Trigger.OFFER, actor)
        if not 1 <= len(offer.times) <= 3:
            raise RuleViolationError("times", "one to three times", code="OFFER_TIMES")
        if offer.respond_by <= at:
            raise RuleViolationError(
                "times", "no time left for the customer to answer", code="OFFER_TOO_SOON"
            )
        if len({start for start, _ in offer.times}) != len(offer.times):
            raise RuleViolationError("times", "a time offered twice", code="OFFER_TWICE")
        for start, end in offer.times:
            if end <= start:
                raise RuleViolationError(
                    "times", "a time ends before it starts", code="END_BEFORE_START"
                )
            if start <= offer.respond_by or start <= at:
                raise RuleViolationError(
                    "times", "a time before the customer can take it", code="OFFER_TOO_SOON"
                )
        previous = self._move(target)
        details = {f"time_{i + 1}": start.isoformat() for i, (start, _) in enumerate(offer.times)}
        self._record(actor, at, "offered", previous, details={**details, "channel": offer.channel})
        self.events.append(
            AppointmentOffered(
                lead_id=self.id,
                offer_id=offer.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                times=tuple(OfferedTime(start=s, end=e) for s, e in offer.times),
                respond_by=offer.respond_by,
                channel=offer.channel,
                recipient=offer.recipient,
                customer=self.customer,
                vehicle=self.vehicle,
                services=self.services,
                offered_by=actor.id,
                offered_at=at,
            )
        )

    def lapse_offer(
        self, *, channel: Channel, recipient: str, text: str, subject: str | None, at: datetime
    ) -> None:
        """The offer was not taken by its deadline: rejected with the branch's text."""
        target = self._decide(Trigger.OFFER_LAPSES, SYSTEM_OFFERS)
        previous = self._move(target)
        self._record(SYSTEM_OFFERS, at, "offer lapsed", previous)
        self._rejected(SYSTEM_OFFERS, channel, recipient, text, subject, at)

    def cancel_for_deleted_appointment(
        self, *, actor: Actor, appointment_id: UUID, at: datetime, reason: str | None = None
    ) -> None:
        if appointment_id != self.appointment_id:
            raise TransitionRefusedError(
                "the deleted appointment is not this lead's appointment",
                code="NOT_THIS_APPOINTMENT",
            )
        target = self._decide(Trigger.APPOINTMENT_DELETED, actor)
        previous = self._move(target)
        self._record(actor, at, "appointment deleted in the DMS", previous, reason=reason)
        self.events.append(
            LeadCancelled(
                lead_id=self.id,
                appointment_id=appointment_id,
                branch_id=self.branch_id,
                cancelled_at=at,
                reason=reason,
            )
        )

    def escalate(self, *, at: datetime, escalation_email: str | None) -> None:
        """Report the lead overdue: a new lead past its deadline, once."""
        if self.status is not LeadStatus.NEW or self.respond_by is None:
            raise RuleViolationError("status", "only a new lead has a deadline", code="NOT_NEW")
        if self.respond_by > at or self.escalated_at is not None:
            raise RuleViolationError(
                "respond_by", "not overdue, or reported already", code="NOT_OVERDUE"
            )
        self.escalated_at = at
        self._record(SYSTEM_DEADLINE, at, "deadline passed", None)
        self.events.append(
            LeadOverdue(
                lead_id=self.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                received_at=self.received_at,
                respond_by=self.respond_by,
                overdue_at=at,
                escalation_email=escalation_email,
            )
        )

    def arrive(self, *, actor: Actor, appointment_id: UUID, at: datetime) -> None:
        """The DMS checked the customer in for the lead's appointment (once); a lead marked
        a no-show is scheduled again: the customer came late."""
        if appointment_id != self.appointment_id:
            raise TransitionRefusedError(
                "the arrival is for another appointment than this lead's",
                code="NOT_THIS_APPOINTMENT",
            )
        if self.arrived_at is not None:
            raise TransitionRefusedError("the arrival is known already", code="ARRIVED_ALREADY")
        target = self._decide(Trigger.ARRIVE, actor)
        previous = self._move(target)
        self.arrived_at = at
        late = previous is LeadStatus.NO_SHOW
        self._record(actor, at, "arrived late" if late else "arrived", previous)
        self.events.append(
            LeadArrived(
                lead_id=self.id,
                branch_id=self.branch_id,
                appointment_id=appointment_id,
                arrived_at=at,
                status=self.status,
            )
        )

    def mark_no_show(self, *, appointment_start: datetime, at: datetime) -> None:
        """No arrival by the appointment's start and the branch's grace (the caller's
        judgement of ``at``): NO_SHOW, once."""
        if self.arrived_at is not None:
            raise RuleViolationError("arrived_at", "the customer arrived", code="ARRIVED")
        target = self._decide(Trigger.NO_SHOW, SYSTEM_APPOINTMENTS)
        assert self.appointment_id is not None  # a scheduled lead has one
        previous = self._move(target)
        self._record(SYSTEM_APPOINTMENTS, at, "no-show", previous)
        self.events.append(
            LeadNoShow(
                lead_id=self.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                appointment_id=self.appointment_id,
                appointment_start=appointment_start,
                noted_at=at,
            )
        )

    def remind(self, reminder: Reminder, *, at: datetime) -> None:
        """An appointment's reminder is due: for the notifier to send (the lead unchanged)."""
        if (
            self.status is not LeadStatus.SCHEDULED
            or self.appointment_id != reminder.appointment_id
        ):
            raise RuleViolationError(
                "status", "only a scheduled lead's appointment is reminded", code="NOT_SCHEDULED"
            )
        details = {
            "channel": reminder.channel.value,
            "offset_minutes": str(reminder.offset_minutes),
        }
        self._record(SYSTEM_APPOINTMENTS, at, "reminder due", self.status, details=details)
        self.events.append(
            LeadReminderDue(
                lead_id=self.id,
                reminder_id=reminder.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                appointment_id=reminder.appointment_id,
                start=reminder.start,
                end=reminder.end,
                channel=reminder.channel,
                recipient=reminder.recipient,
                customer=reminder.customer,
                vehicle=reminder.vehicle,
                services=self.services,
                due_at=reminder.due_at,
            )
        )

    def confirm_by_customer(self, *, actor: Actor, appointment_id: UUID, at: datetime) -> None:
        """The customer confirmed the appointment by a link in a message about it (once)."""
        self._require_appointment(appointment_id)
        if self.confirmed_by_customer_at is not None:
            raise TransitionRefusedError("the customer confirmed already", code="CONFIRMED_ALREADY")
        self.confirmed_by_customer_at = at
        self._record(actor, at, "confirmed by the customer", self.status)
        self.events.append(
            LeadConfirmedByCustomer(
                lead_id=self.id,
                branch_id=self.branch_id,
                status=self.status,
                appointment_id=appointment_id,
                confirmed_at=at,
            )
        )

    def request_other_time(
        self,
        *,
        actor: Actor,
        appointment_id: UUID,
        requested_start: datetime,
        note: str | None,
        at: datetime,
    ) -> None:
        """The customer asked for another time by a link: NEW again with the wish as the
        requested time (its deadline the caller's to set); the DMS removes the appointment."""
        self._require_appointment(appointment_id)
        previous = self._move(self._decide(Trigger.CUSTOMER_RESCHEDULES, actor))
        self.requested_start, self.requested_end = requested_start, None
        self.appointment_id = None
        self.arrived_at = self.confirmed_by_customer_at = self.escalated_at = None
        self._record(
            actor,
            at,
            "other time wanted by the customer",
            previous,
            reason=note,
            details={"appointment_id": str(appointment_id)},
        )
        self.events.append(
            LeadRescheduleRequested(
                lead_id=self.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                appointment_id=appointment_id,
                requested_start=requested_start,
                note=note,
                requested_at=at,
            )
        )

    def _require_appointment(self, appointment_id: UUID) -> None:
        """A customer's link names the appointment it was sent for: only that one, while
        the lead is scheduled with it."""
        if self.status is not LeadStatus.SCHEDULED or appointment_id != self.appointment_id:
            raise TransitionRefusedError(
                "the customer's link is for an appointment this lead no longer has",
                code="NOT_THIS_APPOINTMENT",
            )

    def cancel_by_customer(
        self,
        *,
        actor: Actor,
        at: datetime,
        reason: str | None,
        appointment_id: UUID | None = None,
    ) -> None:
        """``appointment_id``: the appointment the customer's link named (None: the portal's
        cancellation of the booking, whatever became of it)."""
        if appointment_id is not None and appointment_id != self.appointment_id:
            raise TransitionRefusedError(
                "the cancellation is for an appointment this lead no longer has",
                code="NOT_THIS_APPOINTMENT",
            )
        target = self._decide(Trigger.CUSTOMER_CANCELS, actor)
        previous = self._move(target)
        self._record(actor, at, "cancelled by the customer", previous, reason=reason)
        self.events.append(
            LeadCancelledByCustomer(
                lead_id=self.id,
                booking_id=self.booking_id,
                branch_id=self.branch_id,
                appointment_id=self.appointment_id,
                cancelled_at=at,
                previous_status=previous,
            )
        )

    def correct(
        self, *, actor: Actor, customer: Customer, vehicle: Vehicle, at: datetime
    ) -> list[str]:
        self._require(actor, Permission.LEAD_MANAGER)
        target = self._decide(Trigger.CORRECT_DATA, actor)
        changed = _changed_fields("customer", self.customer, customer) + _changed_fields(
            "vehicle", self.vehicle, vehicle
        )
        if not changed:
            return []
        previous = self._move(target)
        self.customer, self.vehicle = customer, vehicle
        # a value the advisor corrected is no longer the unusable one the customer typed
        self.unusable = tuple(u for u in self.unusable if u.field not in changed)
        self._record(actor, at, "corrected", previous, details={"fields": ", ".join(changed)})
        self.events.append(
            LeadUpdated(
                lead_id=self.id,
                branch_id=self.branch_id,
                status=self.status,
                updated_by=actor.id,
                updated_at=at,
                changed_fields=tuple(changed),
                customer=customer,
                vehicle=vehicle,
            )
        )
        return changed

    # -- notifications (history only, the status does not change) ---------------------------
    def note_notification(self, outcome: NotificationSent | NotificationFailed) -> None:
        details = {
            "notification_id": str(outcome.notification_id),
            "channel": outcome.channel.value,
            "attempts": str(outcome.attempts),
        }
        purpose = NotificationPurpose.CUSTOMER
        if outcome.source_event_type == LeadOverdue.cloudevents_type():
            purpose = NotificationPurpose.ESCALATION  # to the branch's address
            details["purpose"] = "escalation"
        elif outcome.source_event_type == LeadReminderDue.cloudevents_type():
            purpose = NotificationPurpose.REMINDER
            details["purpose"] = "reminder"
        error_code = None
        if isinstance(outcome, NotificationSent):
            at = outcome.sent_at
            self._record(SYSTEM_NOTIFIER, at, "notification sent", self.status, details=details)
        else:
            at, error_code = outcome.failed_at, outcome.error_code
            details |= {"error_code": outcome.error_code, "permanent": str(outcome.permanent)}
            self._record(
                SYSTEM_NOTIFIER,
                at,
                "notification failed",
                self.status,
                reason=outcome.reason,
                details=details,
            )
        self.events.append(
            LeadNotificationOutcome(
                lead_id=self.id,
                branch_id=self.branch_id,
                status=self.status,
                notification_id=outcome.notification_id,
                channel=outcome.channel,
                purpose=purpose,
                delivered=error_code is None,
                error_code=error_code,
                at=at,
            )
        )

    def request_resend(self, *, actor: Actor, notification_id: UUID, at: datetime) -> None:
        self._require(actor, Permission.LEAD_MANAGER)
        self._record(
            actor,
            at,
            "notification resend requested",
            self.status,
            details={"notification_id": str(notification_id)},
        )
        self.events.append(
            NotificationResendRequested(
                notification_id=notification_id,
                lead_id=self.id,
                branch_id=self.branch_id,
                requested_by=actor.id,
                requested_at=at,
            )
        )

    # -- helpers -----------------------------------------------------------------------------
    def ensure_allowed(self, trigger: Trigger, actor: Actor) -> None:
        """Raise as the trigger would, without changing anything (checks before remote calls)."""
        self.authorise(actor)
        self._decide(trigger, actor)

    def authorise(self, actor: Actor) -> None:
        """The actor may work on this lead (LEAD_MANAGER for its branch): checked before
        anything about the lead, or a request made for it earlier, is revealed."""
        self._require(actor, Permission.LEAD_MANAGER)

    def read_only_for(self, actor: Actor) -> bool:
        """Closed (rejected, cancelled either way) and the actor may not edit closed leads."""
        return self.status in _CLOSED and not actor.may(Permission.EDIT_CANCELLED, self.branch_id)

    def _require(self, actor: Actor, permission: Permission) -> None:
        require(actor, permission, self.branch_id)

    def _decide(self, trigger: Trigger, actor: Actor) -> LeadStatus:
        return decide(
            self.status,
            trigger,
            may_edit_cancelled=actor.may(Permission.EDIT_CANCELLED, self.branch_id),
        )

    def _move(self, target: LeadStatus) -> LeadStatus:
        previous, self.status = self.status, target
        return previous

    def _record(
        self,
        actor: Actor,
        at: datetime,
        action: str,
        previous: LeadStatus | None,
        *,
        reason: str | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        self.new_history.append(
            HistoryEntry(
                at, actor.id, actor.name, action, previous, self.status, reason, details or {}
            )
        )

    def copy(self) -> Lead:
        return replace(self, events=[], new_history=[])


def _changed_fields(prefix: str, old: Customer | Vehicle, new: Customer | Vehicle) -> list[str]:
    before, after = old.model_dump(), new.model_dump()
    changed = []
    for name in after:
        if isinstance(after[name], dict):
            changed += [
                f"{prefix}.{name}.{k}" for k in after[name] if after[name][k] != before[name].get(k)
            ]
        elif after[name] != before[name]:
            changed.append(f"{prefix}.{name}")
    return changed
