"""Which notifications an event asks for, with their final content."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from osb_contracts import Envelope
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    LeadOverdue,
    LeadRejected,
    LeadReminderDue,
)
from osb_contracts.notifications import FailureCode
from osb_contracts.values import Channel, ConfirmationChannel

from notifier.domain.notification import Draft, SendFailedError
from notifier.domain.texts import (
    DEFAULT_TEMPLATES,
    CustomerLinks,
    TemplateFailedError,
    as_html,
    counter_offer,
    escalation,
    placeholders,
    render,
)

# the customer is not messaged at night (lead-manager plans reminders outside these hours)
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
_NOTIFICATION_NAMESPACE = uuid.UUID("3c8e8a4e-9f7b-4d51-8f0e-2b6a0c1d9e77")


@dataclass(frozen=True)
class BranchChannels:
    """How a branch reaches its customers (its part of the OSB settings)."""

    name: str
    sender: str
    reply_to: str | None = None
    sms_enabled: bool = False
    timezone: str = "Europe/Berlin"
    templates: Mapping[str, str] = field(default_factory=dict)

    def template(self, name: str) -> str:
        return self.templates.get(name) or DEFAULT_TEMPLATES[name]


def notification_id(source_event_id: str, channel: Channel) -> uuid.UUID:
    """Stable per (event, channel): the same id, and Message-ID, on every retry."""
    return uuid.uuid5(_NOTIFICATION_NAMESPACE, f"{source_event_id}/{channel.value}")


def plan(
    envelope: Envelope[Any],
    branches: Mapping[str, BranchChannels],
    *,
    now: datetime | None = None,
    links: CustomerLinks | None = None,
) -> list[Draft]:
    """The notifications ``envelope`` asks for, read at ``now`` (a reminder read after its
    appointment began or in the quiet hours, the notifier having been away, is recorded as
    missed instead of sent); ``links``: how the customer's links are made (None: none)."""
    message = envelope.message
    subject: str | None = None
    if isinstance(message, LeadRejected):
        channel, recipient = message.channel, message.recipient
        branch = _branch(branches, message.branch_id)
        if channel is Channel.EMAIL:
            subject = message.subject or render(
                branch.template("rejection_email_subject"), {"branch": branch.name}
            )
        return [
            _draft(
                envelope,
                message.lead_id,
                message.branch_id,
                channel,
                recipient,
                subject,
                message.text,
                branch,
            )
        ]
    if isinstance(message, LeadOverdue):  # to the branch, not the customer
        return _escalation(envelope, message, branches)
    if isinstance(message, AppointmentCreated):
        to = message.recipient if message.confirmation is not ConfirmationChannel.NONE else None
        channel = Channel(message.confirmation.value) if to else Channel.EMAIL
        return (
            [_to_customer(envelope, message, channel, to, "confirmation", branches, links)]
            if to
            else []
        )
    if isinstance(message, AppointmentOffered):
        return [_offer(envelope, message, branches, links)]
    if isinstance(message, LeadReminderDue):
        late = _too_late(message, now or datetime.now(UTC), branches)
        return [
            _to_customer(
                envelope,
                message,
                message.channel,
                message.recipient,
                "reminder",
                branches,
                links,
                late,
            )
        ]
    return []


def _to_customer(
    envelope: Envelope[Any],
    message: AppointmentCreated | LeadReminderDue,
    channel: Channel,
    recipient: str,
    kind: str,
    branches: Mapping[str, BranchChannels],
    links: CustomerLinks | None,
    failure: SendFailedError | None = None,
) -> Draft:
    """A confirmation or reminder of the appointment from the branch's ``kind`` templates."""
    branch = _branch(branches, message.branch_id)
    values = placeholders(message, branch_name=branch.name, zone=branch.timezone, links=links)
    try:
        if channel is Channel.EMAIL:
            subject = render(branch.template(f"{kind}_email_subject"), values)
            text = render(branch.template(f"{kind}_email"), values)
        else:
            subject, text = None, render(branch.template(f"{kind}_sms"), values)
    except TemplateFailedError as exc:
        subject, text = None, ""
        failure = failure or SendFailedError(FailureCode.TEMPLATE, str(exc), permanent=True)
    return _draft(
        envelope,
        message.lead_id,
        message.branch_id,
        channel,
        recipient,
        subject,
        text,
        branch,
        failure,
    )


def _escalation(
    envelope: Envelope[Any], message: LeadOverdue, branches: Mapping[str, BranchChannels]
) -> list[Draft]:
    """The branch's escalation e-mail for an overdue lead (none without an address)."""
    if not message.escalation_email:
        return []
    branch = _branch(branches, message.branch_id)
    subject, text = escalation(message, branch_name=branch.name, zone=branch.timezone)
    return [
        _draft(
            envelope,
            message.lead_id,
            message.branch_id,
            Channel.EMAIL,
            message.escalation_email,
            subject,
            text,
            branch,
        )
    ]


def _offer(
    envelope: Envelope[Any],
    message: AppointmentOffered,
    branches: Mapping[str, BranchChannels],
    links: CustomerLinks | None,
) -> Draft:
    """A counter-offer by its channel: the e-mail with a link per time, or the SMS."""
    branch = _branch(branches, message.branch_id)
    subject, text, sms = counter_offer(
        message, branch_name=branch.name, zone=branch.timezone, links=links
    )
    email = message.channel is Channel.EMAIL
    return _draft(
        envelope,
        message.lead_id,
        message.branch_id,
        message.channel,
        message.recipient,
        subject if email else None,
        text if email else sms,
        branch,
    )


# how long after its due time a reminder still counts as on time (the notifier was not away)
PROMPT = timedelta(minutes=5)


def _too_late(
    reminder: LeadReminderDue, now: datetime, branches: Mapping[str, BranchChannels]
) -> SendFailedError | None:
    """Missed: read after the appointment began, or read late (this service was away) in
    the quiet hours. One read on time was planned outside them by lead-manager."""
    if now >= reminder.start:
        return SendFailedError(
            FailureCode.REMINDER_MISSED, "read after the appointment began", permanent=True
        )
    local = now.astimezone(ZoneInfo(_branch(branches, reminder.branch_id).timezone)).time()
    if now - reminder.due_at > PROMPT and (local >= QUIET_FROM or local < QUIET_UNTIL):
        return SendFailedError(
            FailureCode.REMINDER_MISSED, "read late, in the quiet hours", permanent=True
        )
    return None


def _branch(branches: Mapping[str, BranchChannels], branch_id: str) -> BranchChannels:
    return branches.get(branch_id) or BranchChannels(name=branch_id, sender="")


def _draft(
    envelope: Envelope[Any],
    lead_id: uuid.UUID,
    branch_id: str,
    channel: Channel,
    recipient: str,
    subject: str | None,
    text: str,
    branch: BranchChannels,
    failure: SendFailedError | None = None,
) -> Draft:
    nid = notification_id(envelope.id, channel)
    if failure is None and channel is Channel.SMS and not branch.sms_enabled:
        failure = SendFailedError(
            FailureCode.SMS_NOT_ENABLED,
            f"SMS is not enabled for branch {branch_id}",
            permanent=True,
        )
    if failure is None and channel is Channel.EMAIL and not branch.sender:
        failure = SendFailedError(
            FailureCode.NO_SENDER,
            f"branch {branch_id} has no e-mail sender configured",
            permanent=True,
        )
    domain = branch.sender.rpartition("@")[2] or "osb.invalid"
    return Draft(
        id=nid,
        source_event_id=envelope.id,
        source_event_type=envelope.type,
        lead_id=lead_id,
        branch_id=branch_id,
        channel=channel,
        recipient=recipient,
        subject=subject,
        text=text,
        html=as_html(text, title=subject or "") if channel is Channel.EMAIL else None,
        sender=branch.sender or None,
        reply_to=branch.reply_to,
        message_id=f"<{nid}@{domain}>" if channel is Channel.EMAIL else None,
        failure=failure,
        trace_parent=envelope.traceparent,
    )
