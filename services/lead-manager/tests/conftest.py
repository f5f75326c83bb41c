from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
import pytest
from lead_manager.domain.branch import NO_SHOW_GRACE, BranchSettings
from lead_manager.domain.model import Appointment, HistoryEntry, Lead, Reminder
from lead_manager.domain.reminders import PlannedReminder
from lead_manager.entrypoints.app import MIGRATIONS, create_app
from lead_manager.service.ports import ConcurrencyError, DueReminder, StoredOffer
from lead_manager.settings import Settings
from osb_contracts import Message
from osb_contracts.leads import LeadRequested
from osb_contracts.topics import DMS_APPOINTMENTS, LEAD_REQUESTS, NOTIFICATION_EVENTS
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle
from osb_platform.db import make_engine, upgrade
from osb_testing.kafka import move_group_to_end
from sqlalchemy.ext.asyncio import AsyncEngine

JWT_SECRET = "test-secret-of-at-least-32-characters!"


@asynccontextmanager
async def _lead_manager_client(
    bootstrap: str, database_url: str, group: str
) -> AsyncIterator[httpx.AsyncClient]:
    """lead-manager in-process on the real broker and database, its consumer groups at
    the topics' ends; a client for its HTTP API."""
    for topic in (LEAD_REQUESTS.name, DMS_APPOINTMENTS.name, NOTIFICATION_EVENTS.name):
        await move_group_to_end(bootstrap, f"{group}.{topic}", [topic])
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        database_url=database_url,
        jwt_secret=JWT_SECRET,
        consumer_group=group,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lead-manager") as c:
            yield c


@pytest.fixture(scope="session")
async def engine(database_urls: dict[str, str]) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_urls["lead-manager"], pool_size=5)
    await upgrade(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


def _clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def clock() -> Callable[[], datetime]:
    return _clock


def _lead_request(**customer: object) -> LeadRequested:
    run = uuid.uuid4().hex[:10]
    fields: dict[str, object] = {
        "last_name": "Krüger",
        "first_name": "Karla",
        "email": f"karla.{run}@example.de",
        "mobile": "+491701234567",
    }
    fields.update(customer)
    now = datetime.now(UTC)
    return LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id=f"B-{run}",
        branch_id="HH-01",
        received_at=now,
        requested_start=now + timedelta(days=3),
        customer=Customer.model_validate(fields),
        vehicle=Vehicle(licence_plate="HH-KK 77", vin="WVWZZZ1JZXW000001"),
    )


LeadRequestFactory = Callable[..., LeadRequested]


@pytest.fixture
def lead_request() -> LeadRequestFactory:
    """A valid LeadRequested with unique ids; keyword arguments override customer fields."""
    return _lead_request


class FakeLeadRepository:
    def __init__(self, branches: FakeBranchRepository) -> None:
        self.rows: dict[uuid.UUID, Lead] = {}
        self.requests: dict[uuid.UUID, str | None] = {}
        self.starts: dict[uuid.UUID, datetime] = {}  # each appointment's start
        self.appointments: dict[uuid.UUID, Appointment] = {}
        self._branches = branches

    async def get(self, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead | None:
        lead = self.rows.get(lead_id)
        return None if lead is None else lead.copy()

    async def get_many(
        self, lead_ids: Iterable[uuid.UUID], *, for_update: bool = False
    ) -> dict[uuid.UUID, Lead]:
        return {i: self.rows[i].copy() for i in lead_ids if i in self.rows}

    async def by_appointment(self, appointment_id: uuid.UUID) -> Lead | None:
        found = [lead for lead in self.rows.values() if lead.appointment_id == appointment_id]
        return found[0].copy() if found else None

    async def add_new(self, new: Sequence[Lead]) -> set[uuid.UUID]:
        created = set()
        for lead in new:
            taken = lead.id in self.rows or any(
                r.booking_id == lead.booking_id for r in self.rows.values()
            )
            if not taken:
                self.rows[lead.id] = lead.copy()
                created.add(lead.id)
        return created

    async def overdue(self, now: datetime, *, limit: int) -> list[Lead]:
        due = [
            lead.copy()
            for lead in self.rows.values()
            if lead.status is LeadStatus.NEW
            and lead.respond_by is not None
            and lead.respond_by <= now
            and lead.escalated_at is None
        ]
        return sorted(due, key=lambda lead: lead.respond_by or now)[:limit]

    async def no_shows(self, now: datetime, *, limit: int) -> list[tuple[Lead, datetime]]:
        def grace(branch_id: str) -> timedelta:
            found = self._branches.rows.get(branch_id)
            return timedelta(minutes=found.no_show_grace_minutes if found else NO_SHOW_GRACE)

        due = [
            (lead.copy(), self.starts[lead.appointment_id])
            for lead in self.rows.values()
            if lead.status is LeadStatus.SCHEDULED
            and lead.appointment_id is not None
            and lead.arrived_at is None
            and self.starts[lead.appointment_id] + grace(lead.branch_id) <= now
        ]
        return sorted(due, key=lambda found: found[1])[:limit]

    async def save(self, lead: Lead) -> None:
        stored = self.rows[lead.id]
        if stored.version != lead.version:
            raise ConcurrencyError(str(lead.id))
        lead.version += 1
        self.rows[lead.id] = lead.copy()

    async def add_appointment(self, lead: Lead, appointment: Appointment) -> None:
        self.starts[appointment.id] = appointment.start
        self.appointments[appointment.id] = appointment
        if appointment.request_id:
            self.requests[appointment.request_id] = appointment.request_fingerprint

    async def mark_appointment_deleted(self, appointment_id: uuid.UUID, at: datetime) -> None:
        pass

    async def has_notification(self, lead_id: uuid.UUID, notification_id: uuid.UUID) -> bool:
        return False

    async def request_fingerprint(self, request_id: uuid.UUID) -> str | None:
        return self.requests.get(request_id)


class FakeReminderRepository:
    """Reminders by id: (lead id, state, the reminder as it would be read when due)."""

    def __init__(self, leads: FakeLeadRepository) -> None:
        self.rows: dict[uuid.UUID, tuple[uuid.UUID, str, Reminder]] = {}
        self._leads = leads

    async def cancel_pending(self, lead_id: uuid.UUID) -> None:
        for rid, (of, state, reminder) in list(self.rows.items()):
            if of == lead_id and state == "PENDING":
                self.rows[rid] = (of, "CANCELLED", reminder)

    async def add(
        self,
        lead_id: uuid.UUID,
        appointment_id: uuid.UUID,
        channel: Channel,
        recipient: str,
        planned: Sequence[PlannedReminder],
    ) -> None:
        lead = self._leads.rows[lead_id]
        appointment = self._leads.appointments[appointment_id]
        for r in planned:
            reminder = Reminder(
                id=uuid.uuid4(),
                appointment_id=appointment_id,
                offset_minutes=r.offset_minutes,
                due_at=r.due_at,
                channel=channel,
                recipient=recipient,
                start=appointment.start,
                end=appointment.end,
                customer=appointment.customer,
                vehicle=lead.vehicle,
            )
            self.rows[reminder.id] = (lead_id, "PENDING", reminder)

    async def due(self, now: datetime, *, limit: int) -> list[DueReminder]:
        due = [
            DueReminder(lead, reminder)
            for lead, state, reminder in self.rows.values()
            if state == "PENDING" and reminder.due_at <= now
        ]
        return sorted(due, key=lambda d: d.reminder.due_at)[:limit]

    async def settle(self, reminder_id: uuid.UUID, state: str) -> None:
        lead, _, reminder = self.rows[reminder_id]
        self.rows[reminder_id] = (lead, state, reminder)

    def states(self, lead_id: uuid.UUID) -> list[tuple[str, datetime]]:
        """The lead's reminders, by due time (then state)."""
        found = [(state, r.due_at) for lead, state, r in self.rows.values() if lead == lead_id]
        return sorted(found, key=lambda f: (f[1], f[0]))


class FakeOfferRepository:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, StoredOffer] = {}

    async def add(self, stored: StoredOffer) -> None:
        self.rows[stored.offer.id] = stored

    async def get(self, offer_id: uuid.UUID, *, for_update: bool = False) -> StoredOffer | None:
        return self.rows.get(offer_id)

    async def lapsing(self, now: datetime, *, limit: int) -> list[StoredOffer]:
        due = [s for s in self.rows.values() if s.state == "OPEN" and s.offer.respond_by <= now]
        return sorted(due, key=lambda s: s.offer.respond_by)[:limit]

    async def settle(self, offer_id: uuid.UUID, state: str, taken_index: int | None = None) -> None:
        self.rows[offer_id] = replace(self.rows[offer_id], state=state, taken_index=taken_index)

    async def close_open(self, lead_id: uuid.UUID) -> None:
        for offer_id, stored in list(self.rows.items()):
            if stored.lead_id == lead_id and stored.state == "OPEN":
                self.rows[offer_id] = replace(stored, state="CLOSED")


class FakeBranchRepository:
    def __init__(self) -> None:
        self.rows: dict[str, BranchSettings] = {}

    async def get(self, branch_id: str) -> BranchSettings | None:
        return self.rows.get(branch_id)

    async def put(
        self, settings: BranchSettings, *, updated_by: str, expected_version: int | None
    ) -> BranchSettings:
        version = self.rows[settings.branch_id].version if settings.branch_id in self.rows else 0
        if expected_version is not None and expected_version != version:
            raise ConcurrencyError(f"the settings are at version {version}")
        self.rows[settings.branch_id] = replace(settings, version=version + 1)
        return self.rows[settings.branch_id]


class FakeUnitOfWork:
    """In memory; what a commit would write to the outbox lands in ``published``."""

    def __init__(self) -> None:
        self.branches = FakeBranchRepository()
        self.leads = FakeLeadRepository(self.branches)
        self.reminders = FakeReminderRepository(self.leads)
        self.offers = FakeOfferRepository()
        self.inbox: set[tuple[str, str]] = set()
        self.published: list[Message] = []
        self.history: list[HistoryEntry] = []
        self._tracked: list[Lead] = []
        self.traceparents: dict[uuid.UUID, str | None] = {}  # what each lead's events carry
        self.commits = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        self._tracked = []
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._tracked = []

    def track(
        self,
        lead: Lead,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        if all(t is not lead for t in self._tracked):
            self._tracked.append(lead)
            self.traceparents[lead.id] = traceparent

    async def first_seen(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        fresh = {i for i in event_ids if (consumer, i) not in self.inbox}
        self.inbox |= {(consumer, i) for i in fresh}
        return fresh

    async def commit(self) -> None:
        for lead in self._tracked:
            self.published += lead.events
            self.history += lead.new_history
        self.commits += 1


@pytest.fixture
def fake_uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


LeadManagerClient = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def lead_manager_client(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> LeadManagerClient:
    """``async with lead_manager_client(group) as http``: lead-manager running in-process in
    consumer groups named after ``group``."""
    return partial(_lead_manager_client, kafka_bootstrap_servers, database_urls["lead-manager"])
