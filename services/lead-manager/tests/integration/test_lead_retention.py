"""The lead retention on the real PostgreSQL with an injected clock (issue 19, point 3):
a closed lead past its branch's months is anonymised once, the other services asked about
that lead alone first; an open lead, a lead within its months and another branch's stay.
The lead's key goes with it: its sealed events no longer open."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from lead_manager.adapters import privacy
from lead_manager.adapters.keys import existing_keys
from lead_manager.adapters.tables import leads, outbox
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.domain.branch import Acceptor, BranchSettings
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.service.commands import RejectLead, reject_lead
from lead_manager.service.events import handle_lead_requests
from lead_manager.service.privacy import expire_leads
from osb_contracts import Envelope, decode, opened
from osb_contracts.leads import ERASED, AnonymisedBy, LeadAnonymised, LeadRequested
from osb_contracts.values import Channel, LeadStatus
from osb_platform.privacy import ErasedCounts, ServiceExport, Subject
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

Clock = Callable[[], datetime]


class Peer:
    name = "notifier"

    def __init__(self) -> None:
        self.asked: list[Subject] = []

    async def erase(self, subject: Subject) -> ErasedCounts:
        self.asked.append(subject)
        return ErasedCounts(service=self.name, rows={})

    async def export(self, subject: Subject) -> ServiceExport:
        raise AssertionError("not asked")


async def test_a_closed_lead_past_its_branch_s_months_is_anonymised_once(
    engine: AsyncEngine, clock: Clock, lead_request: Callable[..., LeadRequested]
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    short, default = f"RET{run}", f"REX{run}"
    actor = Actor(
        "anna", "Anna", {b: frozenset({Permission.LEAD_MANAGER}) for b in (short, default)}
    )
    async with SqlUnitOfWork(engine, clock) as uow:
        for branch, months in ((short, 1), (default, 24)):
            settings = BranchSettings(
                branch, "Retention", (Acceptor("anna", "Anna"),), lead_retention_months=months
            )
            await uow.branches.put(settings, updated_by="test", expected_version=None)
        await uow.commit()

    async def booked(branch: str, *, closed: bool) -> uuid.UUID:
        request = lead_request().model_copy(update={"branch_id": branch})
        arrived = Envelope(
            str(uuid.uuid4()), request.cloudevents_type(), "/t", clock(), "c", None, None, request
        )
        unit = partial(SqlUnitOfWork, engine, clock, seal=True)
        await handle_lead_requests(unit(), [arrived], clock=clock)
        if closed:
            command = RejectLead(request.lead_id, Channel.EMAIL, "Leider ausgebucht.")
            await reject_lead(unit(), command, actor=actor, clock=clock)
        return request.lead_id

    expired = await booked(short, closed=True)
    still_open = await booked(short, closed=False)
    elsewhere = await booked(default, closed=True)
    peer = Peer()
    expire = partial(
        expire_leads,
        partial(privacy.expired_leads, engine),
        partial(privacy.anonymise_leads, engine),
        [peer],
    )

    async def names() -> dict[uuid.UUID, tuple[str, bool]]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(leads.c.id, leads.c.last_name, leads.c.anonymised_at).where(
                    leads.c.id.in_([expired, still_open, elsewhere])
                )
            )
            return {r.id: (r.last_name, r.anonymised_at is not None) for r in rows}

    async def published(lead_id: uuid.UUID) -> list[Envelope[Any]]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(outbox.c.key, outbox.c.value, outbox.c.headers)
                .where(outbox.c.key == str(lead_id).encode())
                .order_by(outbox.c.id)
            )
            return [decode(list(r.headers.items()), r.value, r.key) for r in rows]

    async def key_of(lead_id: uuid.UUID) -> bytes | None:
        return (await existing_keys(engine, [lead_id])).get(lead_id)

    created, rejected = await published(expired)
    assert created.sealed is not None  # the booking's customer, sealed with the lead's key
    assert created.message.customer.last_name == ERASED
    key = await key_of(expired)
    assert key is not None
    assert rejected.message.text == ERASED
    assert opened(rejected, key).message.text == "Leider ausgebucht."

    before = await names()
    now = clock()
    await expire(now + timedelta(days=20))  # within the month
    assert await names() == before
    assert await expire(now + timedelta(days=40)) >= 1
    after = await names()
    assert after[expired] == ("(gelöscht)", True)
    assert after[still_open] == before[still_open]
    assert after[elsewhere] == before[elsewhere]
    # the other services asked about the lead alone: the person's other data (newer leads,
    # a STOP, the DMS's masters) is not theirs to erase
    assert sum(expired in s.lead_ids for s in peer.asked) == 1
    assert all(not (s.emails or s.phones or s.customer_numbers or s.vins) for s in peer.asked)
    await expire(now + timedelta(days=41))  # once
    assert sum(expired in s.lead_ids for s in peer.asked) == 1
    # the key is gone: every copy of the lead's events stays sealed for ever; the pages and
    # the DMS are told, the DMS to erase no one (a retention is not a person's request)
    assert await key_of(expired) is None
    assert await key_of(still_open) is not None
    *_, told = await published(expired)
    assert told.message == LeadAnonymised(
        lead_id=expired,
        branch_id=short,
        status=LeadStatus.REJECTED,
        by=AnonymisedBy.RETENTION,
        anonymised_at=now + timedelta(days=40),
    )


async def test_erasures_across_instances_run_one_after_the_other(engine: AsyncEngine) -> None:
    """Two at once would append other people's dead letters twice (each rewrites the
    partitions it found): lead-manager's instances take turns by an advisory lock."""
    order: list[str] = []
    first_in = asyncio.Event()

    async def erasure(name: str, hold: float) -> None:
        async with privacy.one_at_a_time(engine):
            order.append(f"{name} in")
            first_in.set()
            await asyncio.sleep(hold)  # the other is asked for meanwhile
            order.append(f"{name} out")

    first = asyncio.create_task(erasure("a", 0.5))
    await first_in.wait()
    async with asyncio.timeout(30):
        await asyncio.gather(first, erasure("b", 0))
    assert order == ["a in", "a out", "b in", "b out"]
