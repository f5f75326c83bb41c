"""Instances started together on a fresh database (a first deploy with two replicas, the
pipeline benchmark's two instances) run their migrations one after the other."""

from __future__ import annotations

import asyncio

import pytest
from lead_manager.entrypoints.app import MIGRATIONS
from osb_platform.db import make_engine, upgrade
from sqlalchemy import text

pytestmark = pytest.mark.integration


async def test_four_instances_migrating_a_fresh_database_at_once_all_start(
    scratch_database: str,
) -> None:
    engines = [make_engine(scratch_database, pool_size=1) for _ in range(4)]
    try:
        async with asyncio.timeout(60):  # without the lock they fail, or wait on each other
            results = await asyncio.gather(
                *(upgrade(e, MIGRATIONS) for e in engines), return_exceptions=True
            )
        assert [r for r in results if isinstance(r, BaseException)] == []
        async with engines[0].connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert len(versions) == 1
    finally:
        for e in engines:
            await e.dispose()
