"""Which notifications an event asks for, with their final content."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from osb_contracts import Envelope
from osb_contracts.leads import AppointmentCreated, LeadOverdue, LeadRejected
from osb_contracts.values import Channel, ConfirmationChannel

from notifier.domain.notification import Draft, SendFailedError
from notifier.domain.texts import (
    DEFAULT_TEMPLATES,
    TemplateFailedError,
    as_html,
    escalation,
    placeholders,
    render,
)

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


def plan(envelope: Envelope[Any], branches: Mapping[str, BranchChannels]) -> list[Draft]:
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
    if isinstance(message, AppointmentCreated):
        if message.confirmation is ConfirmationChannel.NONE or not message.recipient:
            return []
        channel = Channel(message.confirmation.value)
        branch = _branch(branches, message.branch_id)
        values = placeholders(message, branch_name=branch.name, zone=branch.timezone)
        failure = None
        try:
            if channel is Channel.EMAIL:
                subject = render(branch.template("confirmation_email_subject"), values)
                text = render(branch.template("confirmation_email"), values)
            else:
                subject, text = None, render(branch.template("confirmation_sms"), values)
        except TemplateFailedError as exc:
            subject, text = None, ""
            failure = SendFailedError("TEMPLATE", str(exc), permanent=True)
        return [
            _draft(
                envelope,
                message.lead_id,
                message.branch_id,
                channel,
                message.recipient,
                subject,
                text,
                branch,
                failure,
            )
        ]
    return []


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
            "SMS_NOT_ENABLED", f"SMS is not enabled for branch {branch_id}", permanent=True
        )
    if failure is None and channel is Channel.EMAIL and not branch.sender:
        failure = SendFailedError(
            "NO_SENDER", f"branch {branch_id} has no e-mail sender configured", permanent=True
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
