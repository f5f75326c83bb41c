"""What a route needs, as FastAPI dependencies: the routes name them in their signatures
and never reach into the application's state.

``create_app`` builds one :class:`Wiring` when the service starts; every dependency here is
read from it, so a test can swap any of them with ``app.dependency_overrides``. They are
``async def``: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per
dependency and request.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.service.insight import InsightReads
from lead_manager.service.live import ChangeLog
from lead_manager.service.ports import Identification, LeadReads, UnitOfWork
from lead_manager.service.privacy import (
    DeadLetters,
    OwnErase,
    OwnExport,
    Peer,
    Widen,
    WorkTopics,
)


@dataclass(frozen=True)
class Wiring:
    engine: AsyncEngine
    clock: Callable[[], datetime]
    reads: LeadReads
    matching: Identification
    changes: ChangeLog
    insight: InsightReads
    privacy: Privacies
    seal: bool = False  # the lead events' personal fields (docs/architecture.md, "Privacy")


@dataclass(frozen=True)
class Privacies:
    """lead-manager's own part of a person's export, and the other services to ask."""

    own: OwnExport
    peers: list[Peer]
    widen: Widen
    erase: OwnErase
    dead_letters: DeadLetters
    work_topics: WorkTopics
    sealed: bool = False  # the lead events' personal fields, with the leads' keys
    # one erasure at a time across the instances
    one_at_a_time: Callable[[], AbstractAsyncContextManager[Any]] = nullcontext


async def wiring(request: Request) -> Wiring:
    return cast(Wiring, request.app.state.wiring)


Wired = Annotated[Wiring, Depends(wiring)]


async def _unit_of_work(w: Wired) -> UnitOfWork:
    return SqlUnitOfWork(w.engine, w.clock, seal=w.seal)


async def _reads(w: Wired) -> LeadReads:
    return w.reads


async def _clock(w: Wired) -> Callable[[], datetime]:
    return w.clock


async def _matching(w: Wired) -> Identification:
    return w.matching


async def _changes(w: Wired) -> ChangeLog:
    return w.changes


async def _insight(w: Wired) -> InsightReads:
    return w.insight


async def _privacy(w: Wired) -> Privacies:
    return w.privacy


Work = Annotated[UnitOfWork, Depends(_unit_of_work)]  # a new unit of work per request
Reads = Annotated[LeadReads, Depends(_reads)]
Clock = Annotated[Callable[[], datetime], Depends(_clock)]
Matching = Annotated[Identification, Depends(_matching)]
Changes = Annotated[ChangeLog, Depends(_changes)]
Insight = Annotated[InsightReads, Depends(_insight)]
Privacy = Annotated[Privacies, Depends(_privacy)]
