"""What the notifier's use cases need from the outside."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol
from uuid import UUID

from notifier.domain.notification import Claimed, Draft, SendFailedError


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmsSender(Protocol):
    """An SMS provider; raises ``SendFailedError`` (permanent or not) when it refuses."""

    async def send(self, *, to: str, text: str, sender: str | None, reference: str) -> None: ...


class NotificationQueue(Protocol):
    """The recorded notifications, as the dispatcher takes and settles them."""

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]: ...
    async def sent(self, claimed: Claimed) -> None: ...
    async def retry_later(
        self, claimed: Claimed, error: SendFailedError, next_attempt_at: datetime
    ) -> None: ...
    async def failed(self, claimed: Claimed, error: SendFailedError) -> None: ...
    async def opted_out(self, phone: str) -> bool:
        """Whether the number's owner answered STOP to an SMS (and not START since)."""
        ...


class SmsReplies(Protocol):
    """Where the customers' answers to SMS (STOP, START) are kept."""

    async def opt_out(self, phone: str, keyword: str) -> None: ...
    async def opt_in(self, phone: str) -> None: ...


class NotificationBook(Protocol):
    """Where notifications are recorded before any is sent."""

    async def record(self, drafts: Sequence[Draft]) -> list[UUID]:
        """The drafts not recorded before, in one transaction; returns their ids."""
        ...

    async def resend_requested(self, requests: Sequence[tuple[str, UUID]]) -> int:
        """(event id, notification id): each event once, its notification due again;
        returns how many became due."""
        ...
