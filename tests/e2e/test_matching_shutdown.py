"""customer-matching stopped with SIGTERM while DMS master changes flow, then restarted."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from osb_contracts import encode
from osb_contracts.dms import CustomerMasterChanged, MasterChange
from osb_contracts.topics import DMS_CUSTOMERS
from osb_testing.dms import master_customer
from osb_testing.system import matching_process

pytestmark = pytest.mark.e2e

CUSTOMERS = 2000
REVISIONS = 3


async def replicated(url: str, prefix: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT customer_number, revision FROM customers "
            "WHERE customer_number LIKE $1 AND NOT deleted",
            prefix + "%",
        )
    finally:
        await conn.close()
    return {r["customer_number"]: r["revision"] for r in rows}


async def replica_state(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE NOT deleted) AS customers, "
            "max(change_seq) AS last_change_seq FROM customers"
        )
    finally:
        await conn.close()
    assert row is not None
    return {"customers": row["customers"], "last_change_seq": row["last_change_seq"]}


async def test_sigterm_mid_stream_loses_no_master_change_and_the_index_follows(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"SIG{run[:5].upper()}-"
    url = database_urls["customer-matching"]
    matching = await matching_process(run, bootstrap=kafka_bootstrap_servers, database_url=url)
    await matching.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:

        async def send(revision: int) -> None:
            for n in range(CUSTOMERS):
                number = f"{prefix}{n:05d}"
                change = CustomerMasterChanged(
                    change=MasterChange.UPSERT,
                    customer_number=number,
                    revision=revision,
                    changed_at=datetime.now(UTC),
                    customer=master_customer(number, f"Sigterm{n}r{revision}"),
                )
                record = encode(change, key=number, source="/e2e/dms")
                await producer.send(
                    DMS_CUSTOMERS.name,
                    record.value,
                    key=record.key,
                    headers=record.header_list,
                )
            await producer.flush()

        # Every customer three times: the last revision must be the one that stays. The last
        # one arrives only while the service is down, so the stop always falls mid-stream.
        for revision in range(1, REVISIONS):
            await send(revision)
        async with asyncio.timeout(60):
            while not await replicated(url, prefix):
                await asyncio.sleep(0.01)
        # uvicorn re-raises SIGTERM after its clean shutdown, hence -15 rather than 0.
        assert matching.stop(timeout=30) in (0, -signal.SIGTERM)
        at_stop = await replicated(url, prefix)
        await send(REVISIONS)
        await matching.start()
        async with asyncio.timeout(120):
            while (now := await replicated(url, prefix)) != {
                f"{prefix}{n:05d}": REVISIONS for n in range(CUSTOMERS)
            }:
                await asyncio.sleep(0.2)
        # The index, built from the replica on the restart and following it since, holds
        # what the replica holds.
        async with httpx.AsyncClient() as http, asyncio.timeout(30):
            while (await http.get(f"{matching.url}/index")).json() != await replica_state(url):
                await asyncio.sleep(0.2)
    finally:
        await producer.stop()
        matching.stop()
    assert at_stop, "the stop came before anything was replicated"
    assert len(now) == CUSTOMERS
    final = sum(r == REVISIONS for r in at_stop.values())
    print(f"SIGTERM customer-matching: {len(at_stop)} replicated, {final} at the last revision")
