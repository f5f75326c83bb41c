"""What lead-intake holds about a person (issue 19): the appointments and counter-offers
its customer page answers, and the answers its booking endpoint gave, all by the lead."""

from __future__ import annotations

from osb_platform.privacy import Part, Subject, rows
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SERVICE = "lead-intake"


async def export(engine: AsyncEngine, subject: Subject) -> list[Part]:
    params = subject.params()
    params["lead_texts"] = [str(i) for i in params["lead_ids"]]
    async with engine.connect() as conn:
        return [
            Part(
                source=f"{SERVICE}.appointments",
                about="Termine zu den Terminleads, für die Links in E-Mails und SMS",
                records=await rows(
                    conn, "SELECT * FROM appointments WHERE lead_id = ANY(:lead_ids)", params
                ),
            ),
            Part(
                source=f"{SERVICE}.offers",
                about="Terminvorschläge zu den Terminleads und welcher angenommen wurde",
                records=await rows(
                    conn, "SELECT * FROM offers WHERE lead_id = ANY(:lead_ids)", params
                ),
            ),
            Part(
                source=f"{SERVICE}.idempotency_keys",
                about="Antworten auf die Buchungen über das Portal (Buchungsnummer, Lead)",
                records=await rows(
                    conn,
                    "SELECT * FROM idempotency_keys WHERE body->>'lead_id' = ANY(:lead_texts)",
                    params,
                ),
            ),
        ]


async def erase(engine: AsyncEngine, subject: Subject) -> dict[str, int]:
    """The leads' appointments and offers gone (their links then lead nowhere), and the
    booking endpoint's answers about them."""
    params = subject.params()
    params["lead_texts"] = [str(i) for i in params["lead_ids"]]
    counts = {}
    async with engine.begin() as conn:
        for table, where in (
            ("appointments", "lead_id = ANY(:lead_ids)"),
            ("offers", "lead_id = ANY(:lead_ids)"),
            ("idempotency_keys", "body->>'lead_id' = ANY(:lead_texts)"),
        ):
            result = await conn.execute(text(f"DELETE FROM {table} WHERE {where}"), params)  # noqa: S608 - the service's own names
            counts[f"{SERVICE}.{table}"] = int(getattr(result, "rowcount", 0) or 0)
    return counts
