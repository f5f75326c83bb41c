"""Value objects that several messages share: customer, address, vehicle."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from osb_contracts._base import (
    ONE_LINE,
    Contract,
    CountryCode,
    CustomerNumber,
    E164Phone,
    ShortText,
    Text,
    Vin,
)

# The shape of an address. lead-intake checks and normalises it fully (email-validator) at the
# edge; every later reader only needs to know it is one, and cheaply.
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"), ONE_LINE
]


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"


class ConfirmationChannel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    NONE = "NONE"


class LeadStatus(StrEnum):
    NEW = "NEW"
    SCHEDULED = "SCHEDULED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    CANCELLED_BY_CUSTOMER = "CANCELLED_BY_CUSTOMER"
    NO_SHOW = "NO_SHOW"  # the customer did not come to the appointment
    OFFERED = "OFFERED"  # other times proposed to the customer (Terminvorschlag gesendet)


class Address(Contract):
    street: Text | None = None
    house_number: ShortText | None = None
    postcode: ShortText | None = None
    city: Text | None = None
    country: CountryCode = "DE"


class Customer(Contract):
    """Customer data, normalised: e-mail checked, phone in E.164."""

    customer_number: CustomerNumber | None = None
    salutation: ShortText | None = None
    title: ShortText | None = None
    first_name: Text | None = None
    last_name: Text = Field(min_length=1)
    company: Text | None = None
    email: Email | None = None
    phone: E164Phone | None = None
    mobile: E164Phone | None = None
    birth_date: date | None = None
    address: Address = Address()


class Vehicle(Contract):
    """Vehicle data, normalised: VIN per ISO 3779, plate upper case."""

    vin: Vin | None = None
    licence_plate: ShortText | None = None
    make: ShortText | None = None
    model: Text | None = None
    first_registration: date | None = None
    mileage_km: int | None = Field(default=None, ge=0, le=5_000_000)
