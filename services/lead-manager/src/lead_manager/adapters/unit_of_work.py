"""One transaction for a change: lead rows, their history, their outbox rows, the inbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID

from osb_platform.db import copy_many
from osb_platform.outbox import OutgoingEvent, add_to_outbox, first_seen
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from lead_manager import SOURCE
from lead_manager.adapters.keys import keys_for
from lead_manager.adapters.repository import (
    SqlBranchRepository,
    SqlLeadRepository,
    SqlOfferRepository,
    SqlReminderRepository,
)
from lead_manager.adapters.tables import inbox, lead_history, outbox
from lead_manager.domain.model import Lead


class SqlUnitOfWork:
    """``async with uow: ...; await uow.commit()``; leaving without commit rolls back.

    Leads handed to :meth:`track` have their new history and events written on commit, in
    the same transaction as the lead rows: an event is published (by the relay) if and only
    if the change it reports is committed.
    """

    def __init__(
        self, engine: AsyncEngine, clock: Callable[[], datetime], *, seal: bool = False
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._seal = seal  # the lead events' personal fields, with each lead's key
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
        self._tracked: list[tuple[Lead, str | None, str | None, str | None]] = []
        self._tracked_ids: set[int] = set()

    async def __aenter__(self) -> SqlUnitOfWork:
        self._conn = await self._engine.connect()
        self._tx = await self._conn.begin()
        self.leads = SqlLeadRepository(self._conn, self._clock)
        self.branches = SqlBranchRepository(self._conn, self._clock)
        self.reminders = SqlReminderRepository(self._conn, self._clock)
        self.offers = SqlOfferRepository(self._conn, self._clock)
        self._tracked = []
        self._tracked_ids = set()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        assert self._tx is not None
        try:
            if self._tx.is_active:
                await self._tx.rollback()
        finally:
            await self._conn.close()

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None
        return self._conn

    def track(
        self,
        lead: Lead,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        # By object: a lead created and then changed in one batch is two objects, each
        # holding its own new events.
        if id(lead) not in self._tracked_ids:
            self._tracked_ids.add(id(lead))
            self._tracked.append((lead, correlation_id, causation_id, traceparent))

    async def first_seen(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        """Record the event ids in the inbox; return those not processed before."""
        return await first_seen(self.connection, inbox, consumer, event_ids)

    async def commit(self) -> None:
        history: list[dict[str, Any]] = []
        events: list[OutgoingEvent] = []
        for lead, correlation_id, causation_id, traceparent in self._tracked:
            history += [
                {
                    "lead_id": lead.id,
                    "at": h.at,
                    "actor_id": h.actor_id,
                    "actor_name": h.actor_name,
                    "action": h.action,
                    "from_status": h.from_status.value if h.from_status else None,
                    "to_status": h.to_status.value,
                    "reason": h.reason,
                    "details": h.details,
                }
                for h in lead.new_history
            ]
            events += [
                OutgoingEvent(e, None, correlation_id, causation_id, traceparent=traceparent)
                for e in lead.events
            ]
        await copy_many(self.connection, lead_history, history)
        keys = None
        if self._seal:
            sealed = {lead.id for lead, *_ in self._tracked if any(e.personal for e in lead.events)}
            keys = {str(k): v for k, v in (await keys_for(self.connection, sealed)).items()}
        await add_to_outbox(self.connection, outbox, events, source=SOURCE, seal_keys=keys)
        assert self._tx is not None
        await self._tx.commit()
        for lead, *_ in self._tracked:
            lead.events.clear()
            lead.new_history.clear()
        self._tracked = []
        self._tracked_ids = set()

    async def history(self, lead_id: UUID) -> list[Any]:
        rows = await self.connection.execute(
            select(lead_history)
            .where(lead_history.c.lead_id == lead_id)
            .order_by(lead_history.c.id)
        )
        return list(rows)
