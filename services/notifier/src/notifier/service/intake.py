"""Record the notifications a batch of lead events asks for, before any is sent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from osb_contracts import Envelope
from sqlalchemy.ext.asyncio import AsyncEngine

from notifier.adapters.store import NotificationStore
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
