"""The answers to lead-manager's questions, on fakes of the vehicle master and the
registrar: the VIN's owner in the search and its answer, the vehicle cases, what a lead's
search records for the labels, a number range that is exhausted."""

from __future__ import annotations

import uuid

from customer_matching.domain.index import CustomerIndex, Scoring
from customer_matching.service.answers import answer
from customer_matching.service.ports import RangeExhaustedError, Shown
from osb_contracts.matching import (
    CustomerLookupRequested,
    CustomerLookupResult,
    CustomerRegistrationResult,
    DuplicateCriterion,
    DuplicateSearchRequested,
    DuplicateSearchResult,
    MatchingFailed,
    RegisterCustomerRequested,
    VehicleLookupRequested,
    VehicleLookupResult,
    VehicleOwnership,
)
from osb_contracts.values import Address, Customer, Vehicle

VIN = "WVWZZZ1JZXW000001"
HOME = Address(street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg")
OWNER = Customer(customer_number="K-1", first_name="Zenta", last_name="Börner", address=HOME)
NAMESAKE = Customer(
    customer_number="K-2",
    first_name="Zenta",
    last_name="Börner",
    address=Address(street="Ring", house_number="1", postcode="80331", city="München"),
)


class FakeVehicles:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def find(self, vin: str) -> tuple[str | None, Vehicle] | None:
        self.asked.append(vin)
        return ("K-1", Vehicle(vin=vin, licence_plate="HH-ZB 1")) if vin == VIN else None


class FakeRegistrar:
    def __init__(self, *, exhausted: bool = False) -> None:
        self.exhausted = exhausted

    async def register(self, request: RegisterCustomerRequested) -> str:
        if self.exhausted:
            raise RangeExhaustedError("no customer number left in range N")
        return "N-0001"


def index() -> CustomerIndex:
    found = CustomerIndex()
    found.put(OWNER)
    found.put(NAMESAKE)
    return found


Recorded = list[tuple[uuid.UUID, list[Shown]]]


async def ask(
    request: object, *, registrar: FakeRegistrar | None = None
) -> tuple[object, Recorded]:
    shown: Recorded = []
    reply = await answer(
        request,  # type: ignore[arg-type]
        index=index(),
        scoring=Scoring(),
        vehicles=FakeVehicles(),
        registrar=registrar or FakeRegistrar(),
        shown=shown,
    )
    return reply, shown


def search(vin: str | None, lead_id: uuid.UUID | None = None) -> DuplicateSearchRequested:
    # a married name: only the VIN ties the lead to its owner
    lead = Customer(first_name="Zenta", last_name="Kuhn", address=HOME)
    return DuplicateSearchRequested(
        request_id=uuid.uuid4(),
        branch_id="HH-01",
        customer=lead,
        criteria=(DuplicateCriterion.ADDRESS,),
        vin=vin,
        lead_id=lead_id,
    )


async def test_the_vin_s_owner_is_a_candidate_and_comes_with_the_answer() -> None:
    reply, shown = await ask(search(VIN))
    assert isinstance(reply, DuplicateSearchResult)
    owners = [c for c in reply.candidates if c.owns_vehicle]
    assert [c.customer_number for c in owners] == ["K-1"]
    assert reply.vehicle is not None
    assert reply.vehicle.owner_customer_number == "K-1"
    assert shown == []  # no lead: nothing to label


async def test_a_lead_s_search_records_what_it_showed_and_an_unknown_vin_is_no_evidence() -> None:
    lead_id = uuid.uuid4()
    reply, shown = await ask(search(None, lead_id))
    assert isinstance(reply, DuplicateSearchResult)
    assert reply.vehicle is None
    assert not any(c.owns_vehicle for c in reply.candidates)
    [(recorded_for, candidates)] = shown
    assert recorded_for == lead_id
    assert [c.customer_number for c in candidates] == [c.customer_number for c in reply.candidates]
    assert [c.rank for c in candidates] == list(range(len(candidates)))


async def test_the_vehicle_case_is_judged_against_the_customer_asked_for() -> None:
    def lookup(vin: str, number: str | None) -> VehicleLookupRequested:
        return VehicleLookupRequested(request_id=uuid.uuid4(), vin=vin, customer_number=number)

    owned, _ = await ask(lookup(VIN, "K-1"))
    other, _ = await ask(lookup(VIN, "K-2"))
    unknown, _ = await ask(lookup("WVWZZZ1JZXW999999", "K-1"))
    assert isinstance(owned, VehicleLookupResult)
    assert isinstance(other, VehicleLookupResult)
    assert isinstance(unknown, VehicleLookupResult)
    assert owned.ownership is VehicleOwnership.OWNED_BY_CUSTOMER
    assert (other.ownership, other.owner_customer_number) == (
        VehicleOwnership.OWNED_BY_OTHER,
        "K-1",
    )
    assert (unknown.ownership, unknown.vehicle) == (VehicleOwnership.UNKNOWN, None)


async def test_a_customer_lookup_and_a_registration_and_an_exhausted_range() -> None:
    found, _ = await ask(CustomerLookupRequested(request_id=uuid.uuid4(), customer_number="K-2"))
    assert isinstance(found, CustomerLookupResult)
    assert found.customer == NAMESAKE
    register = RegisterCustomerRequested(
        request_id=uuid.uuid4(), branch_id="HH-01", customer=OWNER, requested_by="anna"
    )
    done, _ = await ask(register)
    assert isinstance(done, CustomerRegistrationResult)
    assert done.customer_number == "N-0001"
    refused, _ = await ask(register, registrar=FakeRegistrar(exhausted=True))
    assert isinstance(refused, MatchingFailed)
    assert refused.code == "RANGE_EXHAUSTED"
