"""make bench-erasure: a person's erasure in lead-manager's and the notifier's databases at
1,000,000 leads, beside the same at 10,000 leads in the same run.

Fills databases of their own (``lead_manager_erasure_bench``, ``notifier_erasure_bench``)
through COPY: leads over 20 branches (bench_search's rows), two history rows and a key each,
and a message to the lead's address each; first 10,000, then 1,000,000. At each size it
times, for persons with one closed lead each: finding and widening the person
(``erasure_subject``: the leads by e-mail, phone, customer number, VIN, and the
appointments' customer numbers), the notifier's step (``notifier.adapters.privacy.erase``:
the messages by lead, address or number emptied) and lead-manager's own step (``erase``:
the leads, their history, appointments, reminders, offers anonymised, the keys destroyed,
a LeadAnonymised each through the outbox, one transaction); and the retention's batch of
500 leads (``expired_leads`` and ``anonymise_leads``). lead-intake's and customer-matching's
steps and the topic steps are not here. Writes .bench/erasure.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from bench_search import COLUMNS, rows
from lead_manager.adapters import privacy
from lead_manager.entrypoints.app import MIGRATIONS
from notifier.adapters import privacy as notifier_privacy
from notifier.entrypoints.app import MIGRATIONS as NOTIFIER_MIGRATIONS
from osb_platform.db import make_engine, upgrade
from osb_platform.privacy import Subject
from osb_testing.infrastructure import TestInfrastructure, provide
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench" / "erasure.json"
DATABASE = "lead_manager_erasure_bench"
NOTIFIER_DATABASE = "notifier_erasure_bench"
BRANCHES = [f"B{i:02d}" for i in range(20)]
HISTORY = ["lead_id", "at", "actor_id", "actor_name", "action", "to_status", "reason", "details"]
TABLES = ("leads", "lead_history", "lead_keys", "outbox")


def history(n: int) -> Any:
    for i in range(n):
        lead = f"00000000-0000-0000-0000-{i + 1:012x}"
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
        yield (lead, at, "portal", "Portal", "CREATED", "NEW", None, "{}")
        yield (
            lead,
            at,
            "anna",
            "Anna",
            "REJECTED",
            "REJECTED",
            "ausgebucht",
            '{"channel": "EMAIL"}',
        )


MESSAGES = [
    *("id", "source_event_id", "source_event_type", "channel", "lead_id", "branch_id"),
    *("recipient", "subject", "text", "status", "attempts", "next_attempt_at", "created_at"),
]


def messages(n: int) -> Any:
    """A rejection by e-mail to each lead's address (bench_search's e-mail addresses)."""
    for i, row in enumerate(rows(n, random.Random(7))):
        lead, branch, last, email, at = row[0], row[2], row[12], row[13], row[5]
        text = f"Sehr geehrte Frau {last}, leider ist der Termin nicht frei."
        yield (
            *(uuid.UUID(int=(1 << 64) + i), f"evt-{i}", "osb.lead.LeadRejected.v1", "EMAIL"),
            *(lead, branch, email, "Ihre Terminanfrage", text, "SENT", 1, at, at),
        )


async def fill_notifier(url: str, n: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE notifications, sms_opt_outs")
        await conn.copy_records_to_table("notifications", records=messages(n), columns=MESSAGES)
        await conn.execute("VACUUM ANALYZE notifications")
    finally:
        await conn.close()


def keys(n: int) -> Any:
    for i in range(n):
        yield (f"00000000-0000-0000-0000-{i + 1:012x}", os.urandom(32))


async def fill(url: str, n: int) -> dict[str, float]:
    """``n`` leads with their history and keys (COPY, the indexes built after)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)}")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1) "
            "AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key'",
            ["leads", "lead_history"],
        )
        for ix in indexes:
            await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "leads", records=rows(n, random.Random(7)), columns=COLUMNS
        )
        await conn.copy_records_to_table("lead_history", records=history(n), columns=HISTORY)
        await conn.copy_records_to_table("lead_keys", records=keys(n), columns=["lead_id", "key"])
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        for ix in indexes:
            await conn.execute(ix["indexdef"])
        await conn.execute("VACUUM ANALYZE leads, lead_history, lead_keys")
        return {
            "copy_s": round(loaded, 1),
            "index_build_s": round(time.perf_counter() - started, 1),
        }
    finally:
        await conn.close()


async def persons(url: str, count: int) -> list[str]:
    """E-mail addresses of persons whose one lead is closed (an open one refuses)."""
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetch(
            "SELECT email FROM leads WHERE status IN ('REJECTED', 'CANCELLED') "
            "ORDER BY md5(id::text) LIMIT $1",
            count,
        )
        return [r["email"] for r in found]
    finally:
        await conn.close()


def summary(timings: list[float]) -> dict[str, float]:
    q = statistics.quantiles(timings, n=20)
    return {"p50_ms": round(statistics.median(timings), 1), "p95_ms": round(q[18], 1)}


async def erasures(engine: AsyncEngine, notifier: AsyncEngine, emails: list[str]) -> dict[str, Any]:
    widen, messages, own = [], [], []
    now = datetime.now(UTC)
    for email in emails:
        subject = Subject(emails=[email])
        started = time.perf_counter()
        widened = await privacy.erasure_subject(engine, subject, BRANCHES, now)
        widen.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        emptied = await notifier_privacy.erase(notifier, widened)
        messages.append((time.perf_counter() - started) * 1000)
        assert emptied["notifier.notifications"] == 1, emptied
        started = time.perf_counter()
        counts = await privacy.erase(engine, widened, BRANCHES, now)
        own.append((time.perf_counter() - started) * 1000)
        assert counts["lead-manager.leads"] == 1, counts
        assert counts["lead-manager.lead_keys"] == 1, counts
    return {"widen": summary(widen), "notifier": summary(messages), "erase": summary(own)}


async def retention(engine: AsyncEngine, batches: int) -> dict[str, Any]:
    """The retention's batches of 500 (every closed lead is past it a century on)."""
    later = datetime.now(UTC) + timedelta(days=36_500)
    find, anonymise = [], []
    for _ in range(batches):
        started = time.perf_counter()
        ids = await privacy.expired_leads(engine, later)
        find.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        done = await privacy.anonymise_leads(engine, ids, later)
        anonymise.append((time.perf_counter() - started) * 1000)
        assert done == len(ids) == 500, (done, len(ids))
    return {"find 500": summary(find), "anonymise 500": summary(anonymise)}


async def measure(infra: TestInfrastructure, sizes: list[int], count: int) -> dict[str, Any]:
    server = infra.database_urls["lead-manager"]
    admin = await asyncpg.connect(urlunsplit(urlsplit(server)._replace(path="/postgres")))
    for name in (DATABASE, NOTIFIER_DATABASE):
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    url = urlunsplit(urlsplit(server)._replace(path=f"/{DATABASE}"))
    notifier_url = urlunsplit(urlsplit(server)._replace(path=f"/{NOTIFIER_DATABASE}"))
    engine = make_engine(url, pool_size=2)
    notifier = make_engine(notifier_url, pool_size=2)
    await upgrade(engine, MIGRATIONS)
    await upgrade(notifier, NOTIFIER_MIGRATIONS)
    report: dict[str, Any] = {}
    try:
        for n in sizes:
            load = await fill(url, n)
            await fill_notifier(notifier_url, n)
            emails = await persons(url, count)
            report[str(n)] = {
                "load": load,
                "person": await erasures(engine, notifier, emails),
                "retention": await retention(engine, 5),
            }
            print(f"{n:,} leads: {report[str(n)]}", flush=True)
    finally:
        await engine.dispose()
        await notifier.dispose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    parser.add_argument("--persons", type=int, default=21)
    args = parser.parse_args()
    with provide() as infra:
        sizes = [args.baseline, args.leads]
        report = {"sizes": asyncio.run(measure(infra, sizes, args.persons))}
    report["command"] = "make bench-erasure"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    small, large = (report["sizes"][str(n)] for n in sizes)
    print(f"{'step (p50 / p95 ms)':34} {f'{sizes[0]:,} leads':>18} {f'{sizes[1]:,} leads':>18}")
    for part, step in (
        ("person", "widen"),
        ("person", "notifier"),
        ("person", "erase"),
        ("retention", "find 500"),
        ("retention", "anonymise 500"),
    ):
        cells = [f"{r[part][step]['p50_ms']} / {r[part][step]['p95_ms']}" for r in (small, large)]
        print(f"{part + ': ' + step:34} {cells[0]:>18} {cells[1]:>18}")


if __name__ == "__main__":
    main()
