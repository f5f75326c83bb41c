"""make bench-reminders: finding and sending the due reminders each minute while the
reminders table grows, beside the due query alone.

Writes ``--appointments`` (100,000) appointments over a week of opening hours into a
database of its own (``lead_manager_bench_reminders``), as the schedule use case writes
them (the lead scheduled, its appointment, its reminders 24 h and 2 h before: about
200,000 rows), then plays the week minute by minute on an injected clock: each minute
lead-manager's reminder rule (``send_all_reminders``: the due rows locked, each lead
locked, ``LeadReminderDue`` into the outbox, the row marked) and, beside it, the due query
alone on the rows left. Sent rows stay in the table, so the last day runs against the
fullest table. Per day: the rule's and the query's time per minute (p50, p95, max), the
reminders sent, the rows already sent. A reminder is late by more than a minute only if a
minute's work took longer than a minute.

Writes .bench/reminders.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import Appointment, Lead
from lead_manager.domain.permissions import SYSTEM_PORTAL, Actor, Permission
from lead_manager.entrypoints.app import MIGRATIONS
from lead_manager.service.commands import plan_reminders_of
from lead_manager.service.deadlines import send_all_reminders
from osb_contracts.leads import CustomerChoice, LeadRequested, VehicleCase
from osb_contracts.values import ConfirmationChannel, Customer, Vehicle
from osb_platform.db import make_engine, upgrade
from osb_testing.infrastructure import TestInfrastructure, provide
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench" / "reminders.json"
DB = "lead_manager_bench_reminders"
BERLIN = ZoneInfo("Europe/Berlin")
BRANCH = BranchSettings("B01", "Autohaus Bench")  # 24 h and 2 h, the evening before
ANNA = Actor("anna", "Anna", {"B01": frozenset({Permission.LEAD_MANAGER})})
DUE_ALONE = text(
    "SELECT id FROM reminders WHERE state = 'PENDING' AND due_at <= :now "
    "ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED"
)


def monday_after(now: datetime) -> datetime:
    day = (now.astimezone(BERLIN) + timedelta(days=7 - now.weekday())).date()
    return datetime.combine(day, datetime.min.time(), BERLIN)


def appointment_starts(week: datetime, n: int, rng: random.Random) -> list[datetime]:
    """Quarter hours of Tuesday to Sunday, 07:30 to 17:30 (Monday's 24 h reminders would
    fall before the week played)."""
    slots = [
        week + timedelta(days=d, hours=7, minutes=30 + 15 * q)
        for d in range(1, 7)
        for q in range(41)
    ]
    return [rng.choice(slots) for _ in range(n)]


async def write_appointments(
    engine: AsyncEngine, starts: list[datetime], made: datetime, batch: int = 1000
) -> float:
    """As the schedule use case writes them, ``batch`` leads per transaction; seconds."""
    began = time.perf_counter()
    for first in range(0, len(starts), batch):
        async with SqlUnitOfWork(engine, lambda: made) as uow:
            leads = []
            for start in starts[first : first + batch]:
                request = LeadRequested(
                    lead_id=uuid.uuid4(),
                    booking_id=f"R-{uuid.uuid4().hex[:12]}",
                    branch_id="B01",
                    received_at=made,
                    requested_start=start,
                    customer=Customer(last_name="Bench", email="bench@example.de"),
                    vehicle=Vehicle(),
                )
                leads.append((Lead.create(request, actor=SYSTEM_PORTAL, at=made), start))
            await uow.leads.add_new([lead for lead, _ in leads])
            for lead, start in leads:
                booked = Appointment(
                    id=uuid.uuid4(),
                    start=start,
                    end=start + timedelta(hours=1),
                    acceptor="anna",
                    customer_number="BAR",
                    customer_choice=CustomerChoice.CASH_SALE,
                    customer=lead.customer,
                    vehicle=Vehicle(),
                    vehicle_case=VehicleCase.TRANSIT,
                    confirmation=ConfirmationChannel.EMAIL,
                    recipient="bench@example.de",
                )
                lead.schedule(actor=ANNA, appointment=booked, at=made)
                await uow.leads.save(lead)
                await uow.leads.add_appointment(lead, booked)
                await plan_reminders_of(uow, lead, booked, BRANCH, now=made)
            await uow.commit()
    return time.perf_counter() - began


async def due_alone(engine: AsyncEngine, now: datetime) -> float:
    """The due query alone, locked and let go again; milliseconds."""
    began = time.perf_counter()
    async with engine.connect() as conn, conn.begin() as tx:
        await conn.execute(DUE_ALONE, {"now": now})
        await tx.rollback()
    return (time.perf_counter() - began) * 1000


async def play_week(engine: AsyncEngine, week: datetime) -> list[dict[str, Any]]:
    """Minute by minute through the week (the injected clock)."""

    def make_uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, lambda: now)

    days: list[dict[str, Any]] = []
    now = week
    for day in range(7):
        rule_ms: list[float] = []
        alone_ms: list[float] = []
        looked_at = 0
        for _ in range(24 * 60):
            now += timedelta(minutes=1)
            alone_ms.append(await due_alone(engine, now))
            began = time.perf_counter()
            looked_at += await send_all_reminders(make_uow, now)
            rule_ms.append((time.perf_counter() - began) * 1000)
        async with engine.connect() as conn:
            sent = await conn.scalar(text("SELECT count(*) FROM reminders WHERE state = 'SENT'"))
        days.append(
            {
                "day": (week + timedelta(days=day)).strftime("%a %d.%m."),
                "reminders_looked_at": looked_at,
                "sent_rows_by_then": sent,
                "rule_ms": _summary(rule_ms),
                "minutes_over_a_minute": sum(1 for ms in rule_ms if ms > 60_000),
                "query_alone_ms": _summary(alone_ms),
            }
        )
        print(json.dumps(days[-1]), flush=True)
    return days


def _summary(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=20)
    return {
        "p50": round(statistics.median(ms), 2),
        "p95": round(q[18], 2),
        "max": round(max(ms), 1),
    }


async def measure(infra: TestInfrastructure, appointments: int) -> dict[str, Any]:
    server = infra.database_urls["lead-manager"]
    admin = await asyncpg.connect(urlunsplit(urlsplit(server)._replace(path="/postgres")))
    await admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    await admin.execute(f"CREATE DATABASE {DB}")
    await admin.close()
    engine = make_engine(urlunsplit(urlsplit(server)._replace(path=f"/{DB}")), pool_size=2)
    try:
        await upgrade(engine, MIGRATIONS)
        made = datetime.now(UTC)
        week = monday_after(made)
        starts = appointment_starts(week, appointments, random.Random(17))
        written = await write_appointments(engine, starts, made)
        async with engine.connect() as conn:
            rows = await conn.scalar(text("SELECT count(*) FROM reminders"))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM (ANALYZE) reminders"))
        days = await play_week(engine, week)
    finally:
        await engine.dispose()
    late_minutes = sum(d["minutes_over_a_minute"] for d in days)
    return {
        "appointments": appointments,
        "reminder_rows": rows,
        "write_s": round(written, 1),
        "written_per_s": round(appointments / written),
        "days": days,
        "minutes_over_a_minute": late_minutes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appointments", type=int, default=100_000)
    args = parser.parse_args()
    with provide() as infra:
        report = asyncio.run(measure(infra, args.appointments))
    report["command"] = "make bench-reminders"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(
        f"{report['appointments']:,} appointments with {report['reminder_rows']:,} reminders "
        f"written in {report['write_s']} s ({report['written_per_s']:,}/s)"
    )
    print(
        f"{'day':12} {'reminders':>9} {'sent rows':>9}   {'rule per minute p50/p95/max ms':>32}"
        f"   {'due query alone p50/p95/max ms':>32}"
    )
    for d in report["days"]:
        rule, alone = d["rule_ms"], d["query_alone_ms"]
        print(
            f"{d['day']:12} {d['reminders_looked_at']:>9,} {d['sent_rows_by_then']:>9,}   "
            f"{rule['p50']:>10} / {rule['p95']:>8} / {rule['max']:>8}   "
            f"{alone['p50']:>10} / {alone['p95']:>8} / {alone['max']:>8}"
        )
    print(f"minutes whose work took longer than a minute: {report['minutes_over_a_minute']}")
    print(f"(written to {OUT.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
