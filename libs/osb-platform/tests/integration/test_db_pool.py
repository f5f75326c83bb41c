"""The pool's check of a connection before use, on the real PostgreSQL: a connection the
server ended is replaced, not handed out; no round trip for a connection in use lately."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from osb_platform import db
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def _end(url: str, pid: int) -> None:
    other = db.make_engine(url, pool_size=1)
    try:
        async with other.connect() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_a_connection_the_server_closed_is_replaced_before_use(scratch_database: str) -> None:
    engine = db.make_engine(scratch_database, pool_size=1)
    try:
        first = await _backend_pid(engine)
        await _end(scratch_database, first)
        await asyncio.sleep(0.2)  # the client reads the server's goodbye: the socket is closed
        assert await _backend_pid(engine) != first  # a new connection, no error on the way
    finally:
        await engine.dispose()


async def test_an_idle_connection_is_pinged_and_replaced_when_dead(
    scratch_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    engine = db.make_engine(scratch_database, pool_size=1)
    try:
        first = await _backend_pid(engine)
        await _end(scratch_database, first)  # no pause: the client has not noticed yet
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("ping_after", "pings"), [(5.0, 0), (0.0, 1)])
async def test_a_connection_used_lately_is_not_pinged_one_idle_is(
    scratch_database: str, monkeypatch: pytest.MonkeyPatch, ping_after: float, pings: int
) -> None:
    pinged: list[object] = []
    original: Any = AsyncAdapt_asyncpg_connection.ping

    def counting(self: AsyncAdapt_asyncpg_connection) -> None:
        pinged.append(self)
        original(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", ping_after)
    engine = db.make_engine(scratch_database, pool_size=1)
    try:
        first = await _backend_pid(engine)  # a new connection: nothing to check
        assert await _backend_pid(engine) == first
        assert len(pinged) == pings
    finally:
        await engine.dispose()


async def test_a_failed_statement_s_message_does_not_hold_its_values(
    scratch_database: str,
) -> None:
    """The message is logged and kept with a dead letter: the statement, not the customer's
    data it carried (issue 19). SQLAlchemy appends the parameters unless told not to."""
    engine = db.make_engine(scratch_database, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TEMP TABLE people (name text UNIQUE)"))
            insert = text("INSERT INTO people VALUES (:name)")
            await conn.execute(insert, {"name": "Quappendorf"})
            with pytest.raises(DBAPIError) as failed:
                await conn.execute(insert, {"name": "Quappendorf"})
    finally:
        await engine.dispose()
    assert "duplicate key value violates unique constraint" in str(failed.value)
    assert "Quappendorf" not in str(failed.value)
