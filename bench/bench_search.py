"""make bench-search: the advisor's lead list and live search at a million leads.

Fills a database of its own (``lead_manager_bench`` on the same server) with 1,000,000 leads
over 20 branches through COPY, builds the indexes the migrations define, then times the
queries the API runs (LeadQueries): the newest page of a branch, a status filter, and live
searches for a name, an e-mail, a plate typed without separators, a VIN part and a booking
reference. Writes .bench/search.json.
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

import asyncpg
from lead_manager.adapters.queries import LeadFilter, LeadQueries
from lead_manager.entrypoints.app import MIGRATIONS
from osb_contracts.values import LeadStatus
from osb_platform.db import make_engine, upgrade
from osb_testing.infrastructure import TestInfrastructure, provide

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench" / "search.json"
SURNAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
]
FIRST = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hans", "Ida", "Jonas"]
STATUSES = ["NEW", "SCHEDULED", "REJECTED", "CANCELLED", "CANCELLED_BY_CUSTOMER"]


def rows(n: int, rng: random.Random) -> Any:
    now = datetime.now(UTC)
    for i in range(n):
        last = f"{rng.choice(SURNAMES)}{'' if i % 7 else '-' + rng.choice(SURNAMES)}"
        first = rng.choice(FIRST)
        email = f"{first.lower()}.{i}@example.de"
        plate = f"{rng.choice(['HH', 'M', 'B', 'K', 'W'])}-{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')} {i % 9999 + 1}"
        vin = f"WVWZZZ{i:011d}"
        received = now - timedelta(seconds=i * 30)
        customer = {"last_name": last, "first_name": first, "email": email}
        yield (
            uuid.UUID(int=i + 1),
            f"BK-{i:08d}",
            f"B{i % 20:02d}",
            rng.choice(STATUSES),
            1,
            received,
            received + timedelta(days=3),
            json.dumps(customer),
            json.dumps({"licence_plate": plate, "vin": vin}),
            "[]",
            "[]",
            first,
            last,
            email,
            plate,
            vin,
            received,
            received,
        )


COLUMNS = [
    "id",
    "booking_id",
    "branch_id",
    "status",
    "version",
    "received_at",
    "requested_start",
    "customer",
    "vehicle",
    "services",
    "warnings",
    "first_name",
    "last_name",
    "email",
    "licence_plate",
    "vin",
    "created_at",
    "updated_at",
]


async def fill(url: str, n: int) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM leads")
        if count == n:
            return {"reused": 1.0}
        await conn.execute("TRUNCATE leads")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'leads' "
            "AND indexname NOT LIKE '%pkey' AND indexname NOT LIKE '%key'"
        )
        for ix in indexes:
            await conn.execute(f'DROP INDEX "{ix["indexname"]}"')
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "leads", records=rows(n, random.Random(7)), columns=COLUMNS
        )
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        for ix in indexes:
            await conn.execute(ix["indexdef"])
        await conn.execute("ANALYZE leads")
        return {
            "copy_s": round(loaded, 1),
            "index_build_s": round(time.perf_counter() - started, 1),
        }
    finally:
        await conn.close()


async def measure(infra: TestInfrastructure, n: int, repeat: int) -> dict[str, Any]:
    server = infra.database_urls["lead-manager"]
    admin = await asyncpg.connect(urlunsplit(urlsplit(server)._replace(path="/postgres")))
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'lead_manager_bench'"):
        await admin.execute("CREATE DATABASE lead_manager_bench")
    await admin.close()
    url = urlunsplit(urlsplit(server)._replace(path="/lead_manager_bench"))
    engine = make_engine(url, pool_size=2)
    await upgrade(engine, MIGRATIONS)
    load = await fill(url, n)
    queries = LeadQueries(engine)
    rng = random.Random(11)
    cases = {
        "newest page of a branch": lambda: LeadFilter(["B03"]),
        "status NEW, two branches": lambda: LeadFilter(["B04", "B05"], [LeadStatus.NEW]),
        "search a surname": lambda: LeadFilter(["B06"], search=rng.choice(SURNAMES)),
        "search an e-mail": lambda: LeadFilter(["B07"], search=f"{rng.randrange(n)}@example"),
        "search a plate without separators": lambda: LeadFilter(
            ["B08"], search=f"hhab{rng.randrange(1, 9999)}"
        ),
        "search a VIN part": lambda: LeadFilter(["B09"], search=f"{rng.randrange(n):011d}"[-7:]),
        "search a booking reference": lambda: LeadFilter(
            ["B10"], search=f"bk-{rng.randrange(n):08d}"
        ),
    }
    results = {}
    for name, make in cases.items():
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            await queries.page(make(), limit=50, cursor=None)
            timings.append((time.perf_counter() - started) * 1000)
        q = statistics.quantiles(timings, n=100)
        results[name] = {
            "p50_ms": round(q[49], 2),
            "p95_ms": round(q[94], 2),
            "p99_ms": round(q[98], 2),
        }
    await engine.dispose()
    return {"leads": n, "load": load, "queries": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    with provide() as infra:
        report = asyncio.run(measure(infra, args.leads, args.repeat))
    report["command"] = "make bench-search"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"{report['leads']:,} leads; load: {report['load']}")
    print(f"{'query':38} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, r in report["queries"].items():
        print(f"{name:38} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8}")


if __name__ == "__main__":
    main()
