"""What customer-matching holds about a person (issue 19): its replica of the DMS's
customer and vehicle masters, the customer numbers it gave out, and what its searches
showed and the advisors chose (the labels its duplicate model learns from)."""

from __future__ import annotations

from osb_platform.privacy import Part, Subject, rows
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SERVICE = "customer-matching"


async def export(engine: AsyncEngine, subject: Subject) -> list[Part]:
    params = subject.params()
    async with engine.connect() as conn:
        customers = await rows(
            conn,
            "SELECT * FROM customers WHERE customer_number = ANY(:customer_numbers) "
            "OR lower(data->>'email') = ANY(:emails) "
            "OR data->>'phone' = ANY(:phones) OR data->>'mobile' = ANY(:phones)",
            params,
        )
        params["numbers"] = sorted(
            {*params["customer_numbers"], *(c["customer_number"] for c in customers)}
        )
        return [
            Part(
                source=f"{SERVICE}.customers",
                about="Kundenstamm des DMS (Abbild)",
                records=customers,
            ),
            Part(
                source=f"{SERVICE}.vehicles",
                about="Fahrzeugstamm des DMS (Abbild): die Fahrzeuge des Kunden",
                records=await rows(
                    conn,
                    "SELECT * FROM vehicles WHERE vin = ANY(:vins) "
                    "OR owner_customer_number = ANY(:numbers)",
                    params,
                ),
            ),
            Part(
                source=f"{SERVICE}.registrations",
                about="Im DMS angelegte Kundennummern",
                records=await rows(
                    conn,
                    "SELECT * FROM registrations WHERE customer_number = ANY(:numbers)",
                    params,
                ),
            ),
            Part(
                source=f"{SERVICE}.shown_candidates",
                about="Bei der Dublettensuche angezeigte Kunden und die Wahl des Serviceberaters "
                "(Lernbeispiele der Dublettenerkennung)",
                records=await rows(
                    conn,
                    "SELECT * FROM shown_candidates WHERE lead_id = ANY(:lead_ids) "
                    "OR customer_number = ANY(:numbers)",
                    params,
                ),
            ),
        ]


async def erase(engine: AsyncEngine, subject: Subject) -> dict[str, int]:
    """The replica's customer and vehicles gone (the DMS, the master, is told by lead-manager
    and deletes its own), the numbers given out and the search labels of the person's leads
    and customer numbers. The model's counts name no one and stay."""
    params = subject.params()
    counts = {}
    async with engine.begin() as conn:
        numbers = (
            await conn.execute(
                text(
                    "SELECT customer_number FROM customers "
                    "WHERE customer_number = ANY(:customer_numbers) "
                    "OR lower(data->>'email') = ANY(:emails) "
                    "OR data->>'phone' = ANY(:phones) OR data->>'mobile' = ANY(:phones)"
                ),
                params,
            )
        ).scalars()
        params["numbers"] = sorted({*params["customer_numbers"], *numbers})
        for table, where in (
            ("customers", "customer_number = ANY(:numbers)"),
            ("vehicles", "vin = ANY(:vins) OR owner_customer_number = ANY(:numbers)"),
            ("registrations", "customer_number = ANY(:numbers)"),
            ("shown_candidates", "lead_id = ANY(:lead_ids) OR customer_number = ANY(:numbers)"),
        ):
            result = await conn.execute(text(f"DELETE FROM {table} WHERE {where}"), params)  # noqa: S608 - the service's own names
            counts[f"{SERVICE}.{table}"] = int(getattr(result, "rowcount", 0) or 0)
    return counts
