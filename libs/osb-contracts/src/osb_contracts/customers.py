"""Customer events this system emits for the DMS."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from osb_contracts._base import (
    AwareDatetime,
    BranchId,
    Contract,
    CustomerNumber,
    Identifier,
    Message,
    ShortText,
    Text,
)
from osb_contracts.values import Customer


class CustomerRegistered(Message):
    """customer-matching allocated a new customer number; the DMS creates the master record."""

    message_type = "osb.customer.CustomerRegistered"

    customer_number: CustomerNumber
    branch_id: BranchId
    customer: Customer
    registered_at: AwareDatetime
    lead_id: UUID | None = None


class FieldChange(Contract):
    field: ShortText
    old_value: Text | None = None
    new_value: Text | None = None


class CustomerMasterUpdateRequested(Message):
    """An advisor chose "In Stammdaten übernehmen": the DMS should apply exactly these fields."""

    message_type = "osb.customer.CustomerMasterUpdateRequested"

    customer_number: CustomerNumber
    branch_id: BranchId
    lead_id: UUID
    requested_by: Identifier
    requested_at: AwareDatetime
    changes: tuple[FieldChange, ...] = Field(min_length=1, max_length=40)
