"""Identification's pure decisions: what "In Stammdaten übernehmen" writes, which vehicle."""

from __future__ import annotations

import uuid
from datetime import date

from lead_manager.domain.identification import (
    NOT_OWNED,
    TRANSIT,
    merge_taking_lead_data,
    preselected,
    seen_by,
    vehicle_case,
)
from osb_contracts.customers import FieldChange
from osb_contracts.leads import AppointmentWarning, VehicleCase
from osb_contracts.matching import (
    ConfidenceBand,
    DuplicateCandidate,
    VehicleLookupResult,
    VehicleOwnership,
)
from osb_contracts.values import Address, Customer, Vehicle

MASTER = Customer(
    customer_number="DMS000478",
    salutation="Frau",
    first_name="Zenta",
    last_name="Börner",
    company="Börner GmbH",
    email="zenta@example.de",
    phone="+494012345678",
    birth_date=date(1970, 5, 1),
    address=Address(street="Elbchaussee", house_number="12", postcode="22763", city="Hamburg"),
)
VIN = "WVWZZZ1JZXW000001"


def test_the_lead_wins_where_it_says_something_and_the_master_fills_the_rest() -> None:
    lead = Customer(
        first_name="Zenta",
        last_name="Börner-Alt",
        company="",
        mobile="+4917612345678",
        address=Address(street="Elbchaussee", house_number="14"),
    )
    merged, changes = merge_taking_lead_data(lead, MASTER)
    assert merged == Customer(
        customer_number="DMS000478",
        salutation="Frau",
        first_name="Zenta",
        last_name="Börner-Alt",
        company="Börner GmbH",  # the lead's empty company is no statement
        email="zenta@example.de",
        phone="+494012345678",
        mobile="+4917612345678",
        birth_date=date(1970, 5, 1),
        address=Address(street="Elbchaussee", house_number="14", postcode="22763", city="Hamburg"),
    )
    assert changes == (
        FieldChange(field="last_name", old_value="Börner", new_value="Börner-Alt"),
        FieldChange(field="mobile", old_value=None, new_value="+4917612345678"),
        FieldChange(field="address.house_number", old_value="12", new_value="14"),
    )


def test_the_same_data_changes_nothing() -> None:
    lead = MASTER.model_copy(update={"customer_number": None})
    merged, changes = merge_taking_lead_data(lead, MASTER)
    assert merged == MASTER
    assert changes == ()


def test_the_lead_country_counts_only_with_a_street_or_city() -> None:
    master = MASTER.model_copy(
        update={"address": MASTER.address.model_copy(update={"country": "AT"})}
    )
    bare = Customer(last_name="Börner")  # the country defaults to DE without an address
    merged, changes = merge_taking_lead_data(bare, master)
    assert merged.address.country == "AT"
    assert changes == ()
    with_city = Customer(last_name="Börner", address=Address(city="Hamburg", country="DE"))
    merged, changes = merge_taking_lead_data(with_city, master)
    assert merged.address.country == "DE"
    assert FieldChange(field="address.country", old_value="AT", new_value="DE") in changes
    with_street = Customer(last_name="Börner", address=Address(street="Elbchaussee"))
    assert merge_taking_lead_data(with_street, master)[0].address.country == "DE"


def lookup(
    ownership: VehicleOwnership, vehicle: Vehicle | None, owner: str | None = None
) -> VehicleLookupResult:
    return VehicleLookupResult(
        request_id=uuid.uuid4(), ownership=ownership, vehicle=vehicle, owner_customer_number=owner
    )


LEAD_VEHICLE = Vehicle(vin=VIN, licence_plate="HH-AB 123", mileage_km=42_000)
DMS_VEHICLE = Vehicle(vin=VIN, licence_plate="HH-ZZ 9", make="VW", model="Golf", mileage_km=30_000)


def test_an_unknown_vehicle_is_a_transit_vehicle_with_a_warning() -> None:
    warning = (AppointmentWarning(code=TRANSIT, message="Fahrzeug unbekannt: Durchlauffahrzeug"),)
    assert vehicle_case(LEAD_VEHICLE, None) == (VehicleCase.TRANSIT, LEAD_VEHICLE, warning)
    unknown = lookup(VehicleOwnership.UNKNOWN, DMS_VEHICLE)
    assert vehicle_case(LEAD_VEHICLE, unknown) == (VehicleCase.TRANSIT, LEAD_VEHICLE, warning)
    without = lookup(VehicleOwnership.OWNED_BY_CUSTOMER, None)
    assert vehicle_case(LEAD_VEHICLE, without) == (VehicleCase.TRANSIT, LEAD_VEHICLE, warning)


def test_the_customers_own_vehicle_takes_the_dms_record_and_the_leads_mileage() -> None:
    case, vehicle, warnings = vehicle_case(
        LEAD_VEHICLE, lookup(VehicleOwnership.OWNED_BY_CUSTOMER, DMS_VEHICLE, "DMS000478")
    )
    assert case is VehicleCase.OWNED_BY_CUSTOMER
    assert vehicle == DMS_VEHICLE.model_copy(update={"mileage_km": 42_000})
    assert warnings == ()


def test_the_dms_fills_what_the_lead_vehicle_lacks() -> None:
    bare = Vehicle(vin=VIN)
    no_plate = DMS_VEHICLE.model_copy(update={"licence_plate": None})
    _, vehicle, _ = vehicle_case(bare, lookup(VehicleOwnership.OWNED_BY_CUSTOMER, DMS_VEHICLE))
    assert (vehicle.licence_plate, vehicle.mileage_km) == ("HH-ZZ 9", 30_000)
    _, vehicle, _ = vehicle_case(LEAD_VEHICLE, lookup(VehicleOwnership.OWNED_BY_CUSTOMER, no_plate))
    assert vehicle.licence_plate == "HH-AB 123"


def test_someone_elses_vehicle_warns_with_the_holders_number() -> None:
    case, vehicle, warnings = vehicle_case(
        LEAD_VEHICLE, lookup(VehicleOwnership.OWNED_BY_OTHER, DMS_VEHICLE, "DMS000999")
    )
    assert case is VehicleCase.OWNED_BY_OTHER
    assert vehicle.model == "Golf"
    assert warnings == (
        AppointmentWarning(
            code=NOT_OWNED,
            message="Das Fahrzeug gehört nicht diesem Kunden (Halter: Kundennummer DMS000999)",
        ),
    )


def owned_by(owner: str | None) -> VehicleLookupResult:
    return VehicleLookupResult(
        request_id=uuid.uuid4(),
        ownership=VehicleOwnership.OWNED_BY_OTHER,  # asked for nobody
        owner_customer_number=owner,
        vehicle=Vehicle(vin=VIN, make="Skoda"),
    )


def test_the_vehicle_is_judged_for_the_customer_it_would_belong_to() -> None:
    lookup = owned_by("DMS000478")
    mine = seen_by(lookup, "DMS000478")
    assert mine is not None
    assert mine.ownership is VehicleOwnership.OWNED_BY_CUSTOMER
    assert vehicle_case(Vehicle(vin=VIN), mine)[0] is VehicleCase.OWNED_BY_CUSTOMER
    for other in ("DMS000479", None):  # another candidate; a new customer
        theirs = seen_by(lookup, other)
        assert theirs is not None
        assert theirs.ownership is VehicleOwnership.OWNED_BY_OTHER
    # an owner the vehicle master does not name is nobody's customer number
    nobody = seen_by(owned_by(None), None)
    assert nobody is not None
    assert nobody.ownership is VehicleOwnership.OWNED_BY_OTHER
    unknown = VehicleLookupResult(request_id=uuid.uuid4(), ownership=VehicleOwnership.UNKNOWN)
    assert seen_by(unknown, "DMS000478") is unknown
    assert seen_by(None, "DMS000478") is None


def candidate(number: str, band: ConfidenceBand) -> DuplicateCandidate:
    return DuplicateCandidate(
        customer_number=number, score=0.9, band=band, fields=(), master=MASTER
    )


def test_only_a_certain_candidate_ranked_first_is_preselected() -> None:
    certain, likely = ConfidenceBand.CERTAIN, ConfidenceBand.LIKELY
    assert preselected([candidate("K-1", certain), candidate("K-2", likely)]) == "K-1"
    assert (
        preselected([candidate("K-1", likely), candidate("K-2", ConfidenceBand.POSSIBLE)]) is None
    )
    assert preselected([]) is None
