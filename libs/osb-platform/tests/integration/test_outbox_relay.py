"""The outbox relay on the real PostgreSQL and Kafka: woken by the committing transaction."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial

import pytest
from aiokafka import ConsumerRecord
from osb_contracts.customers import CustomerRegistered
from osb_contracts.topics import CUSTOMER_EVENTS
from osb_contracts.values import Customer
from osb_local_infra.postgres import database_url, ensure_databases
from osb_platform import Producer
from osb_platform.db import make_engine
from osb_platform.outbox import OutboxRelay, OutgoingEvent, add_to_outbox, outbox_table
from osb_platform.producer import Outgoing
from osb_testing.kafka import TopicTail, header
from osb_testing.proxy import database_proxy
from sqlalchemy import MetaData, Table, func, select

pytestmark = pytest.mark.integration


def registered(number: str) -> OutgoingEvent:
    return OutgoingEvent(
        CustomerRegistered(
            customer_number=number,
            branch_id="HH-01",
            customer=Customer(customer_number=number, last_name="Relay"),
            registered_at=datetime.now(UTC),
        ),
        event_id=str(uuid.uuid4()),
    )


def has_id(event_id: str | None, record: ConsumerRecord[bytes, bytes]) -> bool:
    return header(record, "ce_id") == event_id


async def empty_outbox(database_urls: dict[str, str]) -> tuple[str, Table]:
    """A database of the tests' own with an empty outbox table: its URL and the table."""
    url = database_url(database_urls["lead-manager"], "osb_platform_outbox_test")
    await ensure_databases({"test": url})
    metadata = MetaData()
    table = outbox_table(metadata)
    engine = make_engine(url, pool_size=1)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    return url, table


async def test_a_commit_wakes_the_relay_long_before_its_poll(
    database_urls: dict[str, str], kafka_bootstrap_servers: str
) -> None:
    url, table = await empty_outbox(database_urls)
    engine = make_engine(url, pool_size=2)
    producer = Producer(kafka_bootstrap_servers, client_id="outbox-relay-test")
    await producer.start()
    # An hour between polls: only the commit's notification can make it publish in time.
    relay = OutboxRelay(engine, producer, table, lock_key=random.randrange(2**31), idle_sleep=3600)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        async with TopicTail(kafka_bootstrap_servers, CUSTOMER_EVENTS.name) as tail:
            for number in ("RELAY-1", "RELAY-2", "RELAY-3"):
                event = registered(number)
                async with engine.begin() as conn:
                    await add_to_outbox(conn, table, [event], source="/test")
                # Each row after the relay went idle again; it must not wait for the poll.
                await tail.wait_for(partial(has_id, event.event_id), timeout=20)
        async with engine.connect() as conn:
            unpublished = await conn.scalar(
                select(func.count()).select_from(table).where(table.c.published_at.is_(None))
            )
        assert unpublished == 0
        assert relay.published == 3
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        await producer.stop()
        await engine.dispose()


async def test_rows_kafka_acknowledged_before_the_database_went_away_are_not_sent_again(
    database_urls: dict[str, str], kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database cut (behind a proxy) right after Kafka acknowledged a batch: the mark
    fails, and so does the lock's connection; back, the relay takes its lock again and marks
    the batch before it claims anything: every event once on the topic."""
    url, table = await empty_outbox(database_urls)
    proxy, proxied = database_proxy(url)
    await proxy.up()
    direct, engine = make_engine(url, pool_size=1), make_engine(proxied, pool_size=2)
    producer = Producer(kafka_bootstrap_servers, client_id="outbox-relay-test")
    await producer.start()
    send, cut, back = producer.send_many, asyncio.Event(), []

    async def send_then_cut(items: Iterable[Outgoing]) -> None:
        await send(items)
        if not cut.is_set():  # the first batch only: acknowledged, then the database is gone
            cut.set()
            await proxy.down()
            back.append(asyncio.create_task(up_again(seconds=2)))

    async def up_again(seconds: float) -> None:
        await asyncio.sleep(seconds)  # how long the database is away
        await proxy.up()

    monkeypatch.setattr(producer, "send_many", send_then_cut)
    relay = OutboxRelay(engine, producer, table, lock_key=random.randrange(2**31))
    stop = asyncio.Event()
    # one customer: one partition, so the marker comes after anything sent before it
    events = [registered("RELAY-CUT") for _ in range(5)]
    marker = registered("RELAY-CUT")
    running: asyncio.Task[None] | None = None
    try:
        async with TopicTail(kafka_bootstrap_servers, CUSTOMER_EVENTS.name) as tail:
            async with direct.begin() as conn:
                await add_to_outbox(conn, table, events, source="/test")
            running = asyncio.create_task(relay.run(stop))
            await tail.wait_for(partial(has_id, events[-1].event_id), timeout=20)
            async with direct.begin() as conn:
                await add_to_outbox(conn, table, [marker], source="/test")
            await tail.wait_for(partial(has_id, marker.event_id), timeout=60)
            sent = Counter(header(r, "ce_id") for r in tail.records)
        assert cut.is_set()  # the database was cut after the first batch was acknowledged
        assert back[0].done()  # and was back before the marker went out
        assert [sent[e.event_id] for e in events] == [1] * 5
        async with direct.connect() as conn:
            unpublished = await conn.scalar(
                select(func.count()).select_from(table).where(table.c.published_at.is_(None))
            )
        assert unpublished == 0
    finally:
        stop.set()
        if running is not None:
            await asyncio.wait_for(running, timeout=10)
        await producer.stop()
        await engine.dispose()
        await direct.dispose()
        await proxy.down()
