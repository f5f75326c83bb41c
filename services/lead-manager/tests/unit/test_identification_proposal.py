"""The identification proposal with a fake customer-matching: which questions it asks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import Lead
from lead_manager.domain.permissions import SYSTEM_DMS
from lead_manager.service.queries import propose_identification
from osb_contracts.leads import LeadRequested, VehicleCase
from osb_contracts.matching import (
    ConfidenceBand,
    CustomerRegistrationResult,
    DuplicateCandidate,
    DuplicateCriterion,
    DuplicateSearchResult,
    VehicleLookupResult,
    VehicleOwnership,
)
from osb_contracts.values import Customer, Vehicle

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
VIN = "WVWZZZ1JZXW000001"
OWNER = Customer(customer_number="DMS000478", last_name="Börner", first_name="Zenta")


class FakeMatching:
    """Answers as customer-matching would; records each question."""

    def __init__(self, *, vehicle_in_search: bool) -> None:
        self.vehicle_in_search = vehicle_in_search
        self.asked: list[str] = []

    def _owner(self, request_id: uuid.UUID) -> VehicleLookupResult:
        return VehicleLookupResult(
            request_id=request_id,
            ownership=VehicleOwnership.OWNED_BY_OTHER,
            owner_customer_number=OWNER.customer_number,
            vehicle=Vehicle(vin=VIN),
        )

    async def duplicates(
        self,
        customer: Customer,
        *,
        branch_id: str,
        criteria: tuple[DuplicateCriterion, ...],
        limit: int = 10,
        vin: str | None = None,
        lead_id: uuid.UUID | None = None,
    ) -> DuplicateSearchResult:
        self.asked.append("duplicates")
        request_id = uuid.uuid4()
        candidate = DuplicateCandidate(
            customer_number="DMS000478",
            score=1.0,
            band=ConfidenceBand.CERTAIN,
            fields=(),
            master=OWNER,
            owns_vehicle=True,
        )
        return DuplicateSearchResult(
            request_id=request_id,
            candidates=(candidate,),
            vehicle=self._owner(request_id) if self.vehicle_in_search else None,
        )

    async def vehicle(self, vin: str, *, customer_number: str | None) -> VehicleLookupResult:
        self.asked.append("vehicle")
        return self._owner(uuid.uuid4())

    async def customer(self, customer_number: str) -> Customer | None:
        self.asked.append("customer")
        return OWNER if customer_number == OWNER.customer_number else None

    async def register(
        self,
        customer: Customer,
        *,
        branch_id: str,
        requested_by: str,
        lead_id: uuid.UUID | None,
        request_id: uuid.UUID | None = None,
    ) -> CustomerRegistrationResult:
        raise AssertionError("a proposal registers nobody")


def lead(customer_number: str | None = None) -> Lead:
    request = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id="B-9",
        branch_id="HH-01",
        received_at=NOW,
        requested_start=NOW + timedelta(days=2),
        customer=Customer(customer_number=customer_number, first_name="Zenta", last_name="Boerner"),
        vehicle=Vehicle(vin=VIN),
    )
    return Lead.create(request, actor=SYSTEM_DMS, at=NOW)


BRANCH = BranchSettings(
    branch_id="HH-01", name="Autohaus Hansa", duplicate_criteria=(DuplicateCriterion.ADDRESS,)
)


async def test_a_lead_without_a_number_asks_once_and_the_vin_s_owner_comes_with_it() -> None:
    matching = FakeMatching(vehicle_in_search=True)
    proposal = await propose_identification(lead(), BRANCH, matching)
    assert matching.asked == ["duplicates"]
    assert proposal.selected == "DMS000478"  # certain and first
    assert proposal.vehicle.case is VehicleCase.OWNED_BY_CUSTOMER  # the selected one's
    assert proposal.candidates[0].vehicle.case is VehicleCase.OWNED_BY_CUSTOMER
    assert proposal.vehicle.new_customer.case is VehicleCase.OWNED_BY_OTHER


async def test_an_older_customer_matching_without_the_owner_in_its_answer_is_asked_again() -> None:
    matching = FakeMatching(vehicle_in_search=False)
    proposal = await propose_identification(lead(), BRANCH, matching)
    assert matching.asked == ["duplicates", "vehicle"]
    assert proposal.vehicle.owner_customer_number == "DMS000478"


async def test_a_known_number_asks_for_the_customer_and_the_owner_at_once() -> None:
    matching = FakeMatching(vehicle_in_search=True)
    proposal = await propose_identification(lead("DMS000478"), BRANCH, matching)
    assert sorted(matching.asked) == ["customer", "vehicle"]
    assert (proposal.customer_number, proposal.candidates) == ("DMS000478", [])
