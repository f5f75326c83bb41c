"""What every service process does the same way: its clock, its readiness checks, serving."""

from __future__ import annotations

from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from osb_platform.http import Check
from osb_platform.observability import configure_logging
from osb_platform.producer import Producer


def utc_now() -> datetime:
    return datetime.now(UTC)


def readiness(engine: AsyncEngine, producer: Producer, topic: str) -> dict[str, Check]:
    """The database answers a query; Kafka answers a metadata request for ``topic``."""

    async def database() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def kafka() -> None:
        await producer.ping(topic)

    return {"database": database, "kafka": kafka}


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Run under uvicorn with JSON logs; SIGTERM or Ctrl-C drain the app through its lifespan."""
    configure_logging(app.title.removeprefix("OSB "))
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # uvicorn's records go through the JSON formatter too
        timeout_graceful_shutdown=20,
    )
