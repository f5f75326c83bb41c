"""A branch's OSB settings as other services need them, published by lead-manager."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from osb_contracts._base import (
    BIGINT_MAX,
    ONE_LINE,
    AwareDatetime,
    BranchId,
    LongText,
    Message,
    ShortText,
    Text,
)

EmailAddress = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), ONE_LINE]


class BranchSettingsChanged(Message):
    """The branch's settings after a change, whole (not a difference): on a compacted topic
    the newest per branch stays, and ``settings_version`` orders them. What the notifier acts on:
    the branch's name, whether SMS is licensed, the e-mail sender, the text templates."""

    message_type = "osb.branch.BranchSettingsChanged"

    branch_id: BranchId
    settings_version: int = Field(ge=1, le=BIGINT_MAX)
    name: Text
    sms_enabled: bool
    sender_email: EmailAddress | None = None
    templates: dict[ShortText, LongText] = Field(default_factory=dict, max_length=20)
    changed_at: AwareDatetime
