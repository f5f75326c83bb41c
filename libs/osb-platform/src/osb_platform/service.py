"""What every service process does the same way: its clock, its runtime (database, producer,
background tasks, consumers, stopped in reverse), its readiness checks, serving."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import uvicorn
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from osb_platform.db import make_engine, upgrade
from osb_platform.http import Check
from osb_platform.observability import BrokerWatch, LagWatch, configure_logging
from osb_platform.outbox import OutboxRelay
from osb_platform.producer import Producer
from osb_platform.tracing import flush_traces, setup_tracing


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What a service process holds while it runs. Whatever is started through it is stopped
    when the lifespan ends, in reverse order: consumers first (each finishes the batch in hand
    and commits it), then background tasks, then the producer, then the database."""

    engine: AsyncEngine
    producer: Producer
    stack: AsyncExitStack
    bootstrap_servers: str = ""
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def prompt_producer(self, client_id: str) -> Producer:
        """A producer that sends at once, without the 5 ms linger: for request/reply, where
        someone waits for every record (the relay's producer batches for throughput).
        Stopped with the runtime, after the consumers started later."""
        producer = Producer(self.bootstrap_servers, client_id=client_id, linger_ms=0)
        await producer.start()
        self.stack.push_async_callback(producer.stop)
        return producer

    def background(
        self, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]], name: str
    ) -> None:
        """Run ``run(stop)`` as a task until the service stops."""
        task = asyncio.create_task(run(self.stop), name=name)

        async def finish() -> None:
            self.stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        self.stack.push_async_callback(finish)

    def relay(self, outbox: Table, *, lock_key: int) -> None:
        """Publish the service's outbox (the instance holding ``lock_key`` does) until it stops."""
        relay = OutboxRelay(self.engine, self.producer, outbox, lock_key=lock_key)
        self.background(relay.run, "outbox-relay")

    async def consume(self, broker: KafkaBroker) -> None:
        """Start the broker's subscribers, with their consumer lag watched."""
        await broker.start()
        self.stack.push_async_callback(broker.stop)
        lag = LagWatch(broker)
        lag.start()
        self.stack.push_async_callback(lag.stop)


class RuntimeSettings(Protocol):
    """What of a service's settings its runtime needs (every service's ``Settings`` has it)."""

    @property
    def database_url(self) -> str: ...
    @property
    def kafka_bootstrap_servers(self) -> str: ...


@asynccontextmanager
async def service_runtime(
    service: str, settings: RuntimeSettings, migrations: Path, *, pool_size: int = 10
) -> AsyncIterator[Runtime]:
    """The service's database (migrated to head) and its producer, for one lifespan."""
    setup_tracing(service)
    async with AsyncExitStack() as stack:
        stack.callback(flush_traces)
        engine = make_engine(settings.database_url, pool_size=pool_size)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine, migrations)
        producer = Producer(settings.kafka_bootstrap_servers, client_id=service)
        await producer.start()
        stack.push_async_callback(producer.stop)
        runtime = Runtime(engine, producer, stack, settings.kafka_bootstrap_servers)
        runtime.background(BrokerWatch(producer.reachable).run, "broker-watch")
        yield runtime


def readiness(engine: AsyncEngine, producer: Producer, topic: str) -> dict[str, Check]:
    """The database answers a query; Kafka answers a metadata request for ``topic``."""

    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def kafka() -> None:
        await producer.ping(topic)

    return {"database": database, "kafka": kafka}


def tune_gc() -> None:
    """Collect young objects every 50,000 allocations instead of 700: a batch of 500 records
    allocates tens of thousands of short-lived objects, and at the default the collector ran
    every few records, walking the batch in progress each time."""
    gc.set_threshold(50_000, 20, 20)


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Run under uvicorn with JSON logs; SIGTERM or Ctrl-C drain the app through its lifespan."""
    configure_logging(app.title.removeprefix("OSB "))
    tune_gc()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # uvicorn's records go through the JSON formatter too
        # The event loop in C (asyncio's own is Python): sockets, callbacks and futures are
        # a large part of every consumer's and producer's work.
        loop="uvloop",
        http="httptools",  # HTTP/1.1 parsed in C: h11 in Python was most of a request's cost
        timeout_graceful_shutdown=20,
    )
