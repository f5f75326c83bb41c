"""What the web booking portal publishes, as it arrives.

These contracts bound every field but check no semantics: lead-intake validates and
normalises them (e-mail, phone, VIN, dates, branch) and dead-letters what fails.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from osb_contracts._base import BranchId, Contract, Identifier, LongText, Message, ShortText, Text


class PortalAddress(Contract):
    street: Text | None = None
    house_number: ShortText | None = None
    postcode: ShortText | None = None
    city: Text | None = None
    country: ShortText | None = None


class PortalCustomer(Contract):
    customer_number: ShortText | None = None
    salutation: ShortText | None = None
    title: ShortText | None = None
    first_name: Text | None = None
    last_name: Text
    company: Text | None = None
    email: Text | None = None
    phone: ShortText | None = None
    mobile: ShortText | None = None
    birth_date: ShortText | None = None
    address: PortalAddress = PortalAddress()


class PortalVehicle(Contract):
    vin: ShortText | None = None
    licence_plate: ShortText | None = None
    make: ShortText | None = None
    model: Text | None = None
    first_registration: ShortText | None = None
    mileage_km: int | None = None


class BookingSubmitted(Message):
    """A customer booked a workshop appointment on the portal."""

    message_type = "osb.portal.BookingSubmitted"

    booking_id: Identifier
    branch_id: BranchId
    submitted_at: datetime
    requested_start: datetime
    requested_end: datetime | None = None
    services: tuple[Text, ...] = Field(default=(), max_length=30)
    customer: PortalCustomer
    vehicle: PortalVehicle = PortalVehicle()
    comment: LongText | None = None


class BookingCancelled(Message):
    """The customer cancelled a booking on the portal."""

    message_type = "osb.portal.BookingCancelled"

    booking_id: Identifier
    branch_id: BranchId
    cancelled_at: datetime
    reason: LongText | None = None
