"""The rules time drives, looked at every few seconds by every instance: new leads nobody
answered by their deadline are reported (issue 18); scheduled leads whose customer has not
arrived by the appointment's start and the branch's grace become no-shows, appointments'
reminders go out when due (issue 17). Each
takes the time as an argument (tests give it; the service its clock)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from osb_contracts.values import Channel, LeadStatus
from osb_platform.tracing import hop
from prometheus_client import Counter

from lead_manager.domain.reminders import quiet
from lead_manager.service.commands import settings_of
from lead_manager.service.ports import UnitOfWork
from lead_manager.service.texts import rejection_subject, render

log = logging.getLogger(__name__)

LEADS_OVERDUE = Counter(
    "osb_lead_manager_leads_overdue_total",
    "New leads reported past their response deadline, by branch",
    ["branch_id"],
)
NO_SHOWS = Counter(
    "osb_lead_manager_no_shows_total",
    "Scheduled leads whose customer did not arrive by the start and the grace, by branch",
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


async def mark_no_shows(uow: UnitOfWork, now: datetime) -> int:
    """Each scheduled lead past its appointment's start and its branch's grace without the
    customer's arrival becomes NO_SHOW (``LeadNoShow`` through the outbox), once; instances
    running this at once skip each other's locked leads. How many were marked."""
    async with uow:
        due = await uow.leads.no_shows(now, limit=BATCH)
        for lead, start in due:
            lead.mark_no_show(appointment_start=start, at=now)
            await uow.leads.save(lead)
            uow.track(lead, traceparent=hop("no-show", lead.trace_parent))
        await uow.commit()
    for lead, _ in due:
        NO_SHOWS.labels(lead.branch_id).inc()
    return len(due)


async def mark_all_no_shows(make_uow: Callable[[], UnitOfWork], now: datetime) -> int:
    total = 0
    while marked := await mark_no_shows(make_uow(), now):
        total += marked
    return total


REMINDERS = Counter(
    "osb_lead_manager_reminders_total",
    "Appointment reminders by what became of them when due: sent (to the notifier), "
    "cancelled (the lead or its appointment changed), missed (too late)",
    ["branch_id", "outcome"],
)


async def send_reminders(uow: UnitOfWork, now: datetime) -> int:
    """Each reminder due by ``now`` becomes ``LeadReminderDue`` (through the outbox) if its
    lead is still SCHEDULED with that appointment, once (the row's state commits with the
    event); otherwise it is cancelled. One found due only in the quiet hours (this service
    was down when it was due) or after its appointment began is recorded as missed. How
    many were looked at."""
    async with uow:
        due = await uow.reminders.due(now, limit=BATCH)
        if not due:  # most minutes
            return 0
        # the batch's leads locked in one statement, their branches' settings read once
        leads = await uow.leads.get_many([item.lead_id for item in due], for_update=True)
        branches = await settings_of(uow, {lead.branch_id for lead in leads.values()})
        outcomes: list[tuple[str, str]] = []
        for item in due:
            reminder = item.reminder
            lead = leads.get(item.lead_id)
            if (
                lead is None
                or lead.status is not LeadStatus.SCHEDULED
                or lead.appointment_id != reminder.appointment_id
            ):
                await uow.reminders.settle(reminder.id, "CANCELLED")
                outcomes.append((lead.branch_id if lead else "", "cancelled"))
                continue
            zone = branches[lead.branch_id].zone
            if now >= reminder.start or quiet(now, zone):
                await uow.reminders.settle(reminder.id, "MISSED")
                outcomes.append((lead.branch_id, "missed"))
            else:
                # the lead row is unchanged (no save: an advisor's edit meanwhile keeps its
                # version); its history and the event commit with the row's mark
                lead.remind(reminder, at=now)
                await uow.reminders.settle(reminder.id, "SENT")
                uow.track(lead, traceparent=hop("reminder due", lead.trace_parent))
                outcomes.append((lead.branch_id, "sent"))
        await uow.commit()
    for branch_id, outcome in outcomes:
        REMINDERS.labels(branch_id, outcome).inc()
    return len(due)


async def send_all_reminders(make_uow: Callable[[], UnitOfWork], now: datetime) -> int:
    total = 0
    while looked_at := await send_reminders(make_uow(), now):
        total += looked_at
    return total


OFFERS_LAPSED = Counter(
    "osb_lead_manager_offers_lapsed_total",
    "Counter-offers not taken by their deadline (the lead rejected), by branch",
    ["branch_id"],
)


async def lapse_offers(uow: UnitOfWork, now: datetime) -> int:
    """Each open offer past its deadline rejects its lead with the branch's text by the
    offer's channel (``LeadRejected`` through the outbox), once; an offer whose lead was
    decided otherwise meanwhile is closed. How many were looked at."""
    async with uow:
        due = await uow.offers.lapsing(now, limit=BATCH)
        if not due:
            return 0
        # as the reminders: the batch's leads locked at once, their branches read once
        leads = await uow.leads.get_many([s.lead_id for s in due], for_update=True)
        branches = await settings_of(uow, {lead.branch_id for lead in leads.values()})
        lapsed: list[str] = []
        for stored in due:
            lead = leads.get(stored.lead_id)
            if lead is None or lead.status is not LeadStatus.OFFERED:
                await uow.offers.settle(stored.offer.id, "CLOSED")
                continue
            branch = branches[lead.branch_id]
            channel = stored.offer.channel
            lead.lapse_offer(
                channel=channel,
                recipient=stored.offer.recipient,
                text=render(branch.template(f"rejection_{channel.value.lower()}"), lead, branch),
                subject=rejection_subject(branch) if channel is Channel.EMAIL else None,
                at=now,
            )
            await uow.offers.settle(stored.offer.id, "LAPSED")
            await uow.leads.save(lead)
            uow.track(lead, traceparent=hop("offer lapsed", lead.trace_parent))
            lapsed.append(lead.branch_id)
        await uow.commit()
    for branch_id in lapsed:
        OFFERS_LAPSED.labels(branch_id).inc()
    return len(due)


async def lapse_all_offers(make_uow: Callable[[], UnitOfWork], now: datetime) -> int:
    total = 0
    while looked_at := await lapse_offers(make_uow(), now):
        total += looked_at
    return total


Rule = Callable[[Callable[[], UnitOfWork], datetime], Awaitable[int]]
RULES: dict[str, Rule] = {
    "overdue leads": report_all_overdue,
    "no-shows": mark_all_no_shows,
    "reminders": send_all_reminders,
    "offers": lapse_all_offers,
}


async def watch_time(
    make_uow: Callable[[], UnitOfWork],
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    *,
    every: float,
) -> None:
    """Every ``every`` seconds until ``stop``: apply each of ``RULES``. A database away is
    tried again at the next round (one line when a rule fails, one when it works again)."""
    failing: set[str] = set()
    while not stop.is_set():
        for name, rule in RULES.items():
            try:
                await rule(make_uow, clock())
                if name in failing:
                    log.info("%s looked for again", name)
                failing.discard(name)
            except Exception as exc:  # the next round tries again
                if name not in failing:
                    log.warning("%s could not be looked for: %s", name, type(exc).__name__)
                failing.add(name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
