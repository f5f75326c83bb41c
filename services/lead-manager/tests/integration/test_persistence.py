"""The unit of work on the real PostgreSQL: state, history and outbox in one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from lead_manager.adapters.tables import lead_history, leads, outbox
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.domain.branch import Acceptor, BranchSettings
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.service.commands import RejectLead, reject_lead
from lead_manager.service.events import handle_lead_requests
from lead_manager.service.ports import ConcurrencyError
from osb_contracts import Envelope, decode
from osb_contracts.leads import LeadCreated, LeadRejected, LeadRequested
from osb_contracts.values import Channel, LeadStatus
from osb_platform import outbox as outbox_module
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

Clock = Callable[[], datetime]


pytestmark = pytest.mark.integration

ADVISOR = Actor("anna", "Anna", {"HH-01": frozenset({Permission.LEAD_MANAGER})})


def envelope(message: LeadRequested, event_id: str | None = None) -> Envelope[Any]:
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        type=message.cloudevents_type(),
        source="/test",
        time=datetime.now(UTC),
        correlation_id="corr",
        causation_id=None,
        key=str(message.lead_id),
        message=message,
    )


async def counts(engine: AsyncEngine, lead_id: uuid.UUID) -> tuple[int, int, int]:
    async with engine.connect() as conn:
        n_leads = await conn.scalar(
            select(func.count()).select_from(leads).where(leads.c.id == lead_id)
        )
        n_history = await conn.scalar(
            select(func.count()).select_from(lead_history).where(lead_history.c.lead_id == lead_id)
        )
        n_outbox = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.key == str(lead_id).encode())
        )
    return int(n_leads or 0), int(n_history or 0), int(n_outbox or 0)


async def test_a_new_lead_its_history_and_its_event_commit_together(
    engine: AsyncEngine, clock: Clock, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    first = envelope(request, "evt-" + uuid.uuid4().hex)
    await handle_lead_requests(SqlUnitOfWork(engine, clock), [first], clock=clock)
    assert await counts(engine, request.lead_id) == (1, 1, 1)

    async with engine.connect() as conn:
        row = (
            await conn.execute(select(outbox).where(outbox.c.key == str(request.lead_id).encode()))
        ).one()
    created = decode(row.headers, row.value, row.key)
    assert isinstance(created.message, LeadCreated)
    assert created.causation_id == first.id
    assert created.correlation_id == "corr"
    assert row.topic == "osb.lead.events.v1"

    # The same event again (redelivery) and the same booking under a new event id: no change.
    await handle_lead_requests(
        SqlUnitOfWork(engine, clock), [first, envelope(request)], clock=clock
    )
    assert await counts(engine, request.lead_id) == (1, 1, 1)


async def test_nothing_is_stored_when_the_event_cannot_be_written(
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
    lead_request: Callable[..., LeadRequested],
) -> None:
    request = lead_request()

    def broken_encode(*args: object, **kwargs: object) -> object:
        raise RuntimeError("outbox write failed")

    monkeypatch.setattr(outbox_module, "encode", broken_encode)
    with pytest.raises(RuntimeError, match="outbox write failed"):
        await handle_lead_requests(SqlUnitOfWork(engine, clock), [envelope(request)], clock=clock)
    assert await counts(engine, request.lead_id) == (0, 0, 0)


async def test_two_advisors_at_once_one_wins_one_gets_a_conflict(
    engine: AsyncEngine, clock: Clock, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    await handle_lead_requests(SqlUnitOfWork(engine, clock), [envelope(request)], clock=clock)
    async with SqlUnitOfWork(engine, clock) as uow:
        await uow.branches.put(
            BranchSettings("HH-01", "Hamburg", (Acceptor("anna", "Anna"),), sms_enabled=True),
            updated_by="test",
            expected_version=None,
        )
        await uow.commit()

    async def reject(text: str) -> object:
        command = RejectLead(request.lead_id, Channel.EMAIL, text, expected_version=1)
        try:
            return await reject_lead(
                SqlUnitOfWork(engine, clock), command, actor=ADVISOR, clock=clock
            )
        except ConcurrencyError as exc:
            return exc

    results = await asyncio.gather(reject("Text A"), reject("Text B"))
    errors = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(errors) == 1, results
    assert await counts(engine, request.lead_id) == (1, 2, 2)
    async with engine.connect() as conn:
        status, version = (
            await conn.execute(
                select(leads.c.status, leads.c.version).where(leads.c.id == request.lead_id)
            )
        ).one()
        rows = (
            await conn.execute(
                select(outbox)
                .where(outbox.c.key == str(request.lead_id).encode())
                .order_by(outbox.c.id)
            )
        ).all()
    assert (status, version) == (LeadStatus.REJECTED.value, 2)
    rejected = decode(rows[1].headers, rows[1].value).message
    assert isinstance(rejected, LeadRejected)
    # The one LeadRejected carries the text of the advisor who won, not the other's.
    (winning_text,) = [
        t
        for t, r in zip(("Text A", "Text B"), results, strict=True)
        if not isinstance(r, ConcurrencyError)
    ]
    assert rejected.text == winning_text
