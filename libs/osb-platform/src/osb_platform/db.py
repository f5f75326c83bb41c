"""PostgreSQL through SQLAlchemy 2 async (asyncpg), migrations through Alembic."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Column, Table, event, text, types
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import TypeEngine


def async_url(url: str) -> str:
    """``postgresql://`` (what the infrastructure hands out) with the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("a PostgreSQL URL starts with postgresql://")


class JsonText(str):
    """A value already serialised as JSON (a model's ``model_dump_json()``), for a JSONB
    column written by :func:`insert_many` or :func:`copy_many`."""


def json_text(value: Any) -> str:
    """JSON for a JSONB column: orjson, several times faster than ``json.dumps`` (the
    serialisation of lead, history and outbox rows was a tenth of lead-manager's CPU)."""
    return value if isinstance(value, JsonText) else orjson.dumps(value).decode()


# A pooled connection idle longer than this is pinged before use; a busier one only checked
# for a closed socket (SQLAlchemy's pre-ping costs three round trips, BEGIN, ";" and
# ROLLBACK, on every checkout: more than a lead's detail query itself).
PING_AFTER_IDLE_S = 5.0


def make_engine(url: str, *, pool_size: int = 10, **options: Any) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        json_serializer=json_text,
        json_deserializer=orjson.loads,
        # a failed statement's message (logged, in a dead letter) without its values
        hide_parameters=True,
        **options,
    )
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _still_there(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """A connection the server closed (a restart) is replaced, found without a round
        trip; one idle for a while (a firewall may have dropped it silently) is pinged."""
        idle_since = record.info.get("idle_since")
        try:
            if dbapi_connection.driver_connection.is_closed():
                raise sa_exc.DisconnectionError("closed by the server")
            if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE_S:
                dbapi_connection.ping()
        except sa_exc.DisconnectionError:
            raise
        except Exception as exc:  # the ping failed: the pool connects anew (three tries)
            raise sa_exc.DisconnectionError(str(exc)) from exc

    return engine


MIGRATION_LOCK = 0x05B0_D8A1  # advisory lock id, per database: one migration at a time


async def upgrade(engine: AsyncEngine, migrations: Path, revision: str = "head") -> None:
    """Run the Alembic migrations in ``migrations`` (a folder with env.py and versions/)."""

    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        # instances started together on a fresh database (a first deploy with replicas)
        # would race to create the same tables: one migrates, the others wait, then find
        # the database at head (the lock ends with the transaction)
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
        )
        await connection.run_sync(run)


_ARRAY_TYPES: list[tuple[type[TypeEngine[Any]], str]] = [
    (postgresql.UUID, "uuid"),
    (postgresql.JSONB, "jsonb"),
    (types.BigInteger, "int8"),
    (types.Integer, "int4"),
    (types.Boolean, "bool"),
    (types.DateTime, "timestamptz"),
    (types.LargeBinary, "bytea"),
    (types.String, "text"),
]


def _array_type(column: Column[Any]) -> str:
    for kind, name in _ARRAY_TYPES:
        if isinstance(column.type, kind):
            return name
    raise TypeError(f"no array type for {column}")


async def insert_many(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict_do_nothing: bool = False,
    returning: str | None = None,
) -> list[Any]:
    """Insert many rows in one round trip: ``INSERT ... SELECT FROM unnest(arrays)``.

    Each column travels as one typed array parameter (JSONB as text, cast on the server),
    so a batch of 500 leads is a single statement, prepared once per connection.
    """
    if not rows:
        return []
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    kinds = [_array_type(c) for c in columns]
    selects = ", ".join(
        f'CAST(u."{n}" AS jsonb)' if k == "jsonb" else f'u."{n}"'
        for n, k in zip(names, kinds, strict=True)
    )
    arrays = ", ".join(
        f"CAST(:p{i} AS {'text' if k == 'jsonb' else k}[])" for i, k in enumerate(kinds)
    )
    quoted = ", ".join(f'"{n}"' for n in names)
    # Only identifiers of our own Table objects are interpolated; values are bound.
    sql = (
        f'INSERT INTO "{table.name}" ({quoted}) '  # noqa: S608
        f"SELECT {selects} FROM unnest({arrays}) AS u({quoted})"
    )
    if on_conflict_do_nothing:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += f' RETURNING "{returning}"'
    params = {}
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        values = [row[name] for row in rows]
        if kind == "jsonb":
            values = [None if v is None else json_text(v) for v in values]
        params[f"p{i}"] = values
    result = await conn.execute(text(sql), params)
    return list(result.scalars()) if returning else []


async def copy_many(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows by binary COPY, inside the connection's transaction.

    For tables written without conflict handling (history, outbox): cheaper than
    :func:`insert_many`'s arrays, whose every element the driver inspects on the way out.
    """
    if not rows:
        return
    names = list(rows[0])
    jsonb = [isinstance(table.c[n].type, postgresql.JSONB) for n in names]
    records = [
        tuple(
            json_text(row[n]) if is_json and row[n] is not None else row[n]
            for n, is_json in zip(names, jsonb, strict=True)
        )
        for row in rows
    ]
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table.name, records=records, columns=names)
