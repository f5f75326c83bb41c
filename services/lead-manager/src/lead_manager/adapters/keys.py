"""The leads' keys (``lead_keys``): one per lead, made with its first sealed event."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from osb_contracts.sealing import new_key
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lead_manager.adapters.tables import lead_keys


async def keys_for(conn: AsyncConnection, lead_ids: Iterable[UUID]) -> dict[UUID, bytes]:
    """Each lead's key, made where it has none yet (in the caller's transaction)."""
    wanted = set(lead_ids)
    if not wanted:
        return {}
    found = await _existing(conn, wanted)
    missing = wanted - found.keys()
    if missing:
        made = await conn.execute(
            insert(lead_keys)
            .values([{"lead_id": lead, "key": new_key()} for lead in sorted(missing)])
            .on_conflict_do_nothing()
            .returning(lead_keys.c.lead_id, lead_keys.c.key)
        )
        found.update({lead: bytes(key) for lead, key in made.all()})
        if len(found) < len(wanted):  # made meanwhile by another transaction
            found.update(await _existing(conn, wanted - found.keys()))
    return found


async def _existing(conn: AsyncConnection, lead_ids: set[UUID]) -> dict[UUID, bytes]:
    rows = await conn.execute(
        select(lead_keys.c.lead_id, lead_keys.c.key).where(lead_keys.c.lead_id.in_(list(lead_ids)))
    )
    return {lead: bytes(key) for lead, key in rows.all()}


async def existing_keys(engine: AsyncEngine, lead_ids: list[UUID]) -> dict[UUID, bytes]:
    """The keys of those of ``lead_ids`` that have one (an erased lead has none)."""
    async with engine.connect() as conn:
        return await _existing(conn, set(lead_ids))
