"""Validation and normalisation of what the portal sends.

``validate_booking`` turns a :class:`BookingSubmitted` into a :class:`LeadRequested`, or,
when it cannot become a lead (no name, no contact typed, an unknown branch, a date that
cannot be booked), into the list of every field that is wrong and why. A booking is not
lost for one bad optional field: an e-mail address, phone number, birth date, country,
customer number or vehicle detail that cannot be used is left out of the lead's customer
and vehicle and kept as typed in ``LeadRequested.unusable`` for the advisor. The clock and
the known branches are arguments, so this module has no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from osb_contracts.leads import (
    LeadCancellationRequested,
    LeadRequested,
    Unusable,
    UnusableValue,
)
from osb_contracts.portal import BookingCancelled, BookingSubmitted, PortalCustomer, PortalVehicle
from osb_contracts.values import Address, Customer, Vehicle
from pydantic import ValidationError

from lead_intake.domain.vin import check_vin

# Lead ids are UUIDv5 of the booking id in this namespace: the same booking, delivered or
# submitted again, always names the same lead.
LEAD_NAMESPACE = uuid.UUID("6f1c3d2e-8a4b-5c6d-9e0f-1a2b3c4d5e6f")

_COUNTRY_NAMES = {
    "deutschland": "DE", "germany": "DE", "d": "DE",
    "österreich": "AT", "oesterreich": "AT", "austria": "AT", "a": "AT",
    "schweiz": "CH", "switzerland": "CH", "suisse": "CH", "ch": "CH",
    "niederlande": "NL", "nederland": "NL", "belgien": "BE", "frankreich": "FR",
    "italien": "IT", "polen": "PL", "tschechien": "CZ", "dänemark": "DK", "luxemburg": "LU",
}  # fmt: skip
_PLATE_DE = re.compile(r"^([A-ZÄÖÜ]{1,3})[- ]?([A-Z]{1,2}) ?([1-9][0-9]{0,3})([EH]?)$")
_PLATE_GENERIC = re.compile(r"^[A-Z0-9ÄÖÜ][A-Z0-9ÄÖÜ -]{0,10}[A-Z0-9]$")
_CUSTOMER_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,20}$")
_EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class Branch:
    id: str
    country: str = "DE"
    timezone: str = "Europe/Berlin"


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class BookingInvalidError(ValueError):
    """The booking breaks one or more rules; ``errors`` names each field and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))


def lead_id_for(booking_id: str) -> uuid.UUID:
    return uuid.uuid5(LEAD_NAMESPACE, booking_id.strip())


@dataclass
class _Collector:
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unusable: list[UnusableValue] = field(default_factory=list)

    def error(self, where: str, reason: str) -> None:
        self.errors.append(FieldError(where, reason))

    def keep(self, where: str, typed: object, code: Unusable) -> None:
        """An optional value that cannot be used: kept as typed, the booking goes on."""
        value = " ".join(str(typed).split())[:200]
        self.unusable.append(UnusableValue(field=where, value=value, code=code))


def validate_booking(
    booking: BookingSubmitted, *, now: datetime, branches: Mapping[str, Branch]
) -> LeadRequested:
    found = _Collector()
    branch = branches.get(booking.branch_id)
    if branch is None:
        found.error("branch_id", f"unknown branch {booking.branch_id!r}")
        branch = Branch(booking.branch_id)
    zone = ZoneInfo(branch.timezone)
    start = _in_zone(booking.requested_start, zone)
    end = _in_zone(booking.requested_end, zone) if booking.requested_end else None
    if start.astimezone(zone).date() < now.astimezone(zone).date():
        found.error("requested_start", "the requested date is in the past")
    if end is not None and end <= start:
        found.error("requested_end", "ends before it starts")
    if start - now > timedelta(days=730):
        found.error("requested_start", "more than two years ahead")
    customer = _customer(booking.customer, branch, found, today=now.astimezone(zone).date())
    vehicle = _vehicle(booking.vehicle, found)
    if found.errors or customer is None or vehicle is None:
        raise BookingInvalidError(found.errors or [FieldError("customer", "invalid")])
    return LeadRequested(
        lead_id=lead_id_for(booking.booking_id),
        booking_id=booking.booking_id,
        branch_id=booking.branch_id,
        received_at=now,
        requested_start=start,
        requested_end=end,
        services=tuple(" ".join(s.split()) for s in booking.services),
        customer=customer,
        vehicle=vehicle,
        comment=booking.comment or None,
        warnings=tuple(found.warnings),
        unusable=tuple(found.unusable),
    )


def validate_cancellation(
    cancellation: BookingCancelled, *, branches: Mapping[str, Branch]
) -> LeadCancellationRequested:
    branch = branches.get(cancellation.branch_id)
    if branch is None:
        raise BookingInvalidError(
            [FieldError("branch_id", f"unknown branch {cancellation.branch_id!r}")]
        )
    return LeadCancellationRequested(
        lead_id=lead_id_for(cancellation.booking_id),
        booking_id=cancellation.booking_id,
        branch_id=cancellation.branch_id,
        cancelled_at=_in_zone(cancellation.cancelled_at, ZoneInfo(branch.timezone)),
        reason=cancellation.reason,
    )


def _in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    # The portal sends local wall-clock times when it sends no offset.
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _customer(
    raw: PortalCustomer, branch: Branch, found: _Collector, *, today: date
) -> Customer | None:
    country = _country(raw.address.country, branch, found)
    email = _email(raw.email, found)
    phone = _phone(raw.phone, country, "customer.phone", found)
    mobile = _phone(raw.mobile, country, "customer.mobile", found)
    if not (raw.email or raw.phone or raw.mobile):
        found.error("customer.email", "an e-mail address or a phone number is needed")
    if not raw.last_name.strip():
        found.error("customer.last_name", "must not be empty")
    number = _blank(raw.customer_number)
    if number and not _CUSTOMER_NUMBER.match(number):
        found.keep("customer.customer_number", number, Unusable.CUSTOMER_NUMBER_INVALID)
        number = None
    birth = _date(raw.birth_date, "customer.birth_date", found)
    if birth and not (_EARLIEST_BIRTH <= birth <= today):
        found.keep("customer.birth_date", raw.birth_date, Unusable.BIRTH_DATE_IMPLAUSIBLE)
        birth = None
    if found.errors:
        return None
    try:
        return Customer(
            customer_number=number,
            salutation=_blank(raw.salutation),
            title=_blank(raw.title),
            first_name=_blank(raw.first_name),
            last_name=" ".join(raw.last_name.split()),
            company=_blank(raw.company),
            email=email,
            phone=phone,
            mobile=mobile,
            birth_date=birth,
            address=Address(
                street=_blank(raw.address.street),
                house_number=_blank(raw.address.house_number),
                postcode=_blank(raw.address.postcode),
                city=_blank(raw.address.city),
                country=country,
            ),
        )
    except ValidationError as exc:
        for err in exc.errors():
            found.error("customer." + ".".join(map(str, err["loc"])), err["msg"])
        return None


def _vehicle(raw: PortalVehicle, found: _Collector) -> Vehicle | None:
    vin = None
    if _blank(raw.vin):
        checked = check_vin(str(raw.vin))
        if checked.error:
            found.keep("vehicle.vin", raw.vin, Unusable.VIN_INVALID)
        vin = None if checked.error else checked.vin
    plate = _plate(raw.licence_plate, found)
    first_registration = _date(raw.first_registration, "vehicle.first_registration", found)
    mileage = raw.mileage_km
    if mileage is not None and not 0 <= mileage <= 5_000_000:
        found.keep("vehicle.mileage_km", mileage, Unusable.MILEAGE_INVALID)
        mileage = None
    if found.errors:
        return None
    return Vehicle(
        vin=vin,
        licence_plate=plate,
        make=_blank(raw.make),
        model=_blank(raw.model),
        first_registration=first_registration,
        mileage_km=mileage,
    )


def _blank(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _country(raw: str | None, branch: Branch, found: _Collector) -> str:
    value = _blank(raw)
    if value is None:
        return branch.country
    code = _COUNTRY_NAMES.get(value.lower(), value.upper())
    if code not in phonenumbers.SUPPORTED_REGIONS:  # the branch's country stands in
        found.keep("customer.address.country", value, Unusable.COUNTRY_UNKNOWN)
        return branch.country
    return code


def _email(raw: str | None, found: _Collector) -> str | None:
    value = _blank(raw)
    if value is None:
        return None
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        found.keep("customer.email", value, Unusable.EMAIL_INVALID)
        return None
    return str(checked.normalized)


def _phone(raw: str | None, country: str, where: str, found: _Collector) -> str | None:
    value = _blank(raw)
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        found.keep(where, value, Unusable.PHONE_INVALID)
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _plate(raw: str | None, found: _Collector) -> str | None:
    value = _blank(raw)
    if value is None:
        return None
    value = value.upper()
    german = _PLATE_DE.match(value)
    if german:
        district, letters, digits, suffix = german.groups()
        return f"{district}-{letters} {digits}{suffix}"
    if _PLATE_GENERIC.match(value):
        return value
    found.keep("vehicle.licence_plate", value, Unusable.LICENCE_PLATE_INVALID)
    return None


def _date(raw: str | None, where: str, found: _Collector) -> date | None:
    value = _blank(raw)
    if value is None:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    found.keep(where, value, Unusable.DATE_INVALID)  # read as YYYY-MM-DD or DD.MM.YYYY
    return None
