"""What the notifier reports after each e-mail or SMS."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from osb_contracts._base import AwareDatetime, BranchId, Identifier, Message, ShortText, Text
from osb_contracts.values import Channel


class FailureCode(StrEnum):
    """Why the notifier failed a notification (``NotificationFailed.error_code``). Besides
    these, ``SMTP_<reply code>`` (the mail server refused: ``SMTP_550``) and
    ``SMS_<HTTP status>`` (the SMS gateway refused: ``SMS_400``)."""

    TEMPLATE = "TEMPLATE"  # the branch's template could not be filled
    MESSAGE_INVALID = "MESSAGE_INVALID"  # no e-mail could be built (address, header)
    SMS_NOT_ENABLED = "SMS_NOT_ENABLED"  # the branch has no SMS licence
    NO_SENDER = "NO_SENDER"  # the branch has no e-mail sender
    SMS_OPTED_OUT = "SMS_OPTED_OUT"  # the number answered STOP
    REMINDER_MISSED = "REMINDER_MISSED"  # read after the start, or late in the quiet hours
    SMTP_UNAVAILABLE = "SMTP_UNAVAILABLE"  # the mail server not reachable (retried)
    SMS_UNAVAILABLE = "SMS_UNAVAILABLE"  # the SMS gateway not reachable (retried)
    UNEXPECTED = "UNEXPECTED"  # a fault of the notifier itself (retried)


class NotificationSent(Message):
    message_type = "osb.notification.NotificationSent"

    notification_id: UUID
    lead_id: UUID
    branch_id: BranchId
    source_event_id: Identifier
    source_event_type: Text
    channel: Channel
    sent_at: AwareDatetime
    attempts: int = Field(ge=1, le=1000)


class NotificationFailed(Message):
    message_type = "osb.notification.NotificationFailed"

    notification_id: UUID
    lead_id: UUID
    branch_id: BranchId
    source_event_id: Identifier
    source_event_type: Text
    channel: Channel
    failed_at: AwareDatetime
    attempts: int = Field(ge=1, le=1000)
    permanent: bool
    error_code: ShortText
    reason: Text


class NotificationResendRequested(Message):
    """An advisor asked to send a notification again (after a failure, or on request)."""

    message_type = "osb.notification.NotificationResendRequested"

    notification_id: UUID
    lead_id: UUID
    branch_id: BranchId
    requested_by: Identifier
    requested_at: AwareDatetime
