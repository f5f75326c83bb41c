"""Notification records: written before the first attempt, claimed with a lease, marked after.

Every mark writes its NotificationSent or NotificationFailed to the outbox in the same
transaction, so the outcome is published exactly when it is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from osb_contracts import one_line
from osb_contracts.notifications import NotificationFailed, NotificationSent
from osb_contracts.values import Channel
from osb_platform.db import insert_many
from osb_platform.outbox import OutgoingEvent, add_to_outbox, first_seen
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notifier import SOURCE
from notifier.adapters.tables import inbox, notifications, outbox, sms_opt_outs
from notifier.domain.notification import Claimed, Draft, SendFailedError, Status

RESEND_CONSUMER = "notifier.commands"  # the inbox's consumer name for resend requests


def _draft(row: Any) -> Draft:
    return Draft(
        id=row.id,
        source_event_id=row.source_event_id,
        source_event_type=row.source_event_type,
        lead_id=row.lead_id,
        branch_id=row.branch_id,
        channel=Channel(row.channel),
        recipient=row.recipient,
        subject=row.subject,
        text=row.text,
        html=row.html,
        sender=row.sender,
        reply_to=row.reply_to,
        message_id=row.message_id,
        trace_parent=row.trace_parent,
    )


class NotificationStore:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock

    async def opt_out(self, phone: str, keyword: str) -> None:
        """No more SMS to ``phone`` (E.164): its owner answered ``keyword`` (STOP)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(sms_opt_outs)
                .values(phone=phone, opted_out_at=self._clock(), keyword=keyword)
                .on_conflict_do_nothing()
            )

    async def opt_in(self, phone: str) -> None:
        """SMS to ``phone`` again (its owner answered START)."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(sms_opt_outs).where(sms_opt_outs.c.phone == phone))

    async def opted_out(self, phone: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                select(sms_opt_outs.c.phone).where(sms_opt_outs.c.phone == phone)
            )
        return found is not None

    async def record(self, drafts: Sequence[Draft]) -> list[UUID]:
        """Insert the drafts not recorded before, in one transaction; those known to fail
        are failed at once. Returns the ids recorded now."""
        if not drafts:
            return []
        async with self._engine.begin() as conn:
            return await self._record(conn, drafts)

    async def resend_requested(self, requests: Sequence[tuple[str, UUID]]) -> int:
        """(event id, notification id) pairs: each event taken once (inbox), its
        notification made due again. Returns how many became due."""
        async with self._engine.begin() as conn:
            fresh = await first_seen(conn, inbox, RESEND_CONSUMER, [e for e, _ in requests])
            count = 0
            for event_id, notification_id in requests:
                if event_id in fresh:
                    count += await self._resend(conn, notification_id)
            return count

    async def _record(self, conn: AsyncConnection, drafts: Sequence[Draft]) -> list[UUID]:
        now = self._clock()
        rows = [
            {
                "id": d.id,
                "source_event_id": d.source_event_id,
                "source_event_type": d.source_event_type,
                "channel": d.channel.value,
                "lead_id": d.lead_id,
                "branch_id": d.branch_id,
                "recipient": d.recipient,
                "subject": d.subject,
                "text": d.text,
                "html": d.html,
                "sender": d.sender,
                "reply_to": d.reply_to,
                "message_id": d.message_id,
                "trace_parent": d.trace_parent,
                "status": (Status.FAILED if d.failure else Status.PENDING).value,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error_code": d.failure.code if d.failure else None,
                "last_error": d.failure.reason if d.failure else None,
                "created_at": now,
                "failed_at": now if d.failure else None,
            }
            for d in drafts
        ]
        new = set(
            await insert_many(
                conn, notifications, rows, on_conflict_do_nothing=True, returning="id"
            )
        )
        failed_at_once = [
            _failed_event(d, d.failure, attempts=1, at=now)
            for d in drafts
            if d.id in new and d.failure is not None
        ]
        await add_to_outbox(conn, outbox, failed_at_once, source=SOURCE)
        return [d.id for d in drafts if d.id in new]

    async def _resend(self, conn: AsyncConnection, notification_id: UUID) -> bool:
        """Make a sent or failed notification due again; False when unknown or still pending."""
        n = notifications
        result = await conn.execute(
            update(n)
            .where(n.c.id == notification_id, n.c.status != Status.PENDING.value)
            .values(
                status=Status.PENDING.value,
                next_attempt_at=self._clock(),
                lease_until=None,
                sent_at=None,
                failed_at=None,
            )
        )
        return bool(result.rowcount)

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]:
        """Take due notifications for ``lease``; a crashed sender's lease runs out."""
        now = self._clock()
        n = notifications
        due = (
            select(n.c.id)
            .where(
                n.c.status == Status.PENDING.value,
                n.c.next_attempt_at <= now,
                or_(n.c.lease_until.is_(None), n.c.lease_until < now),
            )
            .order_by(n.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    update(n).where(n.c.id.in_(due)).values(lease_until=now + lease).returning(*n.c)
                )
            ).all()
        return [Claimed(r.id, _draft(r), r.attempts) for r in rows]

    async def sent(self, claimed: Claimed) -> None:
        now = self._clock()
        async with self._engine.begin() as conn:
            await self._mark(
                conn, claimed, status=Status.SENT, values={"sent_at": now, "last_error": None}
            )
            event = NotificationSent(
                notification_id=claimed.id,
                lead_id=claimed.draft.lead_id,
                branch_id=claimed.draft.branch_id,
                source_event_id=claimed.draft.source_event_id,
                source_event_type=claimed.draft.source_event_type,
                channel=claimed.draft.channel,
                sent_at=now,
                attempts=claimed.attempts + 1,
            )
            await add_to_outbox(
                conn, outbox, [OutgoingEvent(event, str(claimed.draft.lead_id))], source=SOURCE
            )

    async def retry_later(
        self, claimed: Claimed, error: SendFailedError, next_attempt_at: datetime
    ) -> None:
        async with self._engine.begin() as conn:
            await self._mark(
                conn,
                claimed,
                status=Status.PENDING,
                values={
                    "next_attempt_at": next_attempt_at,
                    "last_error_code": error.code,
                    "last_error": error.reason,
                },
            )

    async def failed(self, claimed: Claimed, error: SendFailedError) -> None:
        now = self._clock()
        async with self._engine.begin() as conn:
            await self._mark(
                conn,
                claimed,
                status=Status.FAILED,
                values={
                    "failed_at": now,
                    "last_error_code": error.code,
                    "last_error": error.reason,
                },
            )
            event = _failed_event(claimed.draft, error, attempts=claimed.attempts + 1, at=now)
            await add_to_outbox(conn, outbox, [event], source=SOURCE)

    async def _mark(
        self, conn: AsyncConnection, claimed: Claimed, *, status: Status, values: dict[str, Any]
    ) -> None:
        n = notifications
        await conn.execute(
            update(n)
            .where(and_(n.c.id == claimed.id, n.c.status == Status.PENDING.value))
            .values(status=status.value, attempts=claimed.attempts + 1, lease_until=None, **values)
        )


def _failed_event(
    draft: Draft, error: SendFailedError, *, attempts: int, at: datetime
) -> OutgoingEvent:
    return OutgoingEvent(
        NotificationFailed(
            notification_id=draft.id,
            lead_id=draft.lead_id,
            branch_id=draft.branch_id,
            source_event_id=draft.source_event_id,
            source_event_type=draft.source_event_type,
            channel=draft.channel,
            failed_at=at,
            attempts=attempts,
            permanent=error.permanent,
            error_code=error.code,
            reason=one_line(error.reason),  # an SMTP reply may span lines
        ),
        str(draft.lead_id),
    )
