"""The outbox relay: publishes committed outbox rows in order, then marks them sent.

One relay publishes at a time (a PostgreSQL advisory lock elects it among instances), so
records of one key leave in the order they were committed. A crash between the send and
the mark publishes those rows again with the same event ids; consumers' inboxes drop them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from osb_contracts import KafkaRecord
from osb_platform import Outgoing, Producer
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lead_manager.adapters.tables import outbox

log = logging.getLogger(__name__)
_LOCK_KEY = 0x05B_0_07B0  # the advisory lock id of lead-manager's relay


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: Producer,
        *,
        batch_size: int = 1000,
        idle_sleep: float = 0.02,
        keep_published_s: float = 24 * 3600,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._batch_size = batch_size
        self._idle_sleep = idle_sleep
        self._keep_published_s = keep_published_s
        self.published = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with self._engine.connect() as lock_conn:
            while not stop.is_set():
                got = (
                    await lock_conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}
                    )
                ).scalar()
                await lock_conn.commit()
                if got:
                    break
                await _wait(stop, 1.0)
            try:
                await self._loop(stop)
            finally:
                with contextlib.suppress(Exception):
                    await lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})

    async def _loop(self, stop: asyncio.Event) -> None:
        failures = 0
        last_cleanup = 0.0
        while not stop.is_set():
            try:
                sent = await self.publish_once()
                failures = 0
            except Exception:
                failures += 1
                pause = min(30.0, 0.2 * 2**failures)
                log.exception("outbox relay failed (attempt %d, retry in %.1fs)", failures, pause)
                await _wait(stop, pause)
                continue
            if time.monotonic() - last_cleanup > 60:
                await self.cleanup()
                last_cleanup = time.monotonic()
            if sent < self._batch_size:
                await _wait(stop, self._idle_sleep)

    async def publish_once(self) -> int:
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(
                        outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers
                    )
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.id)
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
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(published_at=func.now())
            )
        self.published += len(rows)
        return len(rows)

    async def backlog(self) -> int:
        async with self._engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return int(count or 0)

    async def cleanup(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(outbox).where(
                    outbox.c.published_at
                    < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, self._keep_published_s)
                )
            )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
