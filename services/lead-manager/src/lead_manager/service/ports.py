"""What the handlers need from the outside world; adapters and fakes implement it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self
from uuid import UUID

from osb_contracts.leads import VehicleCase
from osb_contracts.matching import (
    CustomerRegistrationResult,
    DuplicateCriterion,
    DuplicateSearchResult,
    VehicleLookupResult,
)
from osb_contracts.values import Channel, Customer, LeadStatus

from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import Appointment, Lead, Offer, Reminder
from lead_manager.domain.permissions import Actor
from lead_manager.domain.reminders import PlannedReminder


class ConcurrencyError(Exception):
    """Someone else changed the record since it was read."""


PENDING = "PENDING"  # a reminder not yet handed to the notifier


@dataclass(frozen=True)
class DueReminder:
    """A pending reminder whose time has come, of a lead."""

    lead_id: UUID
    reminder: Reminder


@dataclass(frozen=True)
class StoredOffer:
    """An offer as kept: how a taken time is scheduled (``plan``: the ScheduleLead fields
    the advisor chose) and by whose authority."""

    lead_id: UUID
    offer: Offer
    plan: Mapping[str, Any]
    offered_by: Actor
    state: str  # OPEN, TAKEN, LAPSED, CLOSED
    taken_index: int | None = None


class OfferRepository(Protocol):
    async def add(self, stored: StoredOffer) -> None: ...
    async def get(self, offer_id: UUID, *, for_update: bool = False) -> StoredOffer | None: ...
    async def lapsing(self, now: datetime, *, limit: int) -> list[StoredOffer]: ...
    async def settle(self, offer_id: UUID, state: str, taken_index: int | None = None) -> None: ...
    async def close_open(self, lead_id: UUID) -> None: ...


class ReminderRepository(Protocol):
    async def cancel_pending(self, lead_id: UUID) -> None:
        """The lead's reminders not yet sent cancelled (its appointment changed)."""
        ...

    async def add(
        self,
        lead_id: UUID,
        appointment_id: UUID,
        channel: Channel,
        recipient: str,
        planned: Sequence[PlannedReminder],
    ) -> None: ...
    async def due(self, now: datetime, *, limit: int) -> list[DueReminder]: ...
    async def settle(self, reminder_id: UUID, state: str) -> None: ...


class LeadRepository(Protocol):
    async def get(self, lead_id: UUID, *, for_update: bool = False) -> Lead | None: ...
    async def get_many(
        self, lead_ids: Iterable[UUID], *, for_update: bool = False
    ) -> dict[UUID, Lead]:
        """The leads found of ``lead_ids`` (locked in id order with ``for_update``)."""
        ...

    async def by_appointment(self, appointment_id: UUID) -> Lead | None: ...
    async def add_new(self, new: Sequence[Lead]) -> set[UUID]: ...
    async def overdue(self, now: datetime, *, limit: int) -> list[Lead]: ...
    async def no_shows(self, now: datetime, *, limit: int) -> list[tuple[Lead, datetime]]: ...
    async def save(self, lead: Lead) -> None: ...
    async def add_appointment(self, lead: Lead, appointment: Appointment) -> None: ...
    async def mark_appointment_deleted(self, appointment_id: UUID, at: datetime) -> None: ...
    async def has_notification(self, lead_id: UUID, notification_id: UUID) -> bool: ...
    async def request_fingerprint(self, request_id: UUID) -> str | None: ...


class BranchRepository(Protocol):
    async def get(self, branch_id: str) -> BranchSettings | None: ...
    async def put(
        self, settings: BranchSettings, *, updated_by: str, expected_version: int | None
    ) -> BranchSettings: ...


@dataclass(frozen=True)
class LeadFilter:
    branch_ids: Sequence[str]
    statuses: Sequence[LeadStatus] = ()
    start_from: datetime | None = None
    start_to: datetime | None = None
    acceptor: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class Page:
    leads: list[Lead]
    next_cursor: str | None
    # on the first page: the new leads past their deadline, most overdue first (the pages
    # leave them out)
    overdue: list[Lead] = field(default_factory=list)


@dataclass(frozen=True)
class Scheduled:
    """An appointment this system created for a lead."""

    id: UUID
    start: datetime
    end: datetime
    acceptor: str  # the acceptor's id
    customer_number: str
    vehicle_case: VehicleCase
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class CalendarEntry:
    """An appointment of the branch, or (no ``appointment_id``, no acceptor) a new lead at
    the time the customer asked for."""

    lead_id: UUID
    status: LeadStatus
    start: datetime
    end: datetime | None
    acceptor: str | None
    first_name: str | None
    last_name: str
    licence_plate: str | None
    appointment_id: UUID | None = None


class LeadReads(Protocol):
    """What the advisor's screens read, outside any unit of work (adapters.queries)."""

    async def page(
        self, where: LeadFilter, *, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        """Raises ``ValueError`` for a cursor it did not give out."""
        ...

    async def settings_of(self, branch_ids: Sequence[str]) -> list[BranchSettings]:
        """The branches' settings (those never set are left out)."""
        ...

    async def open_count(self, branch_ids: Sequence[str]) -> int: ...

    async def get(self, lead_id: UUID) -> tuple[Lead, list[Any]] | None: ...
    async def appointment(self, appointment_id: UUID) -> Scheduled | None:
        """The appointment as it was created (``deleted_at`` once the DMS deleted it)."""
        ...

    async def offer_of(self, lead_id: UUID) -> StoredOffer | None:
        """The lead's latest counter-offer, if it ever had one."""
        ...

    async def with_settings(self, lead_id: UUID) -> tuple[Lead, BranchSettings | None] | None: ...
    async def calendar(
        self, branch_id: str, start: datetime, end: datetime, *, new_leads: bool
    ) -> list[CalendarEntry]:
        """The branch's appointments (not deleted) overlapping [start, end) and, with
        ``new_leads``, its new leads asked for in it; by start."""
        ...


class Identification(Protocol):
    """customer-matching, as lead-manager asks it (osb_platform.matching.MatchingClient)."""

    async def customer(self, customer_number: str) -> Customer | None: ...
    async def duplicates(
        self,
        customer: Customer,
        *,
        branch_id: str,
        criteria: tuple[DuplicateCriterion, ...],
        limit: int = 10,
        vin: str | None = None,
        lead_id: UUID | None = None,
    ) -> DuplicateSearchResult: ...
    async def vehicle(self, vin: str, *, customer_number: str | None) -> VehicleLookupResult: ...
    async def register(
        self,
        customer: Customer,
        *,
        branch_id: str,
        requested_by: str,
        lead_id: UUID | None,
        request_id: UUID | None = None,
    ) -> CustomerRegistrationResult: ...


class UnitOfWork(Protocol):
    @property
    def leads(self) -> LeadRepository: ...
    @property
    def branches(self) -> BranchRepository: ...
    @property
    def reminders(self) -> ReminderRepository: ...
    @property
    def offers(self) -> OfferRepository: ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def track(
        self,
        lead: Lead,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,  # of the span the events come from (else the current)
    ) -> None: ...
    async def first_seen(self, consumer: str, event_ids: Iterable[str]) -> set[str]: ...
    async def commit(self) -> None: ...
