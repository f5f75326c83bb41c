"""Idempotency keys of the HTTP booking endpoint, in PostgreSQL.

A retried POST with the same key and the same body gets the first answer again; the same
key with another body is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from lead_intake.adapters.tables import idempotency_keys


@dataclass(frozen=True)
class StoredResponse:
    request_hash: str
    status_code: int
    body: dict[str, Any]


class IdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, key: str) -> StoredResponse | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        idempotency_keys.c.request_hash,
                        idempotency_keys.c.status_code,
                        idempotency_keys.c.body,
                    ).where(idempotency_keys.c.key == key)
                )
            ).first()
        return None if row is None else StoredResponse(row[0], row[1], row[2])

    async def put(self, key: str, response: StoredResponse) -> StoredResponse:
        """Store the response unless one is stored; return the one that is stored."""
        async with self._engine.begin() as conn:
            stmt = (
                insert(idempotency_keys)
                .values(
                    key=key,
                    request_hash=response.request_hash,
                    status_code=response.status_code,
                    body=response.body,
                )
                .on_conflict_do_nothing(index_elements=["key"])
            )
            inserted = (await conn.execute(stmt)).rowcount
        if inserted:
            return response
        stored = await self.get(key)
        assert stored is not None
        return stored
