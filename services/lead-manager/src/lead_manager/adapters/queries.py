"""The read side of the advisor's screen: list, search, detail, counter."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from osb_contracts.leads import VehicleCase
from osb_contracts.values import LeadStatus
from sqlalchemy import and_, bindparam, func, not_, null, or_, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from lead_manager.adapters.repository import lead_from_row, settings_from_row, stored_offer
from lead_manager.adapters.tables import (
    appointments,
    branch_settings,
    lead_history,
    leads,
    offers,
)
from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import Lead
from lead_manager.service.ports import CalendarEntry, LeadFilter, Page, Scheduled, StoredOffer

__all__ = ["LeadFilter", "LeadQueries", "Page", "decode_cursor"]

_LIST_COLUMNS = [c for c in leads.c if c.name != "search_text"]
# Built once: the detail's statements are the hot path of the page (building one costs
# about as much as running it).
_LEAD = select(*_LIST_COLUMNS).where(leads.c.id == bindparam("id"))
_HISTORY = (
    select(lead_history)
    .where(lead_history.c.lead_id == bindparam("id"))
    .order_by(lead_history.c.id)
)
_APPOINTMENT = select(
    appointments.c.id,
    appointments.c.start,
    appointments.c.end,
    appointments.c.acceptor,
    appointments.c.customer_number,
    appointments.c.vehicle_case,
    appointments.c.deleted_at,
).where(appointments.c.id == bindparam("id"))
_SETTINGS_COLUMNS = {c.name: c.label(f"settings_{c.name}") for c in branch_settings.c}
# the lead and its branch's settings in one round trip (the identification's first step)
_LEAD_WITH_SETTINGS = (
    select(*_LIST_COLUMNS, *_SETTINGS_COLUMNS.values())
    .select_from(leads.outerjoin(branch_settings, branch_settings.c.branch_id == leads.c.branch_id))
    .where(leads.c.id == bindparam("id"))
)
_MAX_MERGED = 24  # (branch, status) ranges merged per page; more falls back to one scan
_OVERDUE_SHOWN = 200  # overdue leads ahead of the first page at most


def _encode_cursor(received_at: datetime, lead_id: UUID, overdue_at: datetime) -> str:
    raw = json.dumps([received_at.isoformat(), str(lead_id), overdue_at.isoformat()]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, UUID, datetime]:
    """Where the page ends, and the instant the first page took the overdue leads out at
    (the same ones stay out of the later pages)."""
    try:
        at, lead_id, overdue_at = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), UUID(lead_id), datetime.fromisoformat(overdue_at)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a cursor of this list") from exc


def _past_deadline(at: datetime) -> Any:
    # never NULL (a lead without a deadline is not overdue), so NOT of it leaves none out
    return and_(
        leads.c.status == LeadStatus.NEW.value,
        leads.c.respond_by.is_not(None),
        leads.c.respond_by <= at,
    )


class LeadQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        # Reads need no transaction: without BEGIN and ROLLBACK a detail is two round trips
        # fewer (each statement sees committed data; the history may run one step ahead).
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def page(
        self, where: LeadFilter, *, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        """Newest first, keyset-paginated, so page 1,000 costs what page 1 costs; the new
        leads past their deadline ahead of the first page, most overdue first."""
        common: list[Any] = []
        if where.start_from:
            common.append(leads.c.requested_start >= where.start_from)
        if where.start_to:
            common.append(leads.c.requested_start < where.start_to)
        if where.acceptor:
            common.append(leads.c.acceptor == where.acceptor)
        overdue_at = now
        if cursor:
            at, lead_id, overdue_at = decode_cursor(cursor)
            common.append(tuple_(leads.c.received_at, leads.c.id) < tuple_(at, lead_id))
        overdue: list[Lead] = []
        if cursor is None and (not where.statuses or LeadStatus.NEW in where.statuses):
            overdue = await self._overdue(where, common, now)
        common.append(not_(_past_deadline(overdue_at)))
        order = (leads.c.received_at.desc(), leads.c.id.desc())
        statuses = [s.value for s in where.statuses]
        wanted: list[str | None] = list(statuses) or [None]
        combinations = [(b, s) for b in where.branch_ids for s in wanted]
        if where.search or len(combinations) > _MAX_MERGED:
            conditions = [leads.c.branch_id.in_(list(where.branch_ids)), *common]
            if statuses:
                conditions.append(leads.c.status.in_(statuses))
            if where.search:
                conditions.append(_search(where.search))
            stmt = select(*_LIST_COLUMNS).where(and_(*conditions)).order_by(*order).limit(limit + 1)
        else:
            # One index range per (branch, status), newest first, merged: PostgreSQL cannot
            # walk one index in order across an IN list, and sorting a branch's whole
            # history for one page costs ~100 ms at a million leads instead of ~1 ms.
            parts = []
            for branch, status in combinations:
                conditions = [leads.c.branch_id == branch, *common]
                if status is not None:
                    conditions.append(leads.c.status == status)
                parts.append(
                    select(*_LIST_COLUMNS)
                    .where(and_(*conditions))
                    .order_by(*order)
                    .limit(limit + 1)
                    .subquery()
                    .select()
                )
            merged = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
            stmt = (
                select(merged)
                .order_by(merged.c.received_at.desc(), merged.c.id.desc())
                .limit(limit + 1)
            )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        found = [lead_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        next_cursor = _encode_cursor(last.received_at, last.id, overdue_at) if last else None
        return Page(found, next_cursor, overdue)

    async def _overdue(self, where: LeadFilter, common: list[Any], now: datetime) -> list[Lead]:
        conditions = [leads.c.branch_id.in_(list(where.branch_ids)), *common, _past_deadline(now)]
        if where.search:
            conditions.append(_search(where.search))
        stmt = (
            select(*_LIST_COLUMNS)
            .where(and_(*conditions))
            .order_by(leads.c.respond_by, leads.c.id)
            .limit(_OVERDUE_SHOWN)
        )
        async with self._engine.connect() as conn:
            return [lead_from_row(r) for r in (await conn.execute(stmt)).all()]

    async def settings_of(self, branch_ids: Sequence[str]) -> list[BranchSettings]:
        stmt = select(branch_settings).where(branch_settings.c.branch_id.in_(list(branch_ids)))
        async with self._engine.connect() as conn:
            return [settings_from_row(r) for r in (await conn.execute(stmt)).all()]

    async def get(self, lead_id: UUID) -> tuple[Lead, list[Any]] | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_LEAD, {"id": lead_id})).first()
            if row is None:
                return None
            history = (await conn.execute(_HISTORY, {"id": lead_id})).all()
        return lead_from_row(row), list(history)

    async def offer_of(self, lead_id: UUID) -> StoredOffer | None:
        latest = (
            select(offers)
            .where(offers.c.lead_id == lead_id)
            .order_by(offers.c.created_at.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(latest)).first()
        return stored_offer(row) if row else None

    async def appointment(self, appointment_id: UUID) -> Scheduled | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(_APPOINTMENT, {"id": appointment_id})).first()
        if row is None:
            return None
        return Scheduled(
            row.id,
            row.start,
            row.end,
            row.acceptor,
            row.customer_number,
            VehicleCase(row.vehicle_case),
            row.deleted_at,
        )

    async def calendar(
        self, branch_id: str, start: datetime, end: datetime, *, new_leads: bool
    ) -> list[CalendarEntry]:
        a = appointments.c
        booked = (
            select(
                a.lead_id,
                leads.c.status,
                a.start,
                a.end,
                a.acceptor,
                a.customer["first_name"].astext.label("first_name"),
                a.customer["last_name"].astext.label("last_name"),
                a.vehicle["licence_plate"].astext.label("licence_plate"),
                a.id.label("appointment_id"),
            )
            .join(leads, leads.c.id == a.lead_id)
            .where(
                a.branch_id == branch_id,
                a.start < end,
                a.end > start,
                a.deleted_at.is_(None),
                # an appointment the customer cancelled is gone from the DMS too
                leads.c.status == LeadStatus.SCHEDULED.value,
            )
        )
        parts = [booked]
        if new_leads:
            parts.append(
                select(
                    leads.c.id,
                    leads.c.status,
                    leads.c.requested_start,
                    leads.c.requested_end,
                    null(),
                    leads.c.first_name,
                    leads.c.last_name,
                    leads.c.licence_plate,
                    null(),
                ).where(
                    leads.c.branch_id == branch_id,
                    leads.c.status == LeadStatus.NEW.value,
                    leads.c.requested_start >= start,
                    leads.c.requested_start < end,
                )
            )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(union_all(*parts).order_by("start"))).all()
        return [
            CalendarEntry(
                lead_id=r.lead_id,
                status=LeadStatus(r.status),
                start=r.start,
                end=r.end,
                acceptor=r.acceptor,
                first_name=r.first_name,
                last_name=r.last_name or "",
                licence_plate=r.licence_plate,
                appointment_id=r.appointment_id,
            )
            for r in rows
        ]

    async def with_settings(self, lead_id: UUID) -> tuple[Lead, BranchSettings | None] | None:
        """The lead without its history, and its branch's settings (None: never set)."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(_LEAD_WITH_SETTINGS, {"id": lead_id})).first()
        if row is None:
            return None
        if row.settings_branch_id is None:
            return lead_from_row(row), None
        own = {name: row._mapping[label] for name, label in _SETTINGS_COLUMNS.items()}
        return lead_from_row(row), settings_from_row(SimpleNamespace(**own))

    async def open_count(self, branch_ids: Sequence[str]) -> int:
        async with self._engine.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(leads)
                .where(
                    leads.c.branch_id.in_(list(branch_ids)),
                    # a lead with a counter-offer out is open too (DOMAIN.md)
                    leads.c.status.in_([LeadStatus.NEW.value, LeadStatus.OFFERED.value]),
                )
            )
        return int(count or 0)


_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_PHONE = re.compile(r"\+?[\d][\d /().-]{5,}")


def _words(text: str) -> list[str]:
    """What to look for: a phone number typed nationally or with spaces as the digits that
    every way of storing it contains (0151 6342 8001 -> 15163428001, in +4915163428001);
    else each word."""
    text = text.strip().lower()
    if _PHONE.fullmatch(text):
        digits = re.sub(r"\D", "", text)
        if text.startswith("+"):
            return ["+" + digits]
        return [digits[2:] if digits.startswith("00") else digits.lstrip("0")]
    return [w for w in text.split() if w][:6]


def _search(text: str) -> Any:
    """Every word must occur somewhere in the lead's searchable text (trigram index)."""
    clauses = []
    for word in _words(text):
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # as typed, without hyphens (a plate), and umlauts spelt out (Müller as mueller)
        variants = dict.fromkeys([escaped, escaped.replace("-", ""), escaped.translate(_FOLD)])
        clauses.append(or_(*(leads.c.search_text.like(f"%{v}%", escape="\\") for v in variants)))
    return and_(*clauses)
