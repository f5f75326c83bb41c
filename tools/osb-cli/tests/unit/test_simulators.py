"""The portal and DMS simulators: what they send is what the real counterparts would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lead_intake.domain.validation import BookingInvalidError, Branch, validate_booking
from lead_intake.settings import DEMO_BRANCHES
from osb_cli.simulators import Advisor, Dms, Portal
from osb_contracts.customers import CustomerMasterUpdateRequested, CustomerRegistered, FieldChange
from osb_contracts.dms import (
    AppointmentDeleted,
    CustomerArrived,
    CustomerMasterChanged,
    MasterChange,
    VehicleMasterChanged,
)
from osb_contracts.leads import (
    AnonymisedBy,
    AppointmentCreated,
    CustomerChoice,
    LeadAnonymised,
    VehicleCase,
)
from osb_contracts.portal import BookingCancelled, BookingSubmitted
from osb_contracts.values import Address, Customer, LeadStatus, Vehicle

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
BRANCHES = {k: Branch(k, v.country, v.timezone) for k, v in DEMO_BRANCHES.items()}


def test_the_portal_books_valid_cancelled_and_invalid_bookings_as_intake_sees_them() -> None:
    portal = Portal.with_demo_customers(seed=3)
    messages = [portal.next(NOW) for _ in range(90)]
    bookings = [m for m in messages if isinstance(m, BookingSubmitted)]
    cancels = [m for m in messages if isinstance(m, BookingCancelled)]
    assert len(cancels) == 9
    booked_before = {b.booking_id for b in bookings}
    assert all(c.booking_id in booked_before for c in cancels)

    valid, invalid = [], []
    for booking in bookings:
        try:
            valid.append(validate_booking(booking, now=NOW, branches=BRANCHES))
        except BookingInvalidError as exc:
            invalid.append(exc)
    assert len(invalid) == 3  # the 15th, 45th and 75th (the 30th, 60th, 90th cancel)
    assert all(
        {e.field for e in exc.errors} <= {"customer.last_name", "requested_start"}
        for exc in invalid
    )
    kept = [r for r in valid if r.unusable]  # every 7th: a mistyped mobile, kept as typed
    assert len(kept) == 11  # the 70th cancels
    assert all(
        [(u.field, u.value) for u in r.unusable] == [("customer.mobile", "12")] for r in kept
    )
    known = {str(c.last_name) for c, _ in portal.known}
    assert sum(r.customer.last_name in known for r in valid) >= 20, (
        "some bookings by known customers"
    )
    assert {r.branch_id for r in valid} == {"HH-01", "M-01", "W-01"}
    austrian = [
        str(r.customer.mobile) for r in valid if r.branch_id == "W-01" and r.customer.mobile
    ]
    assert austrian
    assert all(mobile.startswith("+43") for mobile in austrian)


def appointment(case: VehicleCase, vin: str | None = "WVWZZZ1KZAW000001") -> AppointmentCreated:
    return AppointmentCreated(
        lead_id=uuid.uuid4(),
        appointment_id=uuid.uuid4(),
        booking_id="B-1",
        branch_id="HH-01",
        start=NOW + timedelta(days=2),
        end=NOW + timedelta(days=2, hours=1),
        acceptor="anna",
        customer_number="OSB000007",
        customer_choice=CustomerChoice.NEW_CUSTOMER,
        customer=Customer(customer_number="OSB000007", last_name="Kühn", email="k@example.de"),
        vehicle=Vehicle(vin=vin, licence_plate="HH-K 1"),
        vehicle_case=case,
        created_by="anna",
        created_at=NOW,
    )


def test_the_dms_adds_a_transit_vehicle_to_its_master_and_keeps_the_appointment() -> None:
    dms = Dms(revision=lambda: 5)
    created = appointment(VehicleCase.TRANSIT)
    (change,) = dms.on(created, NOW)
    assert isinstance(change, VehicleMasterChanged)
    assert (change.vin, change.owner_customer_number, change.revision) == (
        "WVWZZZ1KZAW000001",
        "OSB000007",
        5,
    )
    assert dms.on(appointment(VehicleCase.OWNED_BY_CUSTOMER), NOW) == []

    deleted = dms.delete(created.appointment_id, NOW)
    assert isinstance(deleted, AppointmentDeleted)
    assert (deleted.appointment_id, deleted.branch_id) == (created.appointment_id, "HH-01")
    with pytest.raises(KeyError):
        dms.delete(created.appointment_id, NOW)
    with pytest.raises(KeyError):
        dms.delete(uuid.uuid4(), NOW)


def test_the_dms_checks_most_customers_in_when_their_appointment_starts() -> None:
    dms = Dms()
    made = [appointment(VehicleCase.OWNED_BY_CUSTOMER) for _ in range(70)]
    for created in made:
        dms.on(created, NOW)
    deleted = made[0].appointment_id
    dms.delete(deleted, NOW)
    start = NOW + timedelta(days=2)
    assert dms.arrivals(start - timedelta(seconds=1)) == []  # not yet
    arrived = dms.arrivals(start)
    assert dms.arrivals(start + timedelta(hours=1)) == []  # each once
    ids = {a.appointment_id for a in arrived}
    absent = {c.appointment_id for c in made} - ids
    assert deleted in absent
    # about one in seven stays away (decided by the appointment's id), the others come
    assert 3 <= len(absent) <= 25
    assert all(isinstance(a, CustomerArrived) for a in arrived)
    assert all(start - timedelta(minutes=10) <= a.arrived_at < start for a in arrived)


def test_the_dms_creates_registered_customers_and_applies_requested_updates() -> None:
    dms = Dms(revision=iter(range(1, 10)).__next__)
    registered = CustomerRegistered(
        customer_number="OSB000008",
        branch_id="HH-01",
        customer=Customer(last_name="Brandt", address=Address(street="Alte Str.", city="Hamburg")),
        registered_at=NOW,
    )
    (created,) = dms.on(registered, NOW)
    assert isinstance(created, CustomerMasterChanged)
    assert (created.customer_number, created.revision) == ("OSB000008", 1)
    assert created.customer is not None
    assert created.customer.customer_number == "OSB000008"

    update = CustomerMasterUpdateRequested(
        customer_number="OSB000008",
        branch_id="HH-01",
        lead_id=uuid.uuid4(),
        requested_by="anna",
        requested_at=NOW,
        changes=(
            FieldChange(field="email", old_value=None, new_value="neu@example.de"),
            FieldChange(field="address.street", old_value="Alte Str.", new_value="Neue Str."),
        ),
    )
    (changed,) = dms.on(update, NOW)
    assert isinstance(changed, CustomerMasterChanged)
    assert changed.revision == 2
    assert changed.customer is not None
    assert changed.customer.email == "neu@example.de"
    assert (changed.customer.address.street, changed.customer.address.city) == (
        "Neue Str.",
        "Hamburg",
    )
    unknown = update.model_copy(update={"customer_number": "OSB999999"})
    assert dms.on(unknown, NOW) == []


def test_the_dms_erases_the_customers_an_erasure_names_and_nothing_for_a_retention() -> None:
    dms = Dms(revision=iter(range(1, 10)).__next__)
    dms.customers["K-1"] = Customer(customer_number="K-1", last_name="Brandt")
    dms.customers["K-2"] = Customer(customer_number="K-2", last_name="Anders")
    erased = LeadAnonymised(
        lead_id=uuid.uuid4(),
        branch_id="HH-01",
        status=LeadStatus.REJECTED,
        by=AnonymisedBy.ERASURE,
        customer_numbers=("K-1",),
        anonymised_at=NOW,
    )
    retained = erased.model_copy(update={"by": AnonymisedBy.RETENTION})
    assert dms.on(retained, NOW) == []
    assert set(dms.customers) == {"K-1", "K-2"}
    (deleted,) = dms.on(erased, NOW)
    assert isinstance(deleted, CustomerMasterChanged)
    # the deletion names the number alone
    assert (deleted.change, deleted.customer_number, deleted.customer) == (
        MasterChange.DELETE,
        "K-1",
        None,
    )
    assert set(dms.customers) == {"K-2"}


def test_the_portal_is_reproducible_by_seed() -> None:
    first, again = Portal.with_demo_customers(seed=1), Portal.with_demo_customers(seed=1)
    assert [first.next(NOW) for _ in range(20)] == [again.next(NOW) for _ in range(20)]


def _new_lead(
    kind: int, branch: str = "HH-01", email: str | None = "k@example.de"
) -> dict[str, Any]:
    lead_id = next(u for u in (uuid.uuid4() for _ in range(100)) if u.int % 3 == kind)
    return {"id": str(lead_id), "branch_id": branch, "customer": {"email": email}}


def test_the_simulated_advisor_schedules_a_third_offers_a_third_and_leaves_the_rest() -> None:
    now = datetime(2026, 12, 2, 9, 3, 20, tzinfo=UTC)
    advisor = Advisor()
    scheduled = _new_lead(0)
    path, body = advisor.decide(scheduled, now) or ("", {})
    assert path == f"/api/v1/leads/{scheduled['id']}/schedule"
    assert (body["start"], body["confirmation"], body["acceptor"]) == (
        "2026-12-02T11:13:00+00:00",  # its 2 h reminder ten minutes later
        "EMAIL",
        "anna",
    )
    assert advisor.decide(scheduled, now) is None  # once
    offered = _new_lead(1, branch="M-01")
    path, body = advisor.decide(offered, now) or ("", {})
    assert path == f"/api/v1/leads/{offered['id']}/offer"
    assert [t["start"] for t in body["times"]] == [
        "2026-12-03T09:00:00+01:00",
        "2026-12-03T14:00:00+01:00",
    ]
    assert (body["acceptor"], body["customer"]) == ("clara", {"choice": "CASH_SALE"})
    assert advisor.decide(_new_lead(2), now) is None
    assert advisor.decide(_new_lead(0, branch="W-01"), now) is None  # no acceptor there
    assert advisor.decide(_new_lead(1, email=None), now) is None
