"""What the handlers need from the outside world; adapters and fakes implement it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from osb_contracts.matching import (
    CustomerRegistrationResult,
    DuplicateCriterion,
    DuplicateSearchResult,
    VehicleLookupResult,
)
from osb_contracts.values import Customer

from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import Appointment, Lead


class ConcurrencyError(Exception):
    """Someone else changed the record since it was read."""


class LeadRepository(Protocol):
    async def get(self, lead_id: UUID, *, for_update: bool = False) -> Lead | None: ...
    async def by_appointment(self, appointment_id: UUID) -> Lead | None: ...
    async def add_new(self, new: Sequence[Lead]) -> set[UUID]: ...
    async def save(self, lead: Lead) -> None: ...
    async def add_appointment(self, lead: Lead, appointment: Appointment) -> None: ...
    async def mark_appointment_deleted(self, appointment_id: UUID, at: datetime) -> None: ...
    async def has_notification(self, lead_id: UUID, notification_id: UUID) -> bool: ...
    async def request_fingerprint(self, request_id: UUID) -> str | None: ...


class BranchRepository(Protocol):
    async def get(self, branch_id: str) -> BranchSettings | None: ...


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

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def track(
        self, lead: Lead, *, correlation_id: str | None = None, causation_id: str | None = None
    ) -> None: ...
    async def first_seen(self, consumer: str, event_ids: Iterable[str]) -> set[str]: ...
    async def commit(self) -> None: ...
