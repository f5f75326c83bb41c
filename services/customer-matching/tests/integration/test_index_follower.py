"""The index follows the replica on the real PostgreSQL: each change applied once, a change
whose lower sequence value commits after a higher one (a slower writer) still applied, an
idle replica returning nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from customer_matching.adapters.replica import IndexFollower
from customer_matching.adapters.tables import customers
from customer_matching.domain.index import CustomerIndex
from customer_matching.entrypoints.app import MIGRATIONS
from osb_platform.db import make_engine, upgrade
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(scratch_database: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(scratch_database, pool_size=2)
    await upgrade(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


async def write(engine: AsyncEngine, number: str, seq: int, *, last_name: str = "Berg") -> None:
    """A replica row as a writer commits it, with the sequence value it drew."""
    data = {"customer_number": number, "first_name": "Eva", "last_name": last_name}
    row = {"customer_number": number, "revision": seq, "deleted": False, "data": data}
    async with engine.begin() as conn:
        await conn.execute(
            insert(customers)
            .values(**row, change_seq=seq)
            .on_conflict_do_update(
                index_elements=[customers.c.customer_number],
                set_={"data": data, "change_seq": seq, "revision": seq},
            )
        )


async def test_changes_applied_once_late_commits_of_lower_values_too(engine: AsyncEngine) -> None:
    index = CustomerIndex()
    follower = IndexFollower(engine, index, window=100)
    for seq, number in ((1, "C1"), (2, "C2"), (3, "C3")):
        await write(engine, number, seq)
    assert await follower.load() == 3
    assert await follower.poll() == 3  # the window once more after loading: harmless
    assert await follower.poll() == 0  # idle: nothing comes back

    await write(engine, "C5", 5)
    assert await follower.poll() == 1
    await write(engine, "C4", 4)  # drew 4 before C5 drew 5, committed after it
    assert await follower.poll() == 1
    assert {n for n in ("C1", "C2", "C3", "C4", "C5") if index.get(n)} == {
        "C1", "C2", "C3", "C4", "C5"
    }  # fmt: skip

    await write(engine, "C2", 6, last_name="Berger")  # a change: the row takes a new value
    assert await follower.poll() == 1
    customer = index.get("C2")
    assert customer is not None
    assert customer.last_name == "Berger"
    assert await follower.poll() == 0
    async with engine.begin() as conn:  # a deletion is a change too
        await conn.execute(
            update(customers)
            .where(customers.c.customer_number == "C3")
            .values(deleted=True, change_seq=7)
        )
    assert await follower.poll() == 1
    assert index.get("C3") is None
