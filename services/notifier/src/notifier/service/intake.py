"""Record the notifications a batch of lead events asks for, before any is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from osb_contracts import Envelope
from osb_contracts.notifications import NotificationResendRequested
from osb_platform.outbox import first_seen
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.adapters.store import NotificationStore
from notifier.adapters.tables import inbox
from notifier.domain.plan import BranchChannels, plan


async def record_notifications(
    engine: AsyncEngine,
    store: NotificationStore,
    envelopes: Sequence[Envelope[Any]],
    branches: Mapping[str, BranchChannels],
) -> int:
    """Return how many new notifications were recorded (redelivered events add none)."""
    drafts = [draft for envelope in envelopes for draft in plan(envelope, branches)]
    if not drafts:
        return 0
    async with engine.begin() as conn:
        return len(await store.record(conn, drafts))


RESEND_CONSUMER = "notifier.commands"


async def resend_notifications(
    engine: AsyncEngine, store: NotificationStore, envelopes: Sequence[Envelope[Any]]
) -> int:
    """Each resend request, processed once (inbox), makes its notification due again."""
    async with engine.begin() as conn:
        fresh = await first_seen(conn, inbox, RESEND_CONSUMER, [e.id for e in envelopes])
        count = 0
        for envelope in envelopes:
            message = envelope.message
            if envelope.id in fresh and isinstance(message, NotificationResendRequested):
                count += await store.resend(conn, message.notification_id)
        return count
