"""What the web booking portal publishes, as it arrives.

These contracts bound every field but check no semantics: lead-intake validates and
normalises them (e-mail, phone, VIN, dates, branch) and dead-letters what fails.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from osb_contracts._base import (
    BIGINT_MAX,
    BIGINT_MIN,
    STORABLE,
    BranchId,
    Contract,
    Identifier,
    LongText,
    Message,
)

# What a portal's form sends: a line break or a tab (a pasted address) is no reason to lose a
# booking, lead-intake folds them into spaces; a character no store can hold is refused.
FormText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), STORABLE]
FormShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=60), STORABLE]


class PortalAddress(Contract):
    street: FormText | None = None
    house_number: FormShortText | None = None
    postcode: FormShortText | None = None
    city: FormText | None = None
    country: FormShortText | None = None


class PortalCustomer(Contract):
    customer_number: FormShortText | None = None
    salutation: FormShortText | None = None
    title: FormShortText | None = None
    first_name: FormText | None = None
    last_name: FormText
    company: FormText | None = None
    email: FormText | None = None
    phone: FormShortText | None = None
    mobile: FormShortText | None = None
    birth_date: FormShortText | None = None
    address: PortalAddress = PortalAddress()


class PortalVehicle(Contract):
    vin: FormShortText | None = None
    licence_plate: FormShortText | None = None
    make: FormShortText | None = None
    model: FormText | None = None
    first_registration: FormShortText | None = None
    mileage_km: int | None = Field(default=None, ge=BIGINT_MIN, le=BIGINT_MAX)


class BookingSubmitted(Message):
    """A customer booked a workshop appointment on the portal."""

    message_type = "osb.portal.BookingSubmitted"

    booking_id: Identifier
    branch_id: BranchId
    submitted_at: datetime
    requested_start: datetime
    requested_end: datetime | None = None
    services: tuple[FormText, ...] = Field(default=(), max_length=30)
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
