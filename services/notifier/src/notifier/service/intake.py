"""Record the notifications a batch of lead events asks for, before any is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from osb_contracts import Envelope
from osb_contracts.notifications import NotificationResendRequested

from notifier.domain.plan import BranchChannels, plan
from notifier.domain.texts import CustomerLinks
from notifier.service.ports import NotificationBook


async def record_notifications(
    book: NotificationBook,
    envelopes: Sequence[Envelope[Any]],
    branches: Mapping[str, BranchChannels],
    *,
    now: datetime | None = None,
    links: CustomerLinks | None = None,
) -> int:
    """Return how many new notifications were recorded (redelivered events add none)."""
    drafts = [d for envelope in envelopes for d in plan(envelope, branches, now=now, links=links)]
    return len(await book.record(drafts)) if drafts else 0


async def resend_notifications(book: NotificationBook, envelopes: Sequence[Envelope[Any]]) -> int:
    """Each resend request, processed once, makes its notification due again."""
    return await book.resend_requested(
        [
            (e.id, e.message.notification_id)
            for e in envelopes
            if isinstance(e.message, NotificationResendRequested)
        ]
    )
