"""Reporting the new leads nobody answered by their deadline (issue 18)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from osb_platform.tracing import hop
from prometheus_client import Counter

from lead_manager.service.commands import settings_of
from lead_manager.service.ports import UnitOfWork

log = logging.getLogger(__name__)

LEADS_OVERDUE = Counter(
    "osb_lead_manager_leads_overdue_total",
    "New leads reported past their response deadline, by branch",
    ["branch_id"],
)
BATCH = 100


async def report_overdue(uow: UnitOfWork, now: datetime) -> int:
    """Each new lead past its deadline and not yet reported gets ``LeadOverdue`` (through
    the outbox) and a history entry, once: the report and the mark commit together, and
    instances running this at once skip each other's locked leads. How many were reported."""
    async with uow:
        due = await uow.leads.overdue(now, limit=BATCH)
        branches = await settings_of(uow, [lead.branch_id for lead in due])
        for lead in due:
            lead.escalate(at=now, escalation_email=branches[lead.branch_id].escalation_email)
            await uow.leads.save(lead)
            uow.track(lead, traceparent=hop("deadline passed", lead.trace_parent))
        await uow.commit()
    for lead in due:
        LEADS_OVERDUE.labels(lead.branch_id).inc()
    return len(due)


async def report_all_overdue(make_uow: Callable[[], UnitOfWork], now: datetime) -> int:
    """Batch after batch until none is left."""
    total = 0
    while reported := await report_overdue(make_uow(), now):
        total += reported
    return total


async def watch_deadlines(
    make_uow: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    *,
    every: float,
) -> None:
    """Every ``every`` seconds until ``stop``: report what has become overdue. A database
    away is tried again at the next round (one line when it fails, one when it works)."""
    failing = False
    while not stop.is_set():
        try:
            await report_all_overdue(make_uow, clock())
            if failing:
                log.info("overdue leads reported again")
            failing = False
        except Exception as exc:  # the next round tries again
            if not failing:
                log.warning("overdue leads could not be reported: %s", type(exc).__name__)
            failing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
