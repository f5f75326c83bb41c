"""Waiting on a service's outbox: when it is drained, every event it wrote is on the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import asyncpg


async def unpublished(database_url: str, keys: Iterable[str | bytes]) -> int:
    """Outbox rows with one of ``keys`` that the relay has not yet published."""
    wanted = [k.encode() if isinstance(k, str) else k for k in keys]
    conn = await asyncpg.connect(database_url)
    try:
        n = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE key = ANY($1) AND published_at IS NULL", wanted
        )
    finally:
        await conn.close()
    return int(n)


async def wait_outbox_drained(
    database_url: str, keys: Iterable[str | bytes], *, timeout: float = 60.0
) -> None:
    """Wait until every outbox row with one of ``keys`` is published (the relay sends a row
    before it marks it, so a repeat after a crash is on the broker by then too)."""
    wanted = list(keys)
    try:
        async with asyncio.timeout(timeout):
            while await unpublished(database_url, wanted):
                await asyncio.sleep(0.1)
    except TimeoutError:
        left = await unpublished(database_url, wanted)
        raise AssertionError(f"{left} outbox rows still unpublished after {timeout} s") from None


__all__ = ["unpublished", "wait_outbox_drained"]
