from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest
from faker import Faker
from lead_intake.domain.validation import (
    BookingInvalidError,
    Branch,
    lead_id_for,
    validate_booking,
    validate_cancellation,
)
from lead_intake.domain.vin import VinCheck, check_digit, check_vin
from osb_contracts.leads import Unusable
from osb_contracts.portal import (
    BookingCancelled,
    BookingSubmitted,
    PortalAddress,
    PortalCustomer,
    PortalVehicle,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
BRANCHES = {
    "HH-01": Branch("HH-01", "DE", "Europe/Berlin"),
    "W-01": Branch("W-01", "AT", "Europe/Vienna"),
}
VALID_EU_VIN = "WVWZZZ1JZXW000001"  # check digit position is not enforced in Europe
VALID_NA_VIN = "1M8GDM9AXKP042788"  # the classic valid check digit example


def booking(**overrides: object) -> BookingSubmitted:
    customer = overrides.pop("customer", None) or PortalCustomer(
        salutation="Herr",
        first_name="Jürgen",
        last_name="Größmann",
        email="  Juergen.Groessmann@Example.DE ",
        phone="040 1234567",
        address=PortalAddress(
            street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg"
        ),
    )
    fields: dict[str, object] = {
        "booking_id": "B-100",
        "branch_id": "HH-01",
        "submitted_at": NOW,
        "requested_start": NOW + timedelta(days=3),
        "customer": customer,
        "vehicle": PortalVehicle(vin=VALID_EU_VIN, licence_plate="hh ab 123"),
    }
    fields.update(overrides)
    return BookingSubmitted.model_validate(fields)


def errors_of(b: BookingSubmitted) -> dict[str, str]:
    with pytest.raises(BookingInvalidError) as exc:
        validate_booking(b, now=NOW, branches=BRANCHES)
    return {e.field: e.reason for e in exc.value.errors}


def kept_of(b: BookingSubmitted) -> dict[str, tuple[str, Unusable]]:
    """The booking became a lead; what it kept as typed, per field, with why."""
    lead = validate_booking(b, now=NOW, branches=BRANCHES)
    return {u.field: (u.value, u.code) for u in lead.unusable}


def test_a_valid_booking_is_normalised() -> None:
    lead = validate_booking(booking(), now=NOW, branches=BRANCHES)
    assert lead.lead_id == lead_id_for("B-100")
    assert lead.customer.email == "Juergen.Groessmann@example.de"
    assert lead.customer.phone == "+49401234567"
    assert lead.customer.address.country == "DE"
    assert lead.vehicle.licence_plate == "HH-AB 123"
    assert lead.vehicle.vin == VALID_EU_VIN
    assert lead.received_at == NOW


def test_lead_id_is_deterministic_per_booking() -> None:
    # UUIDv5 of the booking id in the project's namespace: the same on every machine and run
    assert lead_id_for("B-1") == uuid.UUID("34dd4d09-50b5-57e8-b52c-613ae580e63f")
    assert lead_id_for(" B-1 ") == lead_id_for("B-1")
    assert lead_id_for("B-1") != lead_id_for("B-2")


def test_phone_region_comes_from_the_address_country() -> None:
    austrian = PortalCustomer(
        last_name="Huber", mobile="0664 1234567", address=PortalAddress(country="Österreich")
    )
    lead = validate_booking(booking(customer=austrian), now=NOW, branches=BRANCHES)
    assert lead.customer.mobile == "+436641234567"
    assert lead.customer.address.country == "AT"
    # The same digits with a German address are a Hessian landline (06641), not that mobile.
    german = PortalCustomer(last_name="Huber", mobile="0664 1234567")
    lead = validate_booking(booking(customer=german), now=NOW, branches=BRANCHES)
    assert lead.customer.mobile == "+496641234567"


def test_branch_country_is_the_default_region() -> None:
    viennese = PortalCustomer(last_name="Huber", phone="01 5123456")
    lead = validate_booking(
        booking(customer=viennese, branch_id="W-01"), now=NOW, branches=BRANCHES
    )
    assert lead.customer.phone == "+4315123456"


def test_every_field_that_keeps_a_booking_from_becoming_a_lead_is_named() -> None:
    bad = booking(
        branch_id="XX-99",
        requested_start=NOW - timedelta(days=2),
        requested_end=NOW - timedelta(days=3),
        customer=PortalCustomer(last_name=" ", email="no-at-sign", phone="12"),
    )
    errors = errors_of(bad)
    assert set(errors) == {"branch_id", "requested_start", "requested_end", "customer.last_name"}
    assert "unknown branch" in errors["branch_id"]
    assert "past" in errors["requested_start"]


def test_bad_optional_fields_are_kept_as_typed_and_the_booking_becomes_a_lead() -> None:
    b = booking(
        customer=PortalCustomer(
            last_name="Meier",
            email="meier..x@example.de",
            phone="12",
            mobile="0172 abc",
            birth_date="1850-01-01",
            customer_number="K/1",
            address=PortalAddress(country="Atlantis"),
        ),
        vehicle=PortalVehicle(
            vin="WVWZZZ1JZXW00000I",
            licence_plate="!!",
            first_registration="31.02.2020",
            mileage_km=-5,
        ),
    )
    lead = validate_booking(b, now=NOW, branches=BRANCHES)
    assert {u.field: (u.value, u.code) for u in lead.unusable} == {
        "customer.email": ("meier..x@example.de", Unusable.EMAIL_INVALID),
        "customer.phone": ("12", Unusable.PHONE_INVALID),
        "customer.mobile": ("0172 abc", Unusable.PHONE_INVALID),
        "customer.birth_date": ("1850-01-01", Unusable.BIRTH_DATE_IMPLAUSIBLE),
        "customer.customer_number": ("K/1", Unusable.CUSTOMER_NUMBER_INVALID),
        "customer.address.country": ("Atlantis", Unusable.COUNTRY_UNKNOWN),
        "vehicle.vin": ("WVWZZZ1JZXW00000I", Unusable.VIN_INVALID),
        "vehicle.licence_plate": ("!!", Unusable.LICENCE_PLATE_INVALID),
        "vehicle.first_registration": ("31.02.2020", Unusable.DATE_INVALID),
        "vehicle.mileage_km": ("-5", Unusable.MILEAGE_INVALID),
    }
    c, v = lead.customer, lead.vehicle
    assert (c.email, c.phone, c.mobile, c.birth_date, c.customer_number) == (None,) * 5
    assert c.address.country == "DE"  # the branch's stands in
    assert (v.vin, v.licence_plate, v.first_registration, v.mileage_km) == (None,) * 4
    assert lead.customer.last_name == "Meier"


def test_a_contact_is_needed() -> None:
    errors = errors_of(booking(customer=PortalCustomer(last_name="Meier")))
    assert errors == {"customer.email": "an e-mail address or a phone number is needed"}


def test_the_requested_day_counts_in_the_branch_time_zone() -> None:
    # 23:30 UTC on the 25th is already the 26th in Hamburg: today, not the past.
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    lead = validate_booking(booking(requested_start=late), now=NOW, branches=BRANCHES)
    assert lead.requested_start == late
    naive = datetime(2026, 11, 30, 9, 0)  # noqa: DTZ001 - the portal's wall clock
    lead = validate_booking(booking(requested_start=naive), now=NOW, branches=BRANCHES)
    assert lead.requested_start.utcoffset() == timedelta(hours=1)


def test_end_before_start_refused_an_implausible_birth_date_kept() -> None:
    b = booking(
        requested_end=NOW + timedelta(days=2),
        customer=PortalCustomer(last_name="Alt", email="a@example.de", birth_date="01.01.1850"),
    )
    assert set(errors_of(b)) == {"requested_end"}
    b = booking(
        customer=PortalCustomer(last_name="Alt", email="a@example.de", birth_date="01.01.1850")
    )
    assert kept_of(b) == {"customer.birth_date": ("01.01.1850", Unusable.BIRTH_DATE_IMPLAUSIBLE)}


def test_vin_rules() -> None:
    assert check_digit(VALID_NA_VIN) == "X"
    assert check_vin(VALID_NA_VIN).vin == VALID_NA_VIN
    assert check_vin("1m8gdm9a-xkp042788").vin == VALID_NA_VIN
    assert "17 characters" in str(check_vin("WVWZZZ1JZ").error)
    assert "I, O or Q" in str(check_vin("WVWZZZ1JZXW00000O").error)
    wrong_na = VALID_NA_VIN[:8] + "1" + VALID_NA_VIN[9:]
    assert "North American" in str(check_vin(wrong_na).error)
    assert check_digit(VALID_EU_VIN) != VALID_EU_VIN[8]  # 'X' at position 9 is not its check digit
    assert check_vin(VALID_EU_VIN) == VinCheck(VALID_EU_VIN)


def test_a_european_vin_without_a_check_digit_gives_the_advisor_no_warning() -> None:
    # the check digit is mandatory in North America only; European makers mostly use
    # position 9 otherwise, so a mismatch there is normal and nothing to show
    lead = validate_booking(booking(), now=NOW, branches=BRANCHES)
    assert lead.vehicle.vin == VALID_EU_VIN
    assert not any("vin" in w.lower() for w in lead.warnings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M-AB 1234", "M-AB 1234"),
        ("hh ab 123", "HH-AB 123"),
        ("b mw 1e", "B-MW 1E"),  # electric
        ("W-12345A", "W-12345A"),  # Austrian: kept as written
    ],
)
def test_plates_are_normalised(raw: str, expected: str) -> None:
    lead = validate_booking(
        booking(vehicle=PortalVehicle(licence_plate=raw)), now=NOW, branches=BRANCHES
    )
    assert lead.vehicle.licence_plate == expected


@pytest.mark.parametrize("raw", ["!!", "A", "HH-AB-123-XYZ-99"])
def test_bad_plates_are_kept_as_typed(raw: str) -> None:
    assert kept_of(booking(vehicle=PortalVehicle(licence_plate=raw))) == {
        "vehicle.licence_plate": (raw, Unusable.LICENCE_PLATE_INVALID)
    }


def test_cancellation_names_the_same_lead() -> None:
    cancel = BookingCancelled(booking_id="B-100", branch_id="HH-01", cancelled_at=NOW)
    assert validate_cancellation(cancel, branches=BRANCHES).lead_id == lead_id_for("B-100")
    with pytest.raises(BookingInvalidError):
        validate_cancellation(
            BookingCancelled(booking_id="B-1", branch_id="ZZ", cancelled_at=NOW), branches=BRANCHES
        )


def person(**fields: object) -> PortalCustomer:
    values: dict[str, object] = {"last_name": "Meier", "email": "meier@example.de"}
    values.update(fields)
    return PortalCustomer.model_validate(values)


@pytest.mark.parametrize("last_name", ["", "   "])
def test_a_last_name_is_needed(last_name: str) -> None:
    assert errors_of(booking(customer=person(last_name=last_name))) == {
        "customer.last_name": "must not be empty"
    }
    with pytest.raises(BookingInvalidError, match=r"^customer\.last_name: must not be empty$"):
        validate_booking(booking(customer=person(last_name=last_name)), now=NOW, branches=BRANCHES)


@pytest.mark.parametrize("number", ["K-1", "a" * 20, "DMS000478"])
def test_customer_numbers_that_fit_the_pattern(number: str) -> None:
    lead = validate_booking(
        booking(customer=person(customer_number=number)), now=NOW, branches=BRANCHES
    )
    assert lead.customer.customer_number == number


@pytest.mark.parametrize("number", ["a" * 21, "K 1", "K_1", "K/1", "Kü1"])
def test_customer_numbers_that_do_not(number: str) -> None:
    assert kept_of(booking(customer=person(customer_number=number))) == {
        "customer.customer_number": (number, Unusable.CUSTOMER_NUMBER_INVALID)
    }


@pytest.mark.parametrize(
    ("birth", "kept"),
    [
        ("1900-01-01", None),
        ("1899-12-31", Unusable.BIRTH_DATE_IMPLAUSIBLE),
        ("2026-11-26", None),  # today
        ("2026-11-27", Unusable.BIRTH_DATE_IMPLAUSIBLE),  # tomorrow
        ("07.11.2001", None),
        ("2001/11/07", Unusable.DATE_INVALID),
    ],
)
def test_birth_date_bounds_and_formats(birth: str, kept: Unusable | None) -> None:
    b = booking(customer=person(birth_date=birth))
    if kept is None:
        assert validate_booking(b, now=NOW, branches=BRANCHES).customer.birth_date is not None
    else:
        assert kept_of(b) == {"customer.birth_date": (birth, kept)}


@pytest.mark.parametrize(
    ("km", "valid"), [(0, True), (5_000_000, True), (-1, False), (5_000_001, False)]
)
def test_mileage_bounds(km: int, valid: bool) -> None:
    b = booking(vehicle=PortalVehicle(mileage_km=km))
    if valid:
        assert validate_booking(b, now=NOW, branches=BRANCHES).vehicle.mileage_km == km
    else:
        assert kept_of(b) == {"vehicle.mileage_km": (str(km), Unusable.MILEAGE_INVALID)}


@pytest.mark.parametrize(("days", "valid"), [(0, True), (729, True), (731, False), (-1, False)])
def test_the_requested_date_from_today_to_two_years_ahead(days: int, valid: bool) -> None:
    b = booking(requested_start=NOW + timedelta(days=days))
    if valid:
        assert validate_booking(b, now=NOW, branches=BRANCHES).requested_start == NOW + timedelta(
            days=days
        )
    else:
        assert set(errors_of(b)) == {"requested_start"}


def test_an_end_equal_to_the_start_is_refused_and_a_later_one_kept() -> None:
    start = NOW + timedelta(days=3)
    assert set(errors_of(booking(requested_start=start, requested_end=start))) == {"requested_end"}
    later = validate_booking(
        booking(requested_start=start, requested_end=start + timedelta(minutes=1)),
        now=NOW,
        branches=BRANCHES,
    )
    assert later.requested_end == start + timedelta(minutes=1)


@pytest.mark.parametrize("address", ["@x.de", "meier@", "meier", "meier@@x.de", "a..b@x.de"])
def test_broken_email_addresses_are_kept_as_typed(address: str) -> None:
    lead = validate_booking(booking(customer=person(email=address)), now=NOW, branches=BRANCHES)
    assert lead.customer.email is None  # never written to
    assert [(u.field, u.value, u.code) for u in lead.unusable] == [
        ("customer.email", address, Unusable.EMAIL_INVALID)
    ]


@pytest.mark.parametrize("field", ["phone", "mobile"])
def test_unparsable_and_invalid_phone_numbers_are_kept_as_typed(field: str) -> None:
    for raw in ("abc", "040 12"):
        assert kept_of(booking(customer=person(**{field: raw}))) == {
            f"customer.{field}": (raw, Unusable.PHONE_INVALID)
        }


def test_a_mobile_number_alone_is_contact_enough() -> None:
    lead = validate_booking(
        booking(customer=PortalCustomer(last_name="Meier", mobile="0151 23456789")),
        now=NOW,
        branches=BRANCHES,
    )
    assert (lead.customer.mobile, lead.customer.email) == ("+4915123456789", None)


def test_an_unknown_branch_is_named() -> None:
    assert "branch_id" in errors_of(booking(branch_id="XX-99"))


def test_an_unknown_country_is_kept_and_the_branch_s_stands_in() -> None:
    customer = person(address=PortalAddress(country="Atlantis"))
    assert kept_of(booking(customer=customer)) == {
        "customer.address.country": ("Atlantis", Unusable.COUNTRY_UNKNOWN)
    }


def test_the_optional_fields_are_kept_trimmed() -> None:
    customer = person(
        salutation=" Frau ",
        title="Dr.",
        first_name="  Eva  Maria ",
        company=" Meier  GmbH ",
        address=PortalAddress(
            street="Hauptstraße", house_number="5a", postcode="20095", city="Hamburg"
        ),
    )
    lead = validate_booking(
        booking(
            customer=customer,
            vehicle=PortalVehicle(make="VW", model="Golf", first_registration="2020-03-01"),
            comment="Bitte Ersatzwagen",
            services=("Inspektion",),
        ),
        now=NOW,
        branches=BRANCHES,
    )
    c = lead.customer
    assert (c.salutation, c.title, c.first_name, c.company) == (
        "Frau",
        "Dr.",
        "Eva Maria",
        "Meier GmbH",
    )
    assert (c.address.house_number, c.address.city, c.address.country) == ("5a", "Hamburg", "DE")
    assert (lead.vehicle.make, lead.vehicle.model) == ("VW", "Golf")
    assert str(lead.vehicle.first_registration) == "2020-03-01"
    assert (lead.comment, lead.services, lead.received_at) == (
        "Bitte Ersatzwagen",
        ("Inspektion",),
        NOW,
    )


def test_an_empty_comment_is_none() -> None:
    assert validate_booking(booking(comment=""), now=NOW, branches=BRANCHES).comment is None


def test_a_cancellation_of_an_unknown_branch_is_refused() -> None:
    cancellation = BookingCancelled(
        booking_id="B-100", branch_id="XX-99", cancelled_at=NOW, reason=None
    )
    with pytest.raises(BookingInvalidError) as refused:
        validate_cancellation(cancellation, branches=BRANCHES)
    assert [e.field for e in refused.value.errors] == ["branch_id"]


def _example_numbers() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in kinds:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                found.append((region, number))
    return found


def test_every_region_s_example_numbers_are_accepted_international_and_national() -> None:
    """libphonenumber's example number of every region, mobile and fixed line: as
    +CC... with a German address and nationally with the region's own."""
    examples = _example_numbers()
    assert len(examples) > 400
    for region, number in examples:
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        international = phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        for typed, country in ((international, "DE"), (national, region)):
            customer = person(mobile=typed, address=PortalAddress(country=country))
            lead = validate_booking(booking(customer=customer), now=NOW, branches=BRANCHES)
            assert (lead.customer.mobile, lead.unusable) == (e164, ()), (region, typed)


@pytest.mark.parametrize("locale", ["de_DE", "de_AT", "de_CH"])
def test_every_faker_booking_of_a_german_speaking_country_becomes_a_lead(locale: str) -> None:
    """Faker's names, addresses, phone numbers, e-mail addresses, birth dates, plates and
    VINs: none of them keeps a booking from becoming a lead."""
    fake = Faker(locale)
    fake.seed_instance(14)
    country = {"de_DE": "DE", "de_AT": "AT", "de_CH": "CH"}[locale]
    kept: Counter[str] = Counter()
    for n in range(300):
        customer = PortalCustomer(
            first_name=fake.first_name(),
            last_name=fake.last_name(),
            email=fake.email(),
            phone=fake.phone_number(),
            birth_date=fake.date_of_birth(minimum_age=18, maximum_age=100).isoformat(),
            address=PortalAddress(
                street=fake.street_name(),
                house_number=fake.building_number(),
                postcode=fake.postcode(),
                city=fake.city(),
                country=country,
            ),
        )
        vehicle = PortalVehicle(vin=fake.vin(), licence_plate=fake.license_plate())
        lead = validate_booking(
            booking(booking_id=f"F-{n}", customer=customer, vehicle=vehicle),
            now=NOW,
            branches=BRANCHES,
        )
        kept.update(u.field for u in lead.unusable)
    # what Faker makes up that is not real (phone numbers in ranges no operator has) is
    # kept as typed, never a reason to refuse: before, each of these was a lost booking
    assert dict(kept) == {"de_DE": {"customer.phone": 85}, "de_AT": {"customer.phone": 134}}.get(
        locale, {}
    )
