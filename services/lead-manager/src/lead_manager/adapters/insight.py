"""The figures' read model (Auswertung): ``insight_leads``, one row per lead, kept from
``osb.lead.events.v1``.

Every lead-manager instance reads the topic by partition (no group) and applies each batch
in one transaction together with the next offset of its partitions (``insight_positions``),
so a record counts once however often it is read. The batches of all instances and a
rebuild take turns (a transaction-level advisory lock); when another instance got further,
or the model was emptied to be rebuilt (``lead-manager rebuild-insight``), the positions in
the table differ from this reader's and it goes on from there (the topic's beginning after
a rebuild) instead of applying the batch.

Time to decision is counted in the branch's opening time as its settings are when the
decision is applied (a rebuild counts with the settings of the day).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TypeAlias
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from osb_contracts import Message
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    LeadArrived,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadCreated,
    LeadNoShow,
    LeadNotificationOutcome,
    LeadOverdue,
    LeadRejected,
    LeadRescheduleRequested,
)
from osb_contracts.topics import LEAD_EVENTS, Topic
from osb_contracts.values import LeadStatus
from osb_platform.kafka import groupless_reader, stop_reader
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import ARRAY, Date, Uuid, any_, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lead_manager.adapters.repository import SqlBranchRepository
from lead_manager.adapters.tables import insight_leads, insight_positions
from lead_manager.domain.branch import default_branch
from lead_manager.domain.working_time import WorkingCalendar
from lead_manager.service.insight import RawFigures

log = logging.getLogger(__name__)
Record: TypeAlias = ConsumerRecord[bytes, bytes]

APPLIED = Counter(
    "osb_lead_manager_insight_events_total", "Lead events applied to the figures' read model"
)
LAG = Gauge(
    "osb_lead_manager_insight_lag",
    "Lead events on the topic not yet in the figures' read model (a rebuild's progress)",
)


class _View(BaseModel):
    """What the figures read of a lead event: a slim view of its contract (the contract's
    other fields are not even parsed: a rebuild reads every event ever published), and
    what it changes of its lead's row."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    lead_id: UUID
    branch_id: str

    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        raise NotImplementedError


def _decide(
    row: dict[str, Any],
    status: LeadStatus,
    at: datetime,
    calendar: WorkingCalendar,
    **first: str | None,
) -> None:
    """The lead's new status; its first decision (a cancelled lead scheduled again keeps
    its first) with the opening time it took, and ``first`` (its reason or choice)."""
    row["status"] = status.value
    if row["decision"] is None:
        minutes = calendar.between(row["created_at"], at).total_seconds() // 60
        row |= {"decision": status.value, "decided_at": at, "decision_minutes": int(minutes)}
        row |= first


class _Created(_View):
    created_at: datetime
    status: LeadStatus

    def row(self, calendar: WorkingCalendar) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "branch_id": self.branch_id,
            "created_at": self.created_at,
            "day": self.created_at.astimezone(calendar.zone).date(),
            "status": self.status.value,
            "decision": None,
            "decided_at": None,
            "decision_minutes": None,
            "reason": None,
            "customer_choice": None,
            "overdue": False,
            "failed_notifications": [],
            "appointment_day": None,
            "arrived": False,
        }

    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        pass  # published twice: the first made the row


class _Scheduled(_View):
    created_at: datetime
    customer_choice: str
    start: datetime

    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        choice = self.customer_choice
        _decide(row, LeadStatus.SCHEDULED, self.created_at, calendar, customer_choice=choice)
        # the show rate counts a lead's last appointment
        row |= {"appointment_day": self.start.astimezone(calendar.zone).date(), "arrived": False}


class _Arrived(_View):
    status: LeadStatus

    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        row |= {"status": self.status.value, "arrived": True}


class _NoShow(_View):
    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        row["status"] = LeadStatus.NO_SHOW.value


class _Offered(_View):
    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        row["status"] = LeadStatus.OFFERED.value  # still open: the customer decides next


class _RescheduleRequested(_View):
    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        # open again; the first decision stays counted, the appointment is gone
        row |= {"status": LeadStatus.NEW.value, "appointment_day": None, "arrived": False}


class _Rejected(_View):
    rejected_at: datetime
    reason: str | None = None

    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        _decide(row, LeadStatus.REJECTED, self.rejected_at, calendar, reason=self.reason)


class _Cancelled(_View):
    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        row["status"] = LeadStatus.CANCELLED.value


class _CancelledByCustomer(_View):
    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        row["status"] = LeadStatus.CANCELLED_BY_CUSTOMER.value


class _Overdue(_View):
    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        row["overdue"] = True


class _Outcome(_View):
    notification_id: UUID
    delivered: bool

    def change(self, row: dict[str, Any], calendar: WorkingCalendar) -> None:
        failed = row["failed_notifications"]
        if not self.delivered and self.notification_id not in failed:
            row["failed_notifications"] = [*failed, self.notification_id]


# the events the figures count, by CloudEvents type; an edit changes nothing of them
VIEWS: dict[str, tuple[type[Message], type[_View]]] = {
    c.cloudevents_type(): (c, v)
    for c, v in (
        (LeadCreated, _Created),
        (AppointmentCreated, _Scheduled),
        (LeadRejected, _Rejected),
        (LeadCancelled, _Cancelled),
        (LeadCancelledByCustomer, _CancelledByCustomer),
        (LeadOverdue, _Overdue),
        (LeadNotificationOutcome, _Outcome),
        (LeadArrived, _Arrived),
        (LeadNoShow, _NoShow),
        (LeadRescheduleRequested, _RescheduleRequested),
        (AppointmentOffered, _Offered),
    )
}


# One statement for a batch's rows, each column as an array (an executemany costs a round
# trip's work per row); a row's failed notifications as one comma-separated text.
_UPSERT = text(
    """
    INSERT INTO insight_leads (lead_id, branch_id, created_at, day, status, decision,
        decided_at, decision_minutes, reason, customer_choice, overdue, appointment_day,
        arrived, failed_notifications)
    SELECT lead_id, branch_id, created_at, day, status, decision, decided_at,
        decision_minutes, reason, customer_choice, overdue, appointment_day, arrived,
        coalesce(string_to_array(failed, ',')::uuid[], '{}')
    FROM unnest(CAST(:lead_id AS uuid[]), CAST(:branch_id AS text[]),
        CAST(:created_at AS timestamptz[]), CAST(:day AS date[]), CAST(:status AS text[]),
        CAST(:decision AS text[]), CAST(:decided_at AS timestamptz[]),
        CAST(:decision_minutes AS int[]), CAST(:reason AS text[]),
        CAST(:customer_choice AS text[]), CAST(:overdue AS boolean[]),
        CAST(:appointment_day AS date[]), CAST(:arrived AS boolean[]), CAST(:failed AS text[]))
        AS t(lead_id, branch_id, created_at, day, status, decision, decided_at,
             decision_minutes, reason, customer_choice, overdue, appointment_day, arrived,
             failed)
    ON CONFLICT (lead_id) DO UPDATE SET status = excluded.status,
        decision = excluded.decision, decided_at = excluded.decided_at,
        decision_minutes = excluded.decision_minutes, reason = excluded.reason,
        customer_choice = excluded.customer_choice, overdue = excluded.overdue,
        appointment_day = excluded.appointment_day, arrived = excluded.arrived,
        failed_notifications = excluded.failed_notifications
    """
)
_COLUMNS = (
    *("lead_id", "branch_id", "created_at", "day", "status", "decision", "decided_at"),
    *("decision_minutes", "reason", "customer_choice", "overdue", "appointment_day", "arrived"),
)


def _upsert_params(rows: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    listed = list(rows)
    params = {c: [r[c] for r in listed] for c in _COLUMNS}
    params["failed"] = [",".join(map(str, r["failed_notifications"])) or None for r in listed]
    return params


_ROWS = select(insight_leads).where(
    insight_leads.c.lead_id == any_(bindparam("ids", type_=ARRAY(Uuid(as_uuid=True))))
)


class InsightProjection:
    """Applies a batch of lead events to ``insight_leads`` on one connection: the rows of
    the batch's leads read at once, changed in memory, written back at once."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._calendars: dict[str, WorkingCalendar] = {}

    async def _calendar(self, branch_id: str) -> WorkingCalendar:
        if branch_id not in self._calendars:
            found = await SqlBranchRepository(self._conn, datetime.now).get(branch_id)
            self._calendars[branch_id] = (found or default_branch(branch_id)).calendar()
        return self._calendars[branch_id]

    async def apply(self, events: Sequence[_View]) -> None:
        if not events:
            return
        ids = list({e.lead_id for e in events})
        found = await self._conn.execute(_ROWS, {"ids": ids})
        rows = {r.lead_id: r._asdict() for r in found}
        calendars = {b: await self._calendar(b) for b in {e.branch_id for e in events}}
        changed: set[UUID] = set()
        for event in events:
            row = rows.get(event.lead_id)
            calendar = calendars[event.branch_id]
            if row is not None:
                event.change(row, calendar)
            elif isinstance(event, _Created):
                rows[event.lead_id] = event.row(calendar)
            else:
                continue  # its creation is no longer on the topic
            changed.add(event.lead_id)
        if changed:
            await self._conn.execute(_UPSERT, _upsert_params(rows[i] for i in changed))


INSIGHT_LOCK = 0x05B0_1A51  # transaction-level advisory lock: one writer of the model


async def _writing(conn: AsyncConnection) -> None:
    """Wait for any other instance's batch (or a rebuild) to commit first: each then sees
    the positions the other left."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INSIGHT_LOCK})


async def stored_positions(conn: AsyncConnection) -> dict[int, int]:
    stmt = select(insight_positions.c.partition, insight_positions.c.next_offset)
    return {r.partition: r.next_offset for r in await conn.execute(stmt)}


async def rebuild(engine: AsyncEngine) -> None:
    """Empty the read model: every instance's reader starts again from the topic's
    beginning and fills it anew."""
    async with engine.begin() as conn:
        await _writing(conn)
        await conn.execute(delete(insight_leads))
        await conn.execute(delete(insight_positions))


class InsightFeed:
    """Keeps ``insight_leads`` current from the topic (see the module's docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        bootstrap_servers: str,
        *,
        batch: int = 2000,
        interval: float = 1.0,
        topic: Topic = LEAD_EVENTS,  # another only for the benchmark
    ) -> None:
        self._engine = engine
        self._bootstrap = bootstrap_servers
        self._batch = batch
        self._interval = interval
        self._topic = topic
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._next: dict[int, int] = {}  # what this reader reads next, per partition

    async def start(self) -> None:
        self._consumer = await groupless_reader(self._bootstrap, self._topic)
        async with self._engine.connect() as conn:
            await self._seek(await stored_positions(conn))
        self._task = asyncio.create_task(self._follow(), name="insight-feed")

    async def stop(self) -> None:
        await stop_reader(self._task, self._consumer)

    async def _seek(self, positions: dict[int, int]) -> None:
        """Read on from ``positions`` (the topic's beginning where there is none)."""
        assert self._consumer is not None
        topic = self._topic
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        first = await self._consumer.beginning_offsets(partitions)
        end = await self._consumer.end_offsets(partitions)
        for tp in partitions:
            # never before the first record kept: the reader would jump to the end
            offset = max(positions.get(tp.partition, 0), first[tp])
            self._consumer.seek(tp, offset)
            self._next[tp.partition] = positions.get(tp.partition, 0)
        LAG.set(sum(end[tp] - max(positions.get(tp.partition, 0), first[tp]) for tp in partitions))

    async def _follow(self) -> None:
        assert self._consumer is not None
        failing = False
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=self._batch)
            try:
                if batches:
                    await self._apply(batches)
                    # under load, fewer and larger transactions beside the pipeline's
                    if sum(map(len, batches.values())) < self._batch:
                        await asyncio.sleep(self._interval)
                else:  # idle: emptied for a rebuild meanwhile?
                    await self._follow_stored()
                if failing:
                    log.info("figures' read model kept current again")
                failing = False
            except Exception as exc:  # the database away: the same records again
                if not failing:
                    log.warning("figures' read model not updated: %s", type(exc).__name__)
                failing = True
                await self._seek(dict(self._next))
                await asyncio.sleep(1)

    async def _follow_stored(self) -> None:
        async with self._engine.connect() as conn:
            stored = await stored_positions(conn)
        if any(stored.get(p, 0) != n for p, n in self._next.items()):
            await self._seek(stored)
        else:
            self._note_lag()

    async def _apply(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        async with self._engine.begin() as conn:
            await _writing(conn)
            stored = await stored_positions(conn)
            if any(stored.get(p, 0) != n for p, n in self._next.items()):
                await self._seek(stored)  # rebuilt, or another instance got further
                return
            events = [e for records in batches.values() for e in _events(records)]
            await InsightProjection(conn).apply(events)
            for tp, records in batches.items():
                next_offset = records[-1].offset + 1
                await conn.execute(
                    insert(insight_positions)
                    .values(partition=tp.partition, next_offset=next_offset)
                    .on_conflict_do_update(
                        index_elements=[insight_positions.c.partition],
                        set_={"next_offset": next_offset},
                    )
                )
        for tp, records in batches.items():
            self._next[tp.partition] = records[-1].offset + 1
        APPLIED.inc(len(events))
        self._note_lag()

    def _note_lag(self) -> None:
        """From the ends the last fetches reported (no request of its own)."""
        assert self._consumer is not None
        ends = {tp.partition: self._consumer.highwater(tp) for tp in self._consumer.assignment()}
        LAG.set(sum(max(0, end - self._next.get(p, 0)) for p, end in ends.items() if end))


def _events(records: Iterable[Record]) -> list[_View]:
    """The batch's events the figures count, as their slim views."""
    events, unreadable = [], 0
    for record in records:
        ce_type = next((v for k, v in record.headers if k == "ce_type"), b"")
        kind = VIEWS.get(bytes(ce_type).decode("utf-8", "replace"))
        if kind is None:
            continue
        try:
            events.append(kind[1].model_validate_json(record.value or b""))
        except ValidationError:
            unreadable += 1
    if unreadable:
        log.warning("%d lead events not readable, left out of the figures", unreadable)
    return events


_S = insight_leads.c
# "Noch offen": new, or with a counter-offer out (DOMAIN.md)
_OPEN = [LeadStatus.NEW.value, LeadStatus.OFFERED.value]


def _counts() -> list[Any]:
    """The aggregates of a set of rows, named as ``DayFigures``' fields."""
    return [
        func.count().label("received"),
        *(
            func.count()
            .filter(_S.status.in_(_OPEN) if s is LeadStatus.NEW else _S.status == s.value)
            .label(s.value.lower())
            for s in LeadStatus
            if s is not LeadStatus.OFFERED
        ),
        func.count().filter(_S.overdue).label("overdue"),
        func.coalesce(func.sum(func.cardinality(_S.failed_notifications)), 0).label(
            "failed_notifications"
        ),
        func.percentile_cont(0.5).within_group(_S.decision_minutes).label("decision_median"),
        func.percentile_cont(0.9).within_group(_S.decision_minutes).label("decision_p90"),
    ]


class InsightQueries:
    """The figures of a branch's leads received in a period (service/insight.py)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def figures(self, branch_id: str, first: date, last: date) -> RawFigures:
        where = (_S.branch_id == branch_id, _S.day >= first, _S.day <= last)
        async with self._engine.connect() as conn:
            total = (await conn.execute(select(*_counts()).where(*where))).one()
            days = await conn.execute(
                select(_S.day, *_counts()).where(*where).group_by(_S.day).order_by(_S.day)
            )
            reasons = await conn.execute(
                select(_S.reason, func.count())
                .where(*where, _S.decision == LeadStatus.REJECTED.value)
                .group_by(_S.reason)
            )
            choices = await conn.execute(
                select(_S.customer_choice, func.count())
                .where(*where, _S.customer_choice.is_not(None))
                .group_by(_S.customer_choice)
            )
            # the show rate by the appointments' weeks (Monday first) in the period
            week = func.date_trunc("week", _S.appointment_day).cast(Date).label("week")
            weeks = await conn.execute(
                select(
                    week,
                    func.count().filter(_S.arrived).label("shown"),
                    func.count().filter(_S.status == LeadStatus.NO_SHOW.value).label("no_show"),
                )
                .where(
                    _S.branch_id == branch_id,
                    _S.appointment_day >= first,
                    _S.appointment_day <= last,
                )
                .group_by(week)
                .order_by(week)
            )
            return RawFigures(
                total=total._asdict(),
                days={r.day: r._asdict() for r in days},
                reasons={r[0]: r[1] for r in reasons},
                choices={r[0]: r[1] for r in choices},
                weeks={r.week: (r.shown, r.no_show) for r in weeks},
            )
