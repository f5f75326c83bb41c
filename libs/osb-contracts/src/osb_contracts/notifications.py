"""What the notifier reports after each e-mail or SMS."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from osb_contracts._base import AwareDatetime, BranchId, Identifier, Message, ShortText, Text
from osb_contracts.values import Channel


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
