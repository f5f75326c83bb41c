"""Request/reply with customer-matching: duplicate search, VIN lookup, register customer.

Requests go to the matching request topic with the ``reply_to`` and ``correlation_id``
headers; the reply goes to the named reply topic carrying the same correlation id.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from osb_contracts._base import (
    BranchId,
    Contract,
    CustomerNumber,
    Identifier,
    Message,
    ShortText,
    Text,
    Vin,
)
from osb_contracts.values import Customer, Vehicle


class DuplicateCriterion(StrEnum):
    """Fields that, besides the name, decide that two customers are the same (Dublettenabfrage)."""

    ADDRESS = "ADDRESS"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    BIRTH_DATE = "BIRTH_DATE"


class ConfidenceBand(StrEnum):
    CERTAIN = "CERTAIN"
    LIKELY = "LIKELY"
    POSSIBLE = "POSSIBLE"


class DuplicateSearchRequested(Message):
    message_type = "osb.matching.DuplicateSearchRequested"

    request_id: UUID
    branch_id: BranchId
    customer: Customer
    criteria: tuple[DuplicateCriterion, ...] = Field(min_length=1, max_length=4)
    limit: int = Field(default=10, ge=1, le=50)
    # the lead's vehicle: its owner in the vehicle master is a candidate, and evidence
    vin: Vin | None = None
    # the lead searched for: the advisor's decision on it (AppointmentCreated) labels the
    # candidates shown, which the search learns from
    lead_id: UUID | None = None


class FieldComparison(Contract):
    field: ShortText
    lead_value: Text | None
    master_value: Text | None
    similarity: float = Field(ge=0.0, le=1.0)


class DuplicateCandidate(Contract):
    customer_number: CustomerNumber
    score: float = Field(ge=0.0, le=1.0)
    band: ConfidenceBand
    fields: tuple[FieldComparison, ...] = Field(max_length=20)
    master: Customer
    owns_vehicle: bool = False  # the owner of the lead's VIN in the vehicle master


class CustomerLookupRequested(Message):
    """The master record of a known customer number."""

    message_type = "osb.matching.CustomerLookupRequested"

    request_id: UUID
    customer_number: CustomerNumber


class CustomerLookupResult(Message):
    message_type = "osb.matching.CustomerLookupResult"

    request_id: UUID
    customer: Customer | None = None  # None: no such customer in the master


class VehicleLookupRequested(Message):
    message_type = "osb.matching.VehicleLookupRequested"

    request_id: UUID
    vin: Vin
    customer_number: CustomerNumber | None = None


class VehicleOwnership(StrEnum):
    OWNED_BY_CUSTOMER = "OWNED_BY_CUSTOMER"
    OWNED_BY_OTHER = "OWNED_BY_OTHER"
    UNKNOWN = "UNKNOWN"


class VehicleLookupResult(Message):
    message_type = "osb.matching.VehicleLookupResult"

    request_id: UUID
    ownership: VehicleOwnership
    owner_customer_number: CustomerNumber | None = None
    vehicle: Vehicle | None = None


class DuplicateSearchResult(Message):
    message_type = "osb.matching.DuplicateSearchResult"

    request_id: UUID
    candidates: tuple[DuplicateCandidate, ...] = Field(max_length=50)
    # the request's VIN as the vehicle master has it (ownership judged against no customer):
    # the asker needs no lookup of its own; None when the request carried no VIN or the
    # answer comes from a version that did not look it up
    vehicle: VehicleLookupResult | None = None


class RegisterCustomerRequested(Message):
    message_type = "osb.matching.RegisterCustomerRequested"

    request_id: UUID
    branch_id: BranchId
    customer: Customer
    lead_id: UUID | None = None
    requested_by: Identifier


class CustomerRegistrationResult(Message):
    message_type = "osb.matching.CustomerRegistrationResult"

    request_id: UUID
    customer_number: CustomerNumber


class MatchingFailed(Message):
    """The reply when customer-matching cannot answer a request (bad input, exhausted range)."""

    message_type = "osb.matching.MatchingFailed"

    request_id: UUID
    code: ShortText
    reason: Text
