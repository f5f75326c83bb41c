"""Identifying the customer and the vehicle of a lead (DOMAIN.md): the pure decisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from osb_contracts.customers import FieldChange
from osb_contracts.leads import AppointmentWarning, VehicleCase
from osb_contracts.matching import (
    ConfidenceBand,
    DuplicateCandidate,
    VehicleLookupResult,
    VehicleOwnership,
)
from osb_contracts.values import Address, Customer, Vehicle

NOT_OWNED = "VEHICLE_NOT_OWNED_BY_CUSTOMER"
TRANSIT = "TRANSIT_VEHICLE"
_PERSON = ("salutation", "title", "first_name", "last_name", "company", "email", "phone",
           "mobile", "birth_date")  # fmt: skip
_ADDRESS = ("street", "house_number", "postcode", "city", "country")


def merge_taking_lead_data(
    lead: Customer, master: Customer
) -> tuple[Customer, tuple[FieldChange, ...]]:
    """The lead's data, with what the lead lacks filled from the master record.

    The changes are exactly the fields where the lead says something other than the master:
    what "In Stammdaten übernehmen" would write.
    """
    merged: dict[str, Any] = {"customer_number": master.customer_number}
    changes: list[FieldChange] = []
    for name in _PERSON:
        mine, theirs = getattr(lead, name), getattr(master, name)
        merged[name] = mine if mine not in (None, "") else theirs
        if mine not in (None, "") and mine != theirs:
            changes.append(_change(name, theirs, mine))
    address: dict[str, Any] = {}
    for name in _ADDRESS:
        mine, theirs = getattr(lead.address, name), getattr(master.address, name)
        # The country always has a value; it only counts when the lead gave a street or city.
        given = mine not in (None, "") and (
            name != "country" or lead.address.street or lead.address.city
        )
        address[name] = mine if given else theirs
        if given and mine != theirs:
            changes.append(_change(f"address.{name}", theirs, mine))
    merged["address"] = Address(**address)
    return Customer(**merged), tuple(changes)


def _change(field: str, old: object, new: object) -> FieldChange:
    return FieldChange(
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
    )


def seen_by(
    lookup: VehicleLookupResult | None, customer_number: str | None
) -> VehicleLookupResult | None:
    """The VIN's lookup as it is for one customer (``None``: a customer not yet in the
    master, a new one): their own vehicle, or someone else's."""
    if lookup is None or lookup.ownership is VehicleOwnership.UNKNOWN:
        return lookup
    owned = customer_number is not None and lookup.owner_customer_number == customer_number
    ownership = VehicleOwnership.OWNED_BY_CUSTOMER if owned else VehicleOwnership.OWNED_BY_OTHER
    return lookup.model_copy(update={"ownership": ownership})


def preselected(candidates: Sequence[DuplicateCandidate]) -> str | None:
    """The candidate the dialog selects for the advisor: only a "certain" one ranked first
    (the search ranks by band); otherwise the advisor chooses."""
    if candidates and candidates[0].band is ConfidenceBand.CERTAIN:
        return candidates[0].customer_number
    return None


def vehicle_case(
    lead_vehicle: Vehicle, lookup: VehicleLookupResult | None
) -> tuple[VehicleCase, Vehicle, tuple[AppointmentWarning, ...]]:
    """Which vehicle the appointment gets, and the warnings the advisor must see."""
    if lookup is None or lookup.ownership is VehicleOwnership.UNKNOWN or lookup.vehicle is None:
        return (
            VehicleCase.TRANSIT,
            lead_vehicle,
            (AppointmentWarning(code=TRANSIT, message="Fahrzeug unbekannt: Durchlauffahrzeug"),),
        )
    vehicle = lookup.vehicle.model_copy(
        update={
            "licence_plate": lookup.vehicle.licence_plate or lead_vehicle.licence_plate,
            "mileage_km": lead_vehicle.mileage_km or lookup.vehicle.mileage_km,
        }
    )
    if lookup.ownership is VehicleOwnership.OWNED_BY_CUSTOMER:
        return VehicleCase.OWNED_BY_CUSTOMER, vehicle, ()
    warning = AppointmentWarning(
        code=NOT_OWNED,
        message=(
            "Das Fahrzeug gehört nicht diesem Kunden "
            f"(Halter: Kundennummer {lookup.owner_customer_number})"
        ),
    )
    return VehicleCase.OWNED_BY_OTHER, vehicle, (warning,)
