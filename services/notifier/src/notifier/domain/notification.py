"""A notification: one per (event, channel), with its delivery state and retry plan."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from osb_contracts.values import Channel


class Status(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class SendFailedError(Exception):
    """A send did not succeed. ``permanent``: trying again cannot help (4xx, 5xx refusal)."""

    def __init__(self, code: str, reason: str, *, permanent: bool) -> None:
        self.code = code
        self.reason = reason
        self.permanent = permanent
        super().__init__(f"{code}: {reason}")


@dataclass(frozen=True)
class Draft:
    """What to send, decided when the event arrives, stored before any attempt."""

    id: UUID
    source_event_id: str
    source_event_type: str
    lead_id: UUID
    branch_id: str
    channel: Channel
    recipient: str
    subject: str | None
    text: str
    html: str | None
    sender: str | None
    reply_to: str | None
    message_id: str | None
    failure: SendFailedError | None = None  # known before any attempt (SMS not enabled)
    trace_parent: str | None = None  # of the event that asked for it: sending continues it


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay_s: float = 2.0
    max_delay_s: float = 300.0

    def next_attempt(self, attempts: int, now: datetime, rng: random.Random) -> datetime | None:
        """When to try again after ``attempts`` failed tries, or None when it is time to give up."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempts - 1))
        return now + timedelta(seconds=delay * (0.5 + rng.random() / 2))


@dataclass(frozen=True)
class Claimed:
    """A notification taken for sending, for a lease."""

    id: UUID
    draft: Draft
    attempts: int  # before this attempt
