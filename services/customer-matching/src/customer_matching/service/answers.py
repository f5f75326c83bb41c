"""Answers to lead-manager's questions: duplicate search, VIN lookup, register customer."""

from __future__ import annotations

from uuid import UUID

from osb_contracts import Message, one_line
from osb_contracts.matching import (
    CustomerLookupRequested,
    CustomerLookupResult,
    CustomerRegistrationResult,
    DuplicateCandidate,
    DuplicateSearchRequested,
    DuplicateSearchResult,
    MatchingFailed,
    RegisterCustomerRequested,
    VehicleLookupRequested,
    VehicleLookupResult,
    VehicleOwnership,
)

from customer_matching.domain.index import CustomerIndex, Scoring, explain
from customer_matching.service.ports import (
    RangeExhaustedError,
    Registration,
    Shown,
    VehicleMaster,
)


def _shown(
    index: CustomerIndex,
    request: DuplicateSearchRequested,
    candidates: list[DuplicateCandidate],
    owner: str | None,
) -> list[Shown]:
    """What the advisor is shown for the lead, to be labelled by their decision."""
    bands = {c.customer_number: c.band for c in candidates}
    numbers = [c.customer_number for c in candidates]
    return [
        Shown(number, rank, bands[number].value, vector, rules_score)
        for rank, (number, vector, rules_score) in enumerate(
            explain(index, request.customer, request.criteria, numbers, owner)
        )
    ]


async def _vehicle(
    vehicles: VehicleMaster, request_id: UUID, vin: str, customer_number: str | None
) -> VehicleLookupResult:
    """The VIN in the vehicle master; owned by ``customer_number`` or by someone else."""
    found = await vehicles.find(vin)
    if found is None:
        return VehicleLookupResult(request_id=request_id, ownership=VehicleOwnership.UNKNOWN)
    owner, vehicle = found
    ownership = (
        VehicleOwnership.OWNED_BY_CUSTOMER
        if owner is not None and owner == customer_number
        else VehicleOwnership.OWNED_BY_OTHER
    )
    return VehicleLookupResult(
        request_id=request_id, ownership=ownership, owner_customer_number=owner, vehicle=vehicle
    )


async def answer(
    request: Message,
    *,
    index: CustomerIndex,
    scoring: Scoring,
    vehicles: VehicleMaster,
    registrar: Registration,
    shown: list[tuple[UUID, list[Shown]]],
) -> Message:
    """The answer to ``request``; a duplicate search for a lead adds what it showed to
    ``shown``, for the caller to record once the answers are out."""
    if isinstance(request, DuplicateSearchRequested):
        vehicle = None
        if request.vin:
            vehicle = await _vehicle(vehicles, request.request_id, request.vin, None)
        owner = vehicle.owner_customer_number if vehicle else None
        candidates = index.search(
            request.customer, request.criteria, request.limit, scoring, vehicle_owner=owner
        )
        if request.lead_id is not None:
            shown.append((request.lead_id, _shown(index, request, candidates, owner)))
        return DuplicateSearchResult(
            request_id=request.request_id, candidates=tuple(candidates), vehicle=vehicle
        )
    if isinstance(request, CustomerLookupRequested):
        return CustomerLookupResult(
            request_id=request.request_id, customer=index.get(request.customer_number)
        )
    if isinstance(request, VehicleLookupRequested):
        return await _vehicle(vehicles, request.request_id, request.vin, request.customer_number)
    if isinstance(request, RegisterCustomerRequested):
        try:
            number = await registrar.register(request)
        except RangeExhaustedError as exc:
            return MatchingFailed(
                request_id=request.request_id, code="RANGE_EXHAUSTED", reason=one_line(str(exc))
            )
        return CustomerRegistrationResult(request_id=request.request_id, customer_number=number)
    raise TypeError(f"not a matching request: {type(request).__name__}")
