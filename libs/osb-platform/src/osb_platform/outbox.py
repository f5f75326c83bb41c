"""Transactional outbox and inbox, the same in every service that owns a database.

- ``outbox_table`` / ``inbox_table`` define the tables on a service's metadata; a new
  service's first migration creates them with ``create_outbox_and_inbox``.
- ``add_to_outbox`` encodes events as CloudEvents records inside the caller's transaction.
- ``first_seen`` records event ids in the inbox and returns those not processed before.
- ``OutboxRelay`` publishes committed rows in order, then marks them. One relay per service
  publishes at a time (a PostgreSQL advisory lock elects it among instances; lost with its
  connection, it is taken again before anything more is published), so records of one key
  leave in commit order. When the mark fails (the database went away after Kafka
  acknowledged), the relay marks those rows first once the database is back, before it
  claims any: they are not sent again. Only a relay killed between the send and the mark,
  or losing its lock to another instance meanwhile, publishes rows again, with the same
  event ids; consumers' inboxes drop them.
- A transaction that adds rows sends a PostgreSQL notification, delivered at its commit to
  the relay listening on that database, whichever instance committed: the relay publishes
  at once and otherwise polls only now and then (for a notification lost with its
  connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from osb_contracts import KafkaRecord, Message, encode
from osb_contracts.topics import key_of, topic_for
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from osb_platform.db import copy_many, insert_many
from osb_platform.observability import OUTBOX_BACKLOG
from osb_platform.producer import Outgoing, Producer
from osb_platform.tracing import traceparent_here

log = logging.getLogger(__name__)

CHANNEL = "osb_outbox"  # per database: each service has its own


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", LargeBinary, nullable=False),
        Column("value", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "id", postgresql_where=Column("published_at").is_(None)),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def create_outbox_and_inbox(op: Any, *, inbox: bool = True) -> None:
    """In a new service's first migration (``op`` is Alembic's): the outbox, and the inbox
    unless ``inbox=False``, exactly as :func:`outbox_table` and :func:`inbox_table`
    describe them, indexes included, so no service writes them by hand again."""
    metadata = MetaData()
    outbox_table(metadata)
    if inbox:
        inbox_table(metadata)
    metadata.create_all(op.get_bind())


@dataclass(frozen=True)
class OutgoingEvent:
    message: Message
    key: str | None = None  # None: the registry's key field of the message's topic
    correlation_id: str | None = None
    causation_id: str | None = None
    event_id: str | None = None
    traceparent: str | None = None  # None: the current span's


async def add_to_outbox(
    conn: AsyncConnection,
    table: Table,
    events: Iterable[OutgoingEvent],
    *,
    source: str,
    seal_keys: Mapping[str, bytes] | None = None,
) -> None:
    """``seal_keys``: by record key, the key to seal a message's personal fields with."""
    rows = []
    for event in events:
        event_id = event.event_id or str(uuid.uuid4())
        key = event.key if event.key is not None else key_of(event.message)
        record = encode(
            event.message,
            key=key,
            source=source,
            event_id=event_id,
            correlation_id=event.correlation_id,
            causation_id=event.causation_id,
            traceparent=event.traceparent
            or traceparent_here(f"publish {event.message.cloudevents_type()}"),
            seal_key=seal_keys.get(key) if seal_keys else None,
        )
        rows.append(
            {
                "event_id": event_id,
                "topic": topic_for(type(event.message)).name,
                "key": record.key,
                "value": record.value,
                "headers": record.headers,
            }
        )
    await copy_many(conn, table, rows)
    if rows:
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def first_seen(
    conn: AsyncConnection, table: Table, consumer: str, event_ids: Iterable[str]
) -> set[str]:
    ids = list(dict.fromkeys(event_ids))
    rows = [{"consumer": consumer, "event_id": i} for i in ids]
    fresh = await insert_many(conn, table, rows, on_conflict_do_nothing=True, returning="event_id")
    return set(fresh)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: Producer,
        table: Table,
        *,
        lock_key: int,
        batch_size: int = 1000,
        idle_sleep: float = 1.0,
        keep_published_s: float = 24 * 3600,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._table = table
        self._lock_key = lock_key
        self._batch_size = batch_size
        self._idle_sleep = idle_sleep
        self._keep_published_s = keep_published_s
        self.published = 0
        self._wake = asyncio.Event()
        self._unmarked: list[int] = []  # sent, Kafka acknowledged, the mark not committed

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self._elected(stop)
                failures = 0
            except Exception:  # the lock's connection could not be had or was lost
                failures += 1
                pause = min(30.0, 0.2 * 2**failures)
                log.warning("outbox relay lost its database connection; again in %.1fs", pause)
                await _wait(stop, pause)

    async def _elected(self, stop: asyncio.Event) -> None:
        """Take the lock (waiting while another instance holds it), publish while it is held."""
        async with self._engine.connect() as lock_conn:
            while not stop.is_set():
                got = (
                    await lock_conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key}
                    )
                ).scalar()
                await lock_conn.commit()
                if got:
                    break
                await _wait(stop, 1.0)
            if stop.is_set():
                return
            raw = await lock_conn.get_raw_connection()
            listening = raw.driver_connection
            assert listening is not None
            await listening.add_listener(CHANNEL, self._notified)
            try:
                await self._loop(stop, held=lambda: not listening.is_closed())
            finally:
                with contextlib.suppress(Exception):
                    await listening.remove_listener(CHANNEL, self._notified)
                    await lock_conn.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key}
                    )

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _loop(self, stop: asyncio.Event, held: Callable[[], bool]) -> None:
        failures = 0
        last_cleanup = last_count = 0.0
        while not stop.is_set():
            if not held():  # the server ended the session, and with it the lock
                raise ConnectionError("the outbox relay's lock connection was lost")
            try:
                sent = await self.publish_once()
                # Housekeeping inside the try: a database away must not end the relay.
                if time.monotonic() - last_cleanup > 60:
                    await self.cleanup()
                    last_cleanup = time.monotonic()
                if time.monotonic() - last_count > 10:
                    OUTBOX_BACKLOG.set(await self.backlog())
                    last_count = time.monotonic()
                failures = 0
            except Exception:
                failures += 1
                pause = min(30.0, 0.2 * 2**failures)
                log.exception("outbox relay failed (attempt %d, retry in %.1fs)", failures, pause)
                await _wait(stop, pause)
                continue
            if sent < self._batch_size:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until rows are committed, the poll interval passes or the relay is stopped."""
        waits = [asyncio.ensure_future(e.wait()) for e in (stop, self._wake)]
        try:
            await asyncio.wait(waits, timeout=self._idle_sleep, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        self._wake.clear()

    async def publish_once(self) -> int:
        t = self._table
        if self._unmarked:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(t)
                    .where(t.c.id.in_(self._unmarked), t.c.published_at.is_(None))
                    .values(published_at=func.clock_timestamp())
                )
            self._unmarked = []
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(t.c.id, t.c.topic, t.c.key, t.c.value, t.c.headers)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self._producer.send_many(
                Outgoing(r.topic, KafkaRecord(key=r.key, value=r.value, headers=r.headers))
                for r in rows
            )
            self._unmarked = [r.id for r in rows]
            await conn.execute(
                update(t)
                .where(t.c.id.in_([r.id for r in rows]))
                .values(published_at=func.clock_timestamp())  # when the broker acknowledged
            )
        self._unmarked = []
        self.published += len(rows)
        return len(rows)

    async def backlog(self) -> int:
        """Rows not yet acknowledged by Kafka (a partial index keeps this cheap)."""
        t = self._table
        async with self._engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(t).where(t.c.published_at.is_(None))
            )
        return int(count or 0)

    async def cleanup(self) -> None:
        t = self._table
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(t).where(
                    t.c.published_at
                    < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, self._keep_published_s)
                )
            )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
