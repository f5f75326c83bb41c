"""What lead-manager holds about a person (issue 19), and the other services asked over
HTTP for theirs (``osb_platform.privacy``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from osb_contracts.leads import AnonymisedBy, LeadAnonymised
from osb_contracts.topics import (
    CUSTOMER_EVENTS,
    DMS_APPOINTMENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    LEAD_REQUESTS,
    MATCHING_REPLIES,
    MATCHING_REQUESTS,
    NOTIFICATION_COMMANDS,
    NOTIFICATION_EVENTS,
    PORTAL_BOOKINGS,
    TOPICS,
)
from osb_contracts.values import LeadStatus
from osb_platform import consumed, dead_letters
from osb_platform.consumed import Cut
from osb_platform.outbox import OutgoingEvent, add_to_outbox
from osb_platform.privacy import ErasedCounts, Part, ServiceExport, Subject, rows
from pydantic import SecretStr
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lead_manager import SOURCE
from lead_manager.adapters.tables import lead_keys, outbox
from lead_manager.domain.branch import LEAD_RETENTION_MONTHS
from lead_manager.service.privacy import OpenLeadsError

SERVICE = "lead-manager"
_LEADS = (
    "SELECT * FROM leads WHERE branch_id = ANY(:branches) AND ("
    "lower(email) = ANY(:emails) OR phone = ANY(:phones) OR mobile = ANY(:phones) "
    "OR customer_number = ANY(:customer_numbers) OR upper(vin) = ANY(:vins) "
    "OR id = ANY(:lead_ids) OR id IN (SELECT lead_id FROM appointments "
    "WHERE customer_number = ANY(:customer_numbers) AND customer_choice <> 'CASH_SALE')) "
    "ORDER BY received_at"
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

    return parts, _widened(subject, leads, appointments)


def _widened(
    subject: Subject, leads: list[dict[str, Any]], appointments: list[dict[str, Any]]
) -> Subject:
    def values(*keys: str, within: list[dict[str, Any]] = leads) -> set[str]:
        return {str(r[k]) for r in within for k in keys if r.get(k)}

    # a cash sale's customer number is the branch's, shared by everyone paying cash: it
    # names no one
    chosen = [a for a in appointments if a.get("customer_choice") != "CASH_SALE"]

    return Subject(
        emails=sorted({*subject.emails, *values("email")}),
        phones=sorted({*subject.phones, *values("phone", "mobile")}),
        customer_numbers=sorted(
            {
                *subject.customer_numbers,
                *values("customer_number"),
                *values("customer_number", within=chosen),
            }
        ),
        vins=sorted({*subject.vins, *values("vin")}),
        lead_ids=[lead["id"] for lead in leads],
    )


# what stays of an erased lead's customer: the contract's one required field
ERASED = "(gelöscht)"
ERASED_CUSTOMER = json.dumps({"last_name": ERASED})
# the history's details that name no one (ids, channels, outcomes); the rest goes
KEPT_DETAILS = [
    "notification_id",
    "channel",
    "attempts",
    "purpose",
    "error_code",
    "permanent",
    "appointment_id",
    "offer_id",
]
# a lead still being worked on: new, offered, or scheduled for a time to come
_OPEN = (
    "SELECT id FROM leads WHERE id = ANY(:lead_ids) AND (status IN ('NEW', 'OFFERED') "
    "OR (status = 'SCHEDULED' AND appointment_id IN "
    "(SELECT id FROM appointments WHERE start > :now)))"
)
_ERASE = (
    """UPDATE leads SET customer = CAST(:customer AS jsonb), vehicle = '{}'::jsonb,
    comment = NULL, unusable = '[]'::jsonb, warnings = '[]'::jsonb, first_name = NULL,
    last_name = :erased, email = NULL, phone = NULL, mobile = NULL, licence_plate = NULL,
    vin = NULL, customer_number = NULL, version = version + 1, updated_at = :now,
    anonymised_at = :now WHERE id = ANY(:lead_ids) RETURNING id, branch_id, status""",
    """UPDATE lead_history SET reason = NULL, details = COALESCE((SELECT
    jsonb_object_agg(key, value) FROM jsonb_each(details) WHERE key = ANY(:kept)),
    '{}'::jsonb) WHERE lead_id = ANY(:lead_ids)""",
    """UPDATE appointments SET customer = CAST(:customer AS jsonb), vehicle = '{}'::jsonb,
    warnings = '[]'::jsonb, customer_number = '-' WHERE lead_id = ANY(:lead_ids)""",
    """UPDATE reminders SET recipient = '-', updated_at = :now,
    state = CASE WHEN state = 'PENDING' THEN 'CANCELLED' ELSE state END
    WHERE lead_id = ANY(:lead_ids)""",
    """UPDATE offers SET recipient = '-', plan = '{}'::jsonb, updated_at = :now
    WHERE lead_id = ANY(:lead_ids)""",
)


async def erasure_subject(
    engine: AsyncEngine, subject: Subject, branches: list[str], now: datetime
) -> Subject:
    """The subject widened by the person's leads in ``branches``, as the export widens it;
    refused while one of those leads is still open."""
    params: dict[str, Any] = {**subject.params(), "branches": branches, "now": now}
    async with engine.connect() as conn:
        leads = await rows(conn, _LEADS, params)
        params["lead_ids"] = [lead["id"] for lead in leads]
        appointments = await rows(
            conn, "SELECT * FROM appointments WHERE lead_id = ANY(:lead_ids)", params
        )
        still_open = list((await conn.execute(text(_OPEN), params)).scalars())
    if still_open:
        raise OpenLeadsError(still_open)
    return _widened(subject, leads, appointments)


async def erase(
    engine: AsyncEngine, subject: Subject, branches: list[str], now: datetime
) -> dict[str, int]:
    """The person's leads in ``branches`` (``subject`` as :func:`erasure_subject` widened
    it) anonymised in place, in one transaction: status, times, branch and the Auswertung's
    facts stay; their customer and vehicle, contact data, free texts, texts sent and
    recipients go. Refused while one of them is still open (checked again under the lock)."""
    params: dict[str, Any] = {**subject.params(), "branches": branches, "now": now}
    async with engine.begin() as conn:
        locked = await conn.execute(text(f"SELECT id FROM ({_LEADS}) l FOR UPDATE"), params)  # noqa: S608 - the module's own query
        params["lead_ids"] = list(locked.scalars())
        still_open = list((await conn.execute(text(_OPEN), params)).scalars())
        if still_open:
            raise OpenLeadsError(still_open)
        return await _anonymise(conn, params, AnonymisedBy.ERASURE, subject.customer_numbers)


async def erase_dead_letters(bootstrap: str, subject: Subject) -> dict[str, int]:
    """The person's dead letters gone from every dead-letter topic (``osb_platform``)."""
    spellings = subject.spellings()
    if not spellings:
        return {}

    def holds(data: bytes) -> bool:
        text = data.decode("utf-8", "replace").lower()
        return any(s in text for s in spellings)

    dlqs = [t.dlq for t in TOPICS if t.has_dlq]
    return await dead_letters.erase_dead_letters(bootstrap, dlqs, holds)


async def _anonymise(
    conn: AsyncConnection,
    params: dict[str, Any],
    by: AnonymisedBy,
    customer_numbers: Sequence[str] = (),
) -> dict[str, int]:
    """The leads ``params["lead_ids"]`` anonymised in place (``params["now"]``: when), their
    keys destroyed (their events' personal fields on the topic no longer open), and a
    ``LeadAnonymised`` each through the outbox (the live pages, the DMS)."""
    params = {**params, "customer": ERASED_CUSTOMER, "erased": ERASED, "kept": KEPT_DETAILS}
    anonymised = (await conn.execute(text(_ERASE[0]), params)).all()
    counts = {f"{SERVICE}.leads": len(anonymised)}
    for table, statement in zip(
        ("lead_history", "appointments", "reminders", "offers"), _ERASE[1:], strict=True
    ):
        result = await conn.execute(text(statement), params)
        counts[f"{SERVICE}.{table}"] = int(getattr(result, "rowcount", 0) or 0)
    destroyed = await conn.execute(
        delete(lead_keys).where(lead_keys.c.lead_id.in_(params["lead_ids"]))
    )
    counts[f"{SERVICE}.lead_keys"] = int(destroyed.rowcount or 0)
    events = [
        OutgoingEvent(
            LeadAnonymised(
                lead_id=lead_id,
                branch_id=branch_id,
                status=LeadStatus(status),
                by=by,
                customer_numbers=tuple(customer_numbers),
                anonymised_at=params["now"],
            )
        )
        for lead_id, branch_id, status in anonymised
    ]
    await add_to_outbox(conn, outbox, events, source=SOURCE)
    return counts


# closed leads past their branch's retention (months after their last change)
_EXPIRED = """SELECT l.id FROM leads l LEFT JOIN branch_settings b ON b.branch_id = l.branch_id
WHERE l.anonymised_at IS NULL AND l.updated_at < CAST(:now AS timestamptz) - make_interval(
    months => COALESCE(b.lead_retention_months, :default_months))
AND NOT (l.status IN ('NEW', 'OFFERED') OR (l.status = 'SCHEDULED' AND l.appointment_id IN
    (SELECT id FROM appointments WHERE start > CAST(:now AS timestamptz))))
ORDER BY l.updated_at LIMIT :limit"""


async def expired_leads(engine: AsyncEngine, now: datetime, limit: int = 500) -> list[UUID]:
    """Closed leads not yet anonymised whose branch's retention has passed since their last
    change; the oldest first."""
    async with engine.connect() as conn:
        found = await conn.execute(
            text(_EXPIRED),
            {"now": now, "limit": limit, "default_months": LEAD_RETENTION_MONTHS},
        )
        return list(found.scalars())


async def anonymise_leads(engine: AsyncEngine, lead_ids: list[UUID], now: datetime) -> int:
    """``lead_ids`` anonymised as an erasure does, each once: how many."""
    async with engine.begin() as conn:
        locked = await conn.execute(
            text(
                "SELECT id FROM leads WHERE id = ANY(:lead_ids) AND anonymised_at IS NULL "
                "ORDER BY id FOR UPDATE SKIP LOCKED"
            ),
            {"lead_ids": lead_ids},
        )
        ids = list(locked.scalars())
        if ids:
            await _anonymise(conn, {"lead_ids": ids, "now": now}, AnonymisedBy.RETENTION)
    return len(ids)


# the work topics that carry a person's data, consumed within seconds by the installation
# (the lead events are kept for ever: sealed instead)
WORK_TOPICS = (
    PORTAL_BOOKINGS,
    LEAD_REQUESTS,
    MATCHING_REQUESTS,
    NOTIFICATION_EVENTS,
    NOTIFICATION_COMMANDS,
    CUSTOMER_EVENTS,
    DMS_APPOINTMENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
)
# a reply older than a client's timeout is waited for by no one; beyond it, a margin for
# the clocks of the producer and of lead-manager
REPLY_MARGIN = timedelta(seconds=10)


async def cut_work_topics(
    bootstrap: str, groups: list[str], replies_waited: timedelta, subject: Subject
) -> Cut:
    """The work topics cut at what every one of the installation's groups has read (the
    person's records with everyone else's: none of them is needed any more); the replies,
    read without a group, before what anyone may still wait for (``replies_waited``)."""
    cut = await consumed.delete_consumed(bootstrap, [t.name for t in WORK_TOPICS], groups)
    replies = await consumed.delete_older_than(
        bootstrap, [MATCHING_REPLIES.name], datetime.now(UTC) - replies_waited - REPLY_MARGIN
    )
    cut.deleted.update(replies.deleted)
    return cut


ERASURE_LOCK = 0x05B0_E2A5  # advisory lock id: one erasure at a time across the instances


@asynccontextmanager
async def one_at_a_time(engine: AsyncEngine) -> AsyncIterator[None]:
    """Held for an erasure's steps (a session lock on a connection of its own): another
    instance's erasure waits, so no two rewrite the same dead-letter partition at once."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ERASURE_LOCK})
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ERASURE_LOCK})


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

    async def erase(self, subject: Subject) -> ErasedCounts:
        response = await self._client.post(
            "/internal/v1/privacy/erase", json=subject.model_dump(mode="json")
        )
        response.raise_for_status()
        return ErasedCounts.model_validate_json(response.content)

    async def close(self) -> None:
        await self._client.aclose()
