"""What lead-manager holds about a person (issue 19), and the other services asked over
HTTP for theirs (``osb_platform.privacy``)."""

from __future__ import annotations

from typing import Any

import httpx
from osb_platform.privacy import Part, ServiceExport, Subject, rows
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

SERVICE = "lead-manager"
_LEADS = (
    "SELECT * FROM leads WHERE branch_id = ANY(:branches) AND ("
    "lower(email) = ANY(:emails) OR phone = ANY(:phones) OR mobile = ANY(:phones) "
    "OR customer_number = ANY(:customer_numbers) OR upper(vin) = ANY(:vins) "
    "OR id = ANY(:lead_ids) OR id IN (SELECT lead_id FROM appointments "
    "WHERE customer_number = ANY(:customer_numbers))) ORDER BY received_at"
)


async def export(
    engine: AsyncEngine, subject: Subject, branches: list[str]
) -> tuple[list[Part], Subject]:
    """The person's leads in ``branches`` with everything kept about them; and the subject
    widened by what those leads say (their ids, contact data, customer numbers and VINs:
    how the other services know the person)."""
    params: dict[str, Any] = {**subject.params(), "branches": branches}
    async with engine.connect() as conn:
        leads = await rows(conn, _LEADS, params)
        params["lead_ids"] = [lead["id"] for lead in leads]
        appointments = await rows(
            conn, "SELECT * FROM appointments WHERE lead_id = ANY(:lead_ids)", params
        )
        parts = [
            Part(
                source=f"{SERVICE}.leads",
                about="Terminleads: Kunden- und Fahrzeugdaten, Wunschtermin, Bemerkung, Stand",
                records=leads,
            ),
            Part(
                source=f"{SERVICE}.lead_history",
                about="Verlauf der Terminleads: wer wann was getan hat, Texte an den Kunden",
                records=await rows(
                    conn,
                    "SELECT * FROM lead_history WHERE lead_id = ANY(:lead_ids) ORDER BY id",
                    params,
                ),
            ),
            Part(
                source=f"{SERVICE}.appointments",
                about="Angelegte Termine mit den übernommenen Stammdaten",
                records=appointments,
            ),
            Part(
                source=f"{SERVICE}.reminders",
                about="Terminerinnerungen",
                records=await rows(
                    conn, "SELECT * FROM reminders WHERE lead_id = ANY(:lead_ids)", params
                ),
            ),
            Part(
                source=f"{SERVICE}.offers",
                about="Terminvorschläge",
                records=await rows(
                    conn, "SELECT * FROM offers WHERE lead_id = ANY(:lead_ids)", params
                ),
            ),
        ]

    def values(*keys: str, within: list[dict[str, Any]] = leads) -> set[str]:
        return {str(r[k]) for r in within for k in keys if r.get(k)}

    widened = Subject(
        emails=sorted({*subject.emails, *values("email")}),
        phones=sorted({*subject.phones, *values("phone", "mobile")}),
        customer_numbers=sorted(
            {
                *subject.customer_numbers,
                *values("customer_number"),
                *values("customer_number", within=appointments),
            }
        ),
        vins=sorted({*subject.vins, *values("vin")}),
        lead_ids=params["lead_ids"],
    )
    return parts, widened


class HttpPeer:
    """Another service's ``/internal/v1/privacy`` endpoints."""

    def __init__(self, name: str, url: str, token: SecretStr, timeout: float = 30.0) -> None:
        self.name = name
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": f"Bearer {token.get_secret_value()}"},
        )

    async def export(self, subject: Subject) -> ServiceExport:
        response = await self._client.post(
            "/internal/v1/privacy/export", json=subject.model_dump(mode="json")
        )
        response.raise_for_status()
        return ServiceExport.model_validate_json(response.content)

    async def close(self) -> None:
        await self._client.aclose()
