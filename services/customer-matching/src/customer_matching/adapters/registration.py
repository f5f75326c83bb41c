"""New customers: a number from the configured range, the replica row, CustomerRegistered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from osb_contracts.customers import CustomerRegistered
from osb_contracts.dms import CustomerMasterChanged, MasterChange
from osb_contracts.matching import RegisterCustomerRequested
from osb_platform.outbox import OutgoingEvent, add_to_outbox
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from customer_matching import SOURCE
from customer_matching.adapters.replica import apply_customer_changes
from customer_matching.adapters.tables import number_ranges, outbox, registrations
from customer_matching.service.ports import RangeExhaustedError


async def ensure_range(
    engine: AsyncEngine, *, prefix: str, first: int, last: int, digits: int
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(number_ranges)
            .values(prefix=prefix, next_value=first, last_value=last, digits=digits)
            .on_conflict_do_update(
                index_elements=["prefix"], set_={"last_value": last, "digits": digits}
            )
        )


class Registrar:
    def __init__(self, engine: AsyncEngine, *, prefix: str, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._prefix = prefix
        self._clock = clock

    async def register(self, request: RegisterCustomerRequested) -> str:
        """The new customer's number; the same one again for a retried request."""
        async with self._engine.begin() as conn:
            known = await conn.scalar(
                select(registrations.c.customer_number).where(
                    registrations.c.request_id == request.request_id
                )
            )
            if known:
                return str(known)
            number = await self._allocate(conn)
            await conn.execute(
                insert(registrations).values(request_id=request.request_id, customer_number=number)
            )
            customer = request.customer.model_copy(update={"customer_number": number})
            # Revision 0: the DMS's own record of this customer (revision 1 on) replaces it.
            await apply_customer_changes(
                conn,
                [
                    CustomerMasterChanged(
                        change=MasterChange.UPSERT,
                        customer_number=number,
                        revision=0,
                        changed_at=self._clock(),
                        customer=customer,
                    )
                ],
            )
            event = CustomerRegistered(
                customer_number=number,
                branch_id=request.branch_id,
                customer=customer,
                registered_at=self._clock(),
                lead_id=request.lead_id,
            )
            await add_to_outbox(conn, outbox, [OutgoingEvent(event, number)], source=SOURCE)
        return number

    async def _allocate(self, conn: AsyncConnection) -> str:
        row = (
            await conn.execute(
                text(
                    "UPDATE number_ranges SET next_value = next_value + 1 "
                    "WHERE prefix = :p AND next_value <= last_value "
                    "RETURNING next_value - 1 AS value, digits"
                ),
                {"p": self._prefix},
            )
        ).first()
        if row is None:
            raise RangeExhaustedError(f"no customer number left in range {self._prefix}")
        return f"{self._prefix}{row.value:0{row.digits}d}"
