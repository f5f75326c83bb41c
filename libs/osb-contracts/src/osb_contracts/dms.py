"""What the dealer management system (DMS) publishes: appointment deletions, customers'
arrivals and master changes."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field, model_validator

from osb_contracts._base import (
    BIGINT_MAX,
    AwareDatetime,
    BranchId,
    CustomerNumber,
    Identifier,
    Message,
    Text,
    Vin,
)
from osb_contracts.values import Customer, Vehicle


class AppointmentDeleted(Message):
    """An appointment was deleted in the DMS; a SCHEDULED lead linked to it becomes CANCELLED."""

    message_type = "osb.dms.AppointmentDeleted"

    appointment_id: UUID
    branch_id: BranchId
    deleted_at: AwareDatetime
    deleted_by: Identifier | None = None
    reason: Text | None = None


class CustomerArrived(Message):
    """The customer of an appointment arrived at the workshop (checked in in the DMS); an
    appointment without it by its start and the branch's grace becomes a no-show."""

    message_type = "osb.dms.CustomerArrived"

    appointment_id: UUID
    branch_id: BranchId
    arrived_at: AwareDatetime
    recorded_by: Identifier | None = None


class MasterChange(StrEnum):
    UPSERT = "UPSERT"
    DELETE = "DELETE"


class CustomerMasterChanged(Message):
    """A customer master record (Kundenstamm) was created, changed or deleted in the DMS.

    ``revision`` grows per customer: a replica ignores a change older than what it holds.
    """

    message_type = "osb.dms.CustomerMasterChanged"

    change: MasterChange
    customer_number: CustomerNumber
    revision: int = Field(ge=0, le=BIGINT_MAX)
    changed_at: AwareDatetime
    customer: Customer | None = None

    @model_validator(mode="after")
    def _upsert_carries_data(self) -> CustomerMasterChanged:
        if self.change is MasterChange.UPSERT and self.customer is None:
            raise ValueError("an UPSERT carries the customer")
        return self


class VehicleMasterChanged(Message):
    """A vehicle master record (Fahrzeugstamm) was created, changed or deleted in the DMS."""

    message_type = "osb.dms.VehicleMasterChanged"

    change: MasterChange
    vin: Vin
    revision: int = Field(ge=0, le=BIGINT_MAX)
    changed_at: AwareDatetime
    owner_customer_number: CustomerNumber | None = None
    vehicle: Vehicle | None = None

    @model_validator(mode="after")
    def _upsert_carries_data(self) -> VehicleMasterChanged:
        if self.change is MasterChange.UPSERT and self.vehicle is None:
            raise ValueError("an UPSERT carries the vehicle")
        return self
