"""The advisor's decisions as labels: what each lead's search showed, and what was chosen.

A search for a lead (``DuplicateSearchRequested.lead_id``) records its candidates: number,
rank, band, comparison vector and the rules' score, nothing personal. The lead's
``AppointmentCreated`` then says what the advisor did: merged with one of them (that one is
chosen, the others not), or a new customer or the cash-sale customer (none of them chosen).
A search after the decision changes nothing decided.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from uuid import UUID

from osb_contracts.leads import AppointmentCreated, CustomerChoice
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from customer_matching.adapters.tables import shown_candidates as shown
from customer_matching.service.ports import Shown

MERGES = (CustomerChoice.MERGE_LEAD_DATA, CustomerChoice.MERGE_MASTER_DATA)


async def record_shown(conn: AsyncConnection, lead_id: UUID, candidates: Sequence[Shown]) -> None:
    """The lead's latest search replaces its earlier undecided one."""
    await conn.execute(delete(shown).where(shown.c.lead_id == lead_id, ~shown.c.decided))
    if candidates:
        await conn.execute(
            insert(shown)
            .values([{"lead_id": lead_id, **c.__dict__} for c in candidates])
            .on_conflict_do_nothing()
        )


class ShownRecorder:
    """What searches showed, written in the background instead of on the answer's path: the
    advisor waits for the answer, and the next request for the subscriber.

    A lead searched again before a write is written once, as last shown. Pending searches
    are lost if the process dies before :meth:`flush` (called every fraction of a second):
    a few labels fewer, never a wrong one.
    """

    LIMIT = 10_000  # searches kept while the database does not take them

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._pending: dict[UUID, Sequence[Shown]] = {}
        self._writing = asyncio.Lock()

    def add(self, lead_id: UUID, candidates: Sequence[Shown]) -> None:
        self._pending.pop(lead_id, None)  # the latest search last: the oldest go first
        self._pending[lead_id] = candidates
        while len(self._pending) > self.LIMIT:
            del self._pending[next(iter(self._pending))]

    async def flush(self) -> None:
        """Write what is pending; when this returns, every search added before is written."""
        async with self._writing:
            pending, self._pending = self._pending, {}
            if not pending:
                return
            try:
                async with self._engine.begin() as conn:
                    for lead_id, candidates in pending.items():
                        await record_shown(conn, lead_id, candidates)
            except BaseException:
                for lead_id, candidates in pending.items():  # newer searches stay newer
                    self._pending.setdefault(lead_id, candidates)
                raise


async def record_decisions(conn: AsyncConnection, events: Iterable[AppointmentCreated]) -> int:
    """Each appointment's choice as the labels of its lead's candidates; how many were."""
    labelled = 0
    for event in events:
        merged = event.customer_choice in MERGES
        result = await conn.execute(
            update(shown)
            .where(shown.c.lead_id == event.lead_id)
            .values(
                decided=True,
                chosen=(shown.c.customer_number == event.customer_number) if merged else False,
            )
        )
        labelled += result.rowcount
    return labelled


async def decided(conn: AsyncConnection) -> list[list[tuple[str, float, bool]]]:
    """Per decided lead, its candidates in rank order: (vector, rules' score, chosen)."""
    rows = (
        await conn.execute(
            select(shown.c.lead_id, shown.c.vector, shown.c.rules_score, shown.c.chosen)
            .where(shown.c.decided)
            .order_by(shown.c.lead_id, shown.c.rank)
        )
    ).all()
    searches: dict[UUID, list[tuple[str, float, bool]]] = {}
    for lead_id, vector, rules_score, chosen in rows:
        searches.setdefault(lead_id, []).append((vector, rules_score, chosen))
    return list(searches.values())


def labelled_vectors(
    searches: Iterable[Sequence[tuple[str, float, bool]]],
) -> Counter[tuple[str, bool]]:
    """How often each vector was chosen and passed over: labels for the estimate."""
    return Counter((vector, chosen) for search in searches for vector, _, chosen in search)


async def per_band(conn: AsyncConnection) -> dict[str, object]:
    """How each band fared on the advisor's decisions: shown, chosen, precision."""
    leads = await conn.scalar(
        select(func.count(func.distinct(shown.c.lead_id))).where(shown.c.decided)
    )
    rows = (
        await conn.execute(
            select(shown.c.band, func.count(), func.count().filter(shown.c.chosen))
            .where(shown.c.decided)
            .group_by(shown.c.band)
        )
    ).all()
    return {
        "decided_leads": int(leads or 0),
        "bands": {
            band.lower(): {
                "shown": count,
                "chosen": chosen,
                "precision": round(chosen / count, 4) if count else None,
            }
            for band, count, chosen in rows
        },
    }
