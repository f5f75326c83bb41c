"""make bench-identification: the duplicate dialog's question as the advisor's page asks it.

``GET /api/v1/leads/{id}/identification`` over HTTP to lead-manager as a process, which asks
customer-matching (a process too, on the demo replica of ``make run``: 2,000 Faker customers
and their vehicles) over Kafka: the VIN's owner and the duplicate search at once. Leads made
from demo masters as a portal would send them (umlauts spelt out, "Str.", the customer's
VIN on most). Beside it, from the same run, the lead's own ``GET /api/v1/leads/{id}``: the
same HTTP, token and database path without the questions to customer-matching;
``GET /health/live``, the HTTP client's and server's share alone; and the
floor of any request/reply over this broker: two bare aiokafka clients playing ping-pong
through it, the answering side once without and once with committing its offsets after
each answer before it reads again (as a subscriber with ``AckPolicy.ACK`` does).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

SECRET = secrets.token_urlsafe(32)  # this run's tokens only


def _q(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100)
    return {"p50": round(q[49], 2), "p95": round(q[94], 2), "p99": round(q[98], 2)}


async def run(infra: Any, leads: int, requests: int) -> dict[str, Any]:
    from customer_matching.demo import generate
    from customer_matching.entrypoints.cli import _demo
    from lead_manager.domain.permissions import Permission
    from lead_manager.entrypoints.auth import issue_token
    from osb_local_infra.postgres import database_url, ensure_databases
    from osb_platform import make_broker
    from osb_testing.system import lead_system, matching_process

    run_id = uuid.uuid4().hex[:6]
    urls = {
        "customer-matching": database_url(
            infra.database_urls["customer-matching"], "bench_identification_cm"
        ),
        "lead-manager": database_url(
            infra.database_urls["lead-manager"], "bench_identification_lm"
        ),
    }
    await ensure_databases(urls)
    system = await lead_system(
        run_id,
        bootstrap=infra.bootstrap_servers,
        database_urls={**infra.database_urls, **urls},
        jwt_secret=SECRET,
    )
    matching = await matching_process(
        run_id, bootstrap=infra.bootstrap_servers, database_url=urls["customer-matching"]
    )
    os.environ["CUSTOMER_MATCHING_DATABASE_URL"] = urls["customer-matching"]
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = infra.bootstrap_servers
    await _demo(2000, 42, generate)  # the replica make run loads, unless already there
    branch = "HH-01"
    token = issue_token(SECRET, user="anna", name="Anna", branches={branch: list(Permission)})
    headers = {"Authorization": f"Bearer {token}"}
    customers, vehicles = generate(2000, random.Random(42))
    owned = {owner: v for owner, v in vehicles}
    rng = random.Random(5)
    bus = make_broker(infra.bootstrap_servers, client_id="bench-portal")
    try:  # the processes stopped whatever fails: a customer-matching left behind would
        # answer the next run's requests too
        await matching.start()
        await system.manager.start()
        await bus.start()
        ids = [
            await _lead(bus, branch, master, owned.get(master.customer_number or ""))
            for master in rng.sample(customers, leads)
        ]
        # aiohttp: httpx's own work is about 3 ms a request on this machine, aiohttp's 0.5
        async with aiohttp.ClientSession(system.manager.url, headers=headers) as http:
            timed = await _timed(http, ids, requests)
        asked = await _asked(infra.bootstrap_servers, customers, owned, rng, requests)
        floor = await kafka_ping_pong(infra.bootstrap_servers)
        return {
            "leads": leads,
            "requests": requests,
            **timed,
            "request_reply_ms": asked,
            "kafka_ping_pong_ms": floor,
        }
    finally:
        await bus.stop()
        system.manager.stop()
        matching.stop()


async def _asked(
    bootstrap: str, customers: list[Any], owned: dict[str, Any], rng: random.Random, n: int
) -> dict[str, float]:
    """The duplicate search with the VIN, asked straight from here as lead-manager asks it:
    customer-matching's share and the broker's, without HTTP and lead-manager's database."""
    from osb_contracts.matching import DuplicateCriterion
    from osb_platform.matching import MatchingClient
    from osb_platform.producer import Producer

    producer = Producer(bootstrap, client_id="bench-asker", linger_ms=0)
    await producer.start()
    client = MatchingClient(bootstrap, producer, source="/bench")
    await client.start()
    took = []
    try:
        for i in range(n + 50):
            master = rng.choice(customers)
            vehicle = owned.get(master.customer_number or "")
            t0 = time.perf_counter()
            await client.duplicates(
                master.model_copy(update={"customer_number": None}),
                branch_id="HH-01",
                criteria=(DuplicateCriterion.ADDRESS,),  # a branch's default
                vin=vehicle.vin if vehicle else None,
            )
            if i >= 50:  # the first ones warm up
                took.append((time.perf_counter() - t0) * 1000)
    finally:
        await client.stop()
        await producer.stop()
    return _q(took)


async def kafka_ping_pong(bootstrap: str, rounds: int = 300) -> dict[str, Any]:
    """Request/reply with no service work: the broker's and the client's share of it."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    run = uuid.uuid4().hex[:8]
    pings, pongs = f"bench.ping.{run}", f"bench.pong.{run}"
    await admin.create_topics([NewTopic(pings, 6, 1), NewTopic(pongs, 6, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, enable_idempotence=True)
    answerer = AIOKafkaConsumer(
        pings, bootstrap_servers=bootstrap, group_id=pings, auto_offset_reset="earliest"
    )
    asker = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    for client in (producer, answerer, asker):
        await client.start()
    partitions = [TopicPartition(pongs, i) for i in range(6)]
    asker.assign(partitions)
    await asker.seek_to_end(*partitions)
    for tp in partitions:
        await asker.position(tp)
    commit = False

    async def answer() -> None:
        while True:
            batches = await answerer.getmany(timeout_ms=5, max_records=100)
            for records in batches.values():
                for r in records:
                    await producer.send_and_wait(pongs, r.value, key=r.key)
            if batches and commit:
                await answerer.commit()

    async def rounds_of() -> list[float]:
        took = []
        for _ in range(rounds):
            key = uuid.uuid4().bytes
            t0 = time.perf_counter()
            await producer.send_and_wait(pings, b"ping", key=key)
            while not any(
                r.key == key for rs in (await asker.getmany(timeout_ms=200)).values() for r in rs
            ):
                pass
            took.append((time.perf_counter() - t0) * 1000)
        return took

    task = asyncio.create_task(answer())
    try:
        await rounds_of()  # warm up: group joined, connections open
        without = await rounds_of()
        commit = True
        with_commit = await rounds_of()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for client in (producer, answerer, asker):
            await client.stop()
        await admin.delete_topics([pings, pongs])
        await admin.close()
    return {"without_commit": _q(without), "committing_each_answer": _q(with_commit)}


async def _lead(bus: Any, branch: str, master: Any, vehicle: Any) -> uuid.UUID:
    """A booking of ``master`` as a portal sends it, with their vehicle if they have one."""
    from osb_contracts.leads import LeadRequested
    from osb_contracts.topics import LEAD_REQUESTS
    from osb_contracts.values import Vehicle
    from osb_platform import publish

    street = (master.address.street or "").replace("straße", "str.")
    lead = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id=f"BI-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        received_at=datetime.now(UTC),
        requested_start=datetime.now(UTC) + timedelta(days=2),
        customer=master.model_copy(
            update={
                "customer_number": None,
                "last_name": master.last_name.replace("ü", "ue").replace("ö", "oe"),
                "address": master.address.model_copy(update={"street": street}),
            }
        ),
        vehicle=vehicle or Vehicle(),
    )
    await publish(bus, lead, topic=LEAD_REQUESTS, key=str(lead.lead_id), source="/bench")
    return lead.lead_id


async def _get(http: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
    async with http.get(path) as r:
        return r.status, await r.json()


async def _timed(
    http: aiohttp.ClientSession, ids: list[uuid.UUID], requests: int
) -> dict[str, Any]:
    async with asyncio.timeout(120):
        for lead_id in ids:
            while (await _get(http, f"/api/v1/leads/{lead_id}"))[0] != 200:
                await asyncio.sleep(0.05)
    for lead_id in ids[:50]:  # warm up: connections, the services' caches
        assert (await _get(http, f"/api/v1/leads/{lead_id}/identification"))[0] == 200
    ident, detail, live = [], [], []
    for i in range(requests):
        lead_id = ids[i % len(ids)]
        for path, took in (
            (f"/api/v1/leads/{lead_id}/identification", ident),
            (f"/api/v1/leads/{lead_id}", detail),
            ("/health/live", live),
        ):
            t0 = time.perf_counter()
            status, body = await _get(http, path)
            took.append((time.perf_counter() - t0) * 1000)
            assert status == 200, body
    return {
        "identification_ms": _q(ident),
        "lead_detail_ms_baseline": _q(detail),
        "http_floor_ms": _q(live),  # the process answering without token or database
    }


def main() -> None:
    import json

    import uvloop
    from osb_testing.infrastructure import provide

    with provide() as infra:
        report = uvloop.run(run(infra, leads=200, requests=1500))
    print(json.dumps(report, indent=2))
    out = Path(__file__).resolve().parents[1] / ".bench" / "identification_http.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
