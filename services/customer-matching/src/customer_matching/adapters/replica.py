"""The replica of the DMS masters in PostgreSQL, and the index that follows it.

Writes are idempotent and ordered per key by the DMS's revision: a change older than what
the replica holds (or the same one again) changes nothing. Every write takes the next
``master_change_seq`` value; each instance's in-memory index reads the rows above the last
value it has seen, so every instance sees every change, whichever instance wrote it.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Sequence
from typing import TypeVar

from osb_contracts.dms import CustomerMasterChanged, MasterChange, VehicleMasterChanged
from osb_contracts.values import Customer, Vehicle
from pydantic import ValidationError
from sqlalchemy import BigInteger, Text, bindparam, cast, except_, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from customer_matching.adapters.tables import customers, vehicles
from customer_matching.domain.index import CustomerIndex

log = logging.getLogger(__name__)

_UPSERT_CUSTOMERS = text(
    """
    INSERT INTO customers (customer_number, revision, deleted, data, change_seq)
    SELECT u.n, u.r, u.d, CAST(u.j AS jsonb), nextval('master_change_seq')
    FROM unnest(CAST(:n AS text[]), CAST(:r AS int8[]), CAST(:d AS bool[]), CAST(:j AS text[]))
         AS u(n, r, d, j)
    ON CONFLICT (customer_number) DO UPDATE
       SET revision = excluded.revision, deleted = excluded.deleted, data = excluded.data,
           change_seq = excluded.change_seq, updated_at = now()
     WHERE customers.revision < excluded.revision
    """
)
_UPSERT_VEHICLES = text(
    """
    INSERT INTO vehicles (vin, revision, deleted, owner_customer_number, data, change_seq)
    SELECT u.v, u.r, u.d, u.o, CAST(u.j AS jsonb), nextval('master_change_seq')
    FROM unnest(CAST(:v AS text[]), CAST(:r AS int8[]), CAST(:d AS bool[]),
                CAST(:o AS text[]), CAST(:j AS text[])) AS u(v, r, d, o, j)
    ON CONFLICT (vin) DO UPDATE
       SET revision = excluded.revision, deleted = excluded.deleted,
           owner_customer_number = excluded.owner_customer_number, data = excluded.data,
           change_seq = excluded.change_seq, updated_at = now()
     WHERE vehicles.revision < excluded.revision
    """
)


Change = TypeVar("Change", CustomerMasterChanged, VehicleMasterChanged)


def _latest(changes: Sequence[Change], key: str) -> list[Change]:
    # One statement cannot update a row twice: keep each key's newest change of the batch.
    newest: dict[str, Change] = {}
    for change in changes:
        k = getattr(change, key)
        if k not in newest or newest[k].revision < change.revision:
            newest[k] = change
    return list(newest.values())


async def apply_customer_changes(
    conn: AsyncConnection, changes: Sequence[CustomerMasterChanged]
) -> None:
    latest = _latest(changes, "customer_number")
    if not latest:
        return
    await conn.execute(
        _UPSERT_CUSTOMERS,
        {
            "n": [c.customer_number for c in latest],
            "r": [c.revision for c in latest],
            "d": [c.change is MasterChange.DELETE for c in latest],
            "j": [
                json.dumps(
                    c.customer.model_copy(update={"customer_number": c.customer_number}).model_dump(
                        mode="json"
                    )
                    if c.customer
                    else {},
                    ensure_ascii=False,
                )
                for c in latest
            ],
        },
    )


async def apply_vehicle_changes(
    conn: AsyncConnection, changes: Sequence[VehicleMasterChanged]
) -> None:
    latest = _latest(changes, "vin")
    if not latest:
        return
    await conn.execute(
        _UPSERT_VEHICLES,
        {
            "v": [c.vin for c in latest],
            "r": [c.revision for c in latest],
            "d": [c.change is MasterChange.DELETE for c in latest],
            "o": [c.owner_customer_number for c in latest],
            "j": [
                json.dumps(c.vehicle.model_dump(mode="json") if c.vehicle else {}) for c in latest
            ],
        },
    )


# Built once: the lookup is on every identification's path.
_VEHICLE = select(vehicles.c.owner_customer_number, vehicles.c.data).where(
    vehicles.c.vin == bindparam("vin"), vehicles.c.deleted.is_(False)
)


async def find_vehicle(conn: AsyncConnection, vin: str) -> tuple[str | None, Vehicle] | None:
    row = (await conn.execute(_VEHICLE, {"vin": vin})).first()
    if row is None:
        return None
    return row.owner_customer_number, Vehicle.model_validate({**row.data, "vin": vin})


class SqlVehicleMaster:
    """The vehicle master replica, read one statement at a time without a transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find(self, vin: str) -> tuple[str | None, Vehicle] | None:
        async with self._engine.connect() as conn:
            # one statement: no BEGIN and ROLLBACK round trips around it
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await find_vehicle(conn, vin)


class IndexFollower:
    """Builds the index from the replica, then applies the replica's changes as they come.

    Rows are read again from ``window`` sequence values below the last one seen: a writer's
    transaction may commit a lower value after a higher one (putting a row again is harmless).
    """

    def __init__(self, engine: AsyncEngine, index: CustomerIndex, *, window: int = 5000) -> None:
        self._engine = engine
        self.index = index
        self._window = window
        self.last_seq = 0
        self._recent: set[int] = set()  # sequence values applied within the window

    async def load(self, *, chunk: int = 20_000) -> int:
        async with self._engine.connect() as conn:
            self.last_seq = int(await conn.scalar(select(func.max(customers.c.change_seq))) or 0)
            # As text: pydantic parses the JSON itself, faster than json.loads and a dict.
            result = await conn.stream(
                select(cast(customers.c.data, Text)).where(customers.c.deleted.is_(False)),
                execution_options={"yield_per": chunk},
            )
            async for part in result.partitions():
                for (data,) in part:
                    self._put(data)
                # What is indexed lives as long as the process: out of the collector's
                # sight, or every full collection walks the growing index again.
                gc.freeze()
        return len(self.index)

    async def poll(self, *, page: int = 10_000) -> int:
        """Apply the replica's changes since the last poll; return how many were new.

        The server subtracts the sequence values applied within the window from those it
        holds there and sends only the rest: an idle replica costs one small query per poll
        and returns nothing (reading the window's values to compare them here was a tenth of
        the process's work between requests, on the event loop the answers need).
        """
        since = max(0, self.last_seq - self._window)
        in_window = select(customers.c.change_seq).where(customers.c.change_seq > since)
        applied = select(func.unnest(bindparam("applied", type_=ARRAY(BigInteger))))
        async with self._engine.connect() as conn:
            seqs = (
                await conn.scalars(except_(in_window, applied), {"applied": list(self._recent)})
            ).all()
        new = sorted(seqs)
        for start in range(0, len(new), page):
            wanted = new[start : start + page]
            async with self._engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(
                            customers.c.customer_number,
                            customers.c.deleted,
                            cast(customers.c.data, Text).label("data"),
                            customers.c.change_seq,
                        )
                        .where(customers.c.change_seq.in_(wanted))
                        .order_by(customers.c.change_seq)
                    )
                ).all()
            for row in rows:
                if row.deleted:
                    self.index.remove(row.customer_number)
                else:
                    self._put(row.data)
        self._recent.update(new)
        if new:
            self.last_seq = max(self.last_seq, new[-1])
        floor = self.last_seq - self._window
        self._recent = {s for s in self._recent if s > floor}
        return len(new)

    def _put(self, data: str) -> None:
        try:
            self.index.put(Customer.model_validate_json(data))
        except ValidationError as exc:
            # Field names and error kinds only: the values are customer data.
            errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())
            log.error("a replica row cannot be indexed: %s", errors)
