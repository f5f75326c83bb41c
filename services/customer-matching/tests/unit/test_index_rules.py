"""The index's blocking keys and bookkeeping, and the rules' scores, figure by figure."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from customer_matching.domain.index import CustomerIndex
from customer_matching.domain.records import Normalised
from customer_matching.domain.scoring import Scored, score
from customer_matching.domain.similarity import address_similarity, compare, name_similarity
from osb_contracts.matching import ConfidenceBand, DuplicateCriterion, FieldComparison
from osb_contracts.values import Address, Customer

ADDRESS = (DuplicateCriterion.ADDRESS,)
BIRTH = date(1970, 1, 2)


def person(
    surname: str = "mueller",
    given: str | None = "anna",
    *,
    number: str | None = None,
    street: str = "hauptstrasse",
    house: str = "5",
    postcode: str | None = "20095",
    city: str = "hamburg",
    email: str | None = None,
    phones: tuple[str, ...] = (),
    birth: date | None = None,
) -> Normalised:
    return Normalised(
        number=number,
        surname=tuple(surname.split()),
        given=tuple(given.split()) if given else (),
        email=email,
        phones=phones,
        street=street,
        house=house,
        postcode=postcode,
        city=city,
        birth_date=birth,
    )


NOWHERE: dict[str, Any] = {"street": "", "house": "", "postcode": None, "city": ""}


def banded(band: ConfidenceBand, total: float) -> Any:
    """What score() gives for a band and a total (its rank aside), the total approximately."""
    return (band, pytest.approx(total))


def band_total(found: Scored | None) -> tuple[ConfidenceBand, float] | None:
    return None if found is None else (found.band, found.total)


def test_blocking_keys_name_codes_postcode_birth_mail_and_phone() -> None:
    a = person(email="anna@example.de", phones=("+49401234567",), birth=BIRTH)
    assert a.blocking_keys() == {
        "kp:06",  # Kölner code of anna
        "kp:657",  # and of mueller
        "kpn:06 657",  # the whole name
        "plz:20095",
        "kpg:06/20095",  # the given name within the postcode
        "dob:1970-01-02",
        "mail:anna@example.de",
        "tel:+49401234567",
    }
    assert a.full_name == "anna mueller"


def test_one_name_word_and_no_postcode_give_fewer_keys() -> None:
    assert person(given=None, postcode=None).blocking_keys() == {"kp:657"}
    two_given = person(given="anna maria")
    assert "kpg:06/20095" in two_given.blocking_keys()
    assert "kpg:67/20095" not in two_given.blocking_keys()  # the first given name only


def test_the_name_similarity_without_a_surname_or_a_given_name() -> None:
    assert name_similarity(person(surname=""), person()) == 0.0
    assert name_similarity(person(), person(surname="")) == 0.0
    # no given name on one side: the surname alone, at most 0.9 (abcd/abce: 0.75)
    assert name_similarity(person("abcd", None), person("abce")) == pytest.approx(0.675)
    assert name_similarity(person("abcd"), person("abce", None)) == pytest.approx(0.675)
    assert name_similarity(person(), person()) == 1.0


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        ({}, 1.0),
        ({"house": "7"}, 0.8),  # 0.5 street + 0 house + 0.3 place
        ({"house": ""}, 0.9),  # a house number missing on one side: half
        ({"street": ""}, 0.75),  # a street missing on one side: half
        ({"postcode": "20096"}, 1.0),  # another postcode, the same city
        ({"postcode": "20096", "city": ""}, 0.85),  # a place missing: half
        ({"postcode": None, "city": "hamborg"}, 0.5 + 0.2 + 0.3 * 6 / 7),  # city 6/7 alike
        (NOWHERE, None),  # neither street nor postcode: nothing to compare
    ],
)
def test_address_similarity_by_parts(other: dict[str, Any], expected: float | None) -> None:
    got = address_similarity(person(), person(**other))
    assert got == (None if expected is None else pytest.approx(expected))
    back = address_similarity(person(**other), person())
    assert back == (None if expected is None else pytest.approx(expected))


def test_the_same_name_and_address_is_certain() -> None:
    assert band_total(score(person(), person(), ADDRESS)) == banded(ConfidenceBand.CERTAIN, 0.9)


def test_the_same_name_and_own_email_is_likely_without_the_address() -> None:
    mail = "anna@example.de"
    got = score(person(email=mail), person(email=mail, **NOWHERE), ADDRESS)
    assert band_total(got) == banded(ConfidenceBand.LIKELY, 0.55 + 0.10)


def test_the_same_person_and_household_under_another_name_is_certain() -> None:
    query = person("abcd", None, birth=BIRTH)
    master = person("abce", birth=BIRTH)
    total = max(0.55 * 0.675 + 0.35 + 0.10, 0.7 + 0.3 * 0.675)
    assert band_total(score(query, master, ADDRESS)) == banded(ConfidenceBand.CERTAIN, total)
    # the household alone (a spouse: the address, no own birth date or e-mail)
    spouse = score(person("abcd", None), person("abce"), ADDRESS)
    assert band_total(spouse) == banded(ConfidenceBand.POSSIBLE, 0.55 * 0.675 + 0.35)


def test_the_same_customer_number_is_certain_from_a_name_of_0_6() -> None:
    query = person("abcd", None, number="K-1", **NOWHERE)
    got = score(query, person("abce", number="K-1"), ADDRESS)
    assert band_total(got) == banded(ConfidenceBand.CERTAIN, 0.99)
    other_number = person("abce", number="K-2")
    assert score(query, other_number, ADDRESS) is None  # a name of 0.675 alone: nothing
    far = person("abxy", None, number="K-1", **NOWHERE)
    # the number under a name of 0.45 (a mistyped number?) proves nothing by itself
    assert score(far, person("abce", number="K-1"), ADDRESS) is None


def test_a_name_alone_is_possible_and_a_criterion_alone_too() -> None:
    nowhere = person(given=None, **NOWHERE)
    assert band_total(score(nowhere, person(), ADDRESS)) == banded(
        ConfidenceBand.POSSIBLE, 0.55 * 0.9
    )
    phone = ("+49401234567",)
    by_phone = score(
        person("abcd", None, phones=phone, **NOWHERE),
        person("wxyz", phones=phone, **NOWHERE),
        (DuplicateCriterion.PHONE,),
    )
    assert band_total(by_phone) == banded(ConfidenceBand.POSSIBLE, 0.35)
    other_phone = score(
        person("abcd", None, phones=phone, **NOWHERE),
        person("wxyz", phones=("+49409999999",), **NOWHERE),
        (DuplicateCriterion.PHONE,),
    )
    assert other_phone is None


def test_a_supporting_field_counts_a_tenth_and_makes_a_near_name_likely() -> None:
    query = person(birth=BIRTH, **NOWHERE)
    master = person(birth=BIRTH, **NOWHERE)
    # the birth date supports (not the branch's criterion), the name decides
    assert band_total(score(query, master, ADDRESS)) == banded(ConfidenceBand.LIKELY, 0.65)
    decisive = score(query, master, (DuplicateCriterion.BIRTH_DATE,))
    assert band_total(decisive) == banded(ConfidenceBand.CERTAIN, 0.9)


def customer(number: str, last: str = "Müller", **kw: object) -> Customer:
    fields: dict[str, object] = {
        "customer_number": number,
        "first_name": "Anna",
        "last_name": last,
        "address": Address(
            street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg"
        ),
    }
    return Customer.model_validate(fields | kw)


def test_a_customer_without_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match="a master customer has a customer number"):
        CustomerIndex().put(Customer(last_name="Müller"))


def test_a_freed_slot_is_used_again_and_forgets_its_customer() -> None:
    index = CustomerIndex()
    index.put(customer("K-1"))
    index.put(customer("K-2", "Schulz"))
    index.remove("K-1")
    assert (index.normalised[0], index.records[0], index.numbers[0]) == (None, None, None)
    assert index.free == [0]
    assert index.get("K-1") is None
    index.put(customer("K-3", "Weber"))
    assert index.slots["K-3"] == 0
    assert index.free == []
    assert len(index.numbers) == 2
    assert index.get("K-3") == customer("K-3", "Weber")


def test_a_shared_key_goes_from_one_slot_to_a_set_to_a_count_and_back() -> None:
    index = CustomerIndex(too_common=2)
    for number in ("K-1", "K-2"):
        index.put(customer(number))
    assert index.block("plz:20095") == {0, 1}
    index.remove("K-2")
    assert index.block("plz:20095") == 0  # one member again: its slot
    index.put(customer("K-2"))
    index.put(customer("K-3"))
    common = index.block("plz:20095")
    assert not isinstance(common, int | set)
    assert common is not None
    assert common.count == 3
    index.remove("K-3")
    assert common.count == 2
    index.remove("K-2")
    index.remove("K-1")
    assert index.block("plz:20095") is None


def test_the_customer_number_finds_a_candidate_whatever_its_name() -> None:
    index = CustomerIndex()
    index.put(customer("K-9", "Zzyzx", first_name=None, address=Address()))
    query = Normalised.of(customer("K-9", "Müller"))
    assert index.candidate_numbers(query) == {"K-9"}
    assert index.candidate_numbers(Normalised.of(customer("K-8"))) == set()


def test_search_sorts_by_score_then_number_and_stops_at_the_limit() -> None:
    index = CustomerIndex()
    for number in ("K-12", "K-03", "K-07"):
        index.put(customer(number))
    index.put(customer("K-01", "Müllers"))
    for n in range(20, 32):
        index.put(customer(f"K-{n}", first_name="Anna", last_name="Müller"))
    found = index.search(customer("K-X", email="anna@example.de"), ADDRESS)
    assert len(found) == 10
    assert [c.customer_number for c in found[:3]] == ["K-03", "K-07", "K-12"]
    assert found[0].score >= found[-1].score
    near = index.search(customer("K-X"), ADDRESS, limit=20)
    assert near[-1].customer_number == "K-01"  # the near surname last
    assert near[-1].score < near[0].score


def test_the_advisor_reads_each_field_as_written() -> None:
    lead = Customer(
        title="Dr.",
        first_name="Anna",
        last_name="Müller",
        email="anna@example.de",
        phone="+49401234567",
        mobile="+491701234567",
        birth_date=BIRTH,
        address=Address(street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg"),
    )
    master = Customer(last_name="Müller", address=Address(city="Hamburg"))
    rows = compare(lead, master, {"name": 0.87654, "address": 0.5})
    assert rows == (
        FieldComparison(
            field="name", lead_value="Dr. Anna Müller", master_value="Müller", similarity=0.8765
        ),
        FieldComparison(
            field="address",
            lead_value="Hauptstraße 5, 20095 Hamburg",
            master_value="Hamburg",
            similarity=0.5,
        ),
        FieldComparison(
            field="email", lead_value="anna@example.de", master_value=None, similarity=0.0
        ),
        FieldComparison(
            field="phone",
            lead_value="+49401234567, +491701234567",
            master_value=None,
            similarity=0.0,
        ),
        FieldComparison(
            field="birth_date", lead_value="1970-01-02", master_value=None, similarity=0.0
        ),
    )
    nobody = compare(Customer(last_name="X"), Customer(last_name="Y"), {})
    assert [r.lead_value for r in nobody] == ["X", None, None, None, None]
