"""What lead-intake holds about a person (issue 19): the appointments and counter-offers
its customer page answers, and the answers its booking endpoint gave, all by the lead."""

from __future__ import annotations

from osb_platform.privacy import Part, Subject, rows
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
