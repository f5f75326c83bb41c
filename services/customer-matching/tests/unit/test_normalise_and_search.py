from __future__ import annotations

from datetime import date

import pytest
from customer_matching.domain import normalise as n
from customer_matching.domain.index import CustomerIndex, Normalised
from osb_contracts.matching import ConfidenceBand, DuplicateCriterion
from osb_contracts.values import Address, Customer


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Müller", "mueller"),
        ("MÜLLER", "mueller"),
        ("Mu\u0308ller", "mueller"),  # decomposed ü (NFD) is the same name
        ("Großmann", "grossmann"),
        ("Öztürk-Şahin", "oeztuerk sahin"),
        ("  René  Dupont ", "rene dupont"),
    ],
)
def test_fold_nfc_din_5007_2(raw: str, folded: str) -> None:
    assert n.fold(raw) == folded


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Hauptstraße", "Hauptstr."),
        ("Hauptstrasse", "Haupt Str."),
        ("Schulgasse", "Schul-G."),
        ("Marktplatz", "Marktpl."),
    ],
)
def test_street_forms(a: str, b: str) -> None:
    assert n.street(a) == n.street(b)


def test_titles_and_salutations_are_dropped() -> None:
    assert n.name_words("Herr Prof. Dr.-Ing.", "Jürgen") == ("juergen",)
    assert n.name_words("Frau Mag.", "Eva von Berg") == ("eva", "berg")


def test_exact_keys_normalised() -> None:
    assert n.email("  Max.M@GoogleMail.COM ") == "max.m@gmail.com"
    assert n.phone("0664 1234567", "AT") == "+436641234567"
    assert n.phone("+49 (40) 123 4567", "AT") == "+49401234567"
    assert n.phone("12", "DE") is None


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("Bär", "baer"),
        ("Jäger-Öhler", "jaeger oehler"),
        ("GRÖẞE", "groesse"),  # capital ẞ
        ("Straße", "strasse"),
        ("Fuß", "fuss"),
        ("Ärztin", "aerztin"),
    ],
)
def test_umlauts_and_sharp_s_fold_as_din_5007_2(raw: str, folded: str) -> None:
    assert n.fold(raw) == folded


def test_name_words_skip_missing_parts() -> None:
    assert n.name_words(None, "Jürgen", "", "Größmann") == ("juergen", "groessmann")
    assert n.name_words(None) == ()


def test_street_of_nothing_is_empty() -> None:
    assert n.street(None) == ""
    assert n.street("Am Markt  3") == "am markt 3"


@pytest.mark.parametrize("raw", [None, "", "@example.de"])
def test_no_email_address_without_a_local_part(raw: str | None) -> None:
    assert n.email(raw) is None


def test_email_domains_other_than_googlemail_are_kept() -> None:
    assert n.email("Eva@Web.DE") == "eva@web.de"
    assert n.email("a@b@gmx.de") == "a@b@gmx.de"


@pytest.mark.parametrize("raw", [None, "", "abc", "+", "040 12"])
def test_a_phone_number_that_cannot_be_read_is_none(raw: str | None) -> None:
    assert n.phone(raw) is None


def test_an_e164_number_is_taken_as_it_is() -> None:
    assert n.phone("+4940123456") == "+4940123456"  # not valid for libphonenumber: kept
    assert n.phone("040 1234567") == "+49401234567"


@pytest.mark.parametrize(
    ("raw", "code"), [(None, None), ("", None), (" 20 095 ", "20095"), ("a-1010", "A-1010")]
)
def test_postcodes_without_spaces_upper_case(raw: str | None, code: str | None) -> None:
    assert n.postcode(raw) == code


def test_koelner_phonetik() -> None:
    assert n.koelner("meier") == n.koelner("mayer") == n.koelner("maier")
    assert n.koelner("schmidt") == n.koelner("schmitt")
    assert n.koelner("mueller") != n.koelner("meier")


def customer(number: str, first: str, last: str, **kw: object) -> Customer:
    address = kw.pop("address", None) or Address(
        street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg"
    )
    return Customer.model_validate(
        {
            "customer_number": number,
            "first_name": first,
            "last_name": last,
            "address": address,
            **kw,
        }
    )


def index_of(*customers: Customer) -> CustomerIndex:
    index = CustomerIndex()
    for c in customers:
        index.put(c)
    return index


ADDRESS = [DuplicateCriterion.ADDRESS]


def test_a_typo_and_abbreviations_are_found_as_certain_with_the_address() -> None:
    index = index_of(customer("K-1", "Jürgen", "Müller"), customer("K-2", "Anna", "Schulz"))
    lead = Customer(
        first_name="Juergen",
        last_name="Mueller",
        address=Address(street="Hauptstr.", house_number="5", postcode="20095", city="Hamburg"),
    )
    (best, *_) = index.search(lead, ADDRESS)
    assert (best.customer_number, best.band) == ("K-1", ConfidenceBand.CERTAIN)
    fields = {f.field: f for f in best.fields}
    assert fields["name"].lead_value == "Juergen Mueller"
    assert fields["name"].master_value == "Jürgen Müller"
    assert fields["address"].similarity == 1.0


def test_first_and_last_name_swapped() -> None:
    index = index_of(customer("K-1", "Jürgen", "Müller"))
    lead = Customer(first_name="Müller", last_name="Jürgen", address=Address(postcode="20095"))
    (best,) = index.search(lead, ADDRESS)
    assert best.customer_number == "K-1"
    assert {f.field: f.similarity for f in best.fields}["name"] >= 0.95


@pytest.mark.parametrize(
    ("first", "last"),
    [("Hayden", "Thred Gold"), ("Thred Gold", "Hayden"), ("Hay Den", "Thredgold")],
)
def test_a_name_typed_apart_or_swapped_meets_its_other_half(first: str, last: str) -> None:
    index = index_of(customer("K-1", "Hayden", "Thredgold"))
    lead = Customer(first_name=first, last_name=last, address=Address(postcode="20095"))
    (best,) = index.search(lead, ADDRESS)
    assert {f.field: f.similarity for f in best.fields}["name"] >= 0.9


@pytest.mark.parametrize(
    ("typed", "similarity"),
    [
        (date(1973, 4, 16), 1.0),
        (date(1937, 4, 16), 0.8),  # two digits swapped
        (date(1973, 4, 17), 0.8),  # one digit mistyped
        (date(1973, 6, 14), 0.0),
        (date(1981, 2, 3), 0.0),
    ],
)
def test_a_mistyped_birth_date_is_near_but_never_proof(typed: date, similarity: float) -> None:
    index = index_of(customer("K-1", "Hayden", "Thredgold", birth_date=date(1973, 4, 16)))
    lead = Customer(
        first_name="Hayden",
        last_name="Thredgold",
        birth_date=typed,
        address=Address(postcode="20095"),
    )
    (best,) = index.search(lead, [DuplicateCriterion.BIRTH_DATE])
    assert {f.field: f.similarity for f in best.fields}["birth_date"] == similarity
    if similarity < 1.0:
        assert best.band is not ConfidenceBand.CERTAIN


def test_day_and_month_swapped_are_near() -> None:
    index = index_of(customer("K-1", "Hayden", "Thredgold", birth_date=date(1973, 4, 9)))
    lead = Customer(
        first_name="Hayden",
        last_name="Thredgold",
        birth_date=date(1973, 9, 4),
        address=Address(postcode="20095"),
    )
    (best,) = index.search(lead, [DuplicateCriterion.BIRTH_DATE])
    assert {f.field: f.similarity for f in best.fields}["birth_date"] == 0.8


def test_a_name_alone_is_never_certain() -> None:
    index = index_of(customer("K-1", "Jürgen", "Müller", email="j@example.de"))
    lead = Customer(
        first_name="Jürgen",
        last_name="Müller",
        email="other@example.de",
        address=Address(street="Ganz Anderer Weg", house_number="99", postcode="20095"),
    )
    (best,) = index.search(lead, [DuplicateCriterion.EMAIL])
    assert best.band is not ConfidenceBand.CERTAIN


def test_the_branch_criterion_decides() -> None:
    master = customer("K-1", "Eva", "Berg", email="eva@example.de", birth_date=date(1980, 5, 1))
    index = index_of(master)
    lead = Customer(
        first_name="Eva",
        last_name="Berg",
        email="eva@example.de",
        birth_date=date(1980, 5, 2),
        address=Address(postcode="99999"),
    )
    (by_mail,) = index.search(lead, [DuplicateCriterion.EMAIL])
    assert by_mail.band is ConfidenceBand.CERTAIN
    (by_birth,) = index.search(lead, [DuplicateCriterion.BIRTH_DATE])
    assert by_birth.band is not ConfidenceBand.CERTAIN


def test_exact_keys_find_customers_whose_name_differs() -> None:
    index = index_of(customer("K-7", "Maximilian", "Huber", phone="+4940123456"))
    lead = Customer(
        first_name="Max",
        last_name="Hubér-Schmidt",
        mobile="+4940123456",
        address=Address(postcode="80331"),
    )
    found = index.search(lead, [DuplicateCriterion.PHONE])
    assert [c.customer_number for c in found] == ["K-7"]


def test_a_too_common_key_is_ignored() -> None:
    # 25 customers share the postcode and nothing else; the postcode alone finds none of them.
    crowd = [customer(f"K-{i}", f"Vorname{i}", f"Zzyzx{i}abc") for i in range(25)]
    index = index_of(*crowd)
    lead = Customer(
        first_name="Niemand",
        last_name="Unbekannt",
        address=Address(street="Hauptstraße", postcode="20095"),
    )
    assert index.candidates(Normalised.of(lead)) == set()
    # With 20 sharing it, it counts.
    small = index_of(*crowd[:20])
    assert len(small.candidates(Normalised.of(lead))) == 20


def test_updates_and_deletes_reach_the_index() -> None:
    index = index_of(customer("K-1", "Jürgen", "Müller"))
    index.put(customer("K-1", "Jürgen", "Müller", email="neu@example.de"))
    lead = Customer(last_name="Anders", email="neu@example.de")
    assert [c.customer_number for c in index.search(lead, [DuplicateCriterion.EMAIL])] == ["K-1"]
    index.remove("K-1")
    assert index.search(lead, [DuplicateCriterion.EMAIL]) == []
    assert len(index) == 0
    assert not index.blocks


def test_a_key_that_grew_too_common_keeps_a_count_and_goes_with_its_last_customer() -> None:
    index = CustomerIndex(too_common=20)
    names = ["Anton", "Berta", "Caesar", "Dora", "Emil", "Friedrich", "Gustav", "Heinrich"]
    many = [customer(f"K-{i}", names[i % 8], f"Zzyx{i}") for i in range(25)]
    for c in many[:20]:
        index.put(c)
    assert isinstance(index.block("plz:20095"), set)  # twenty: still a key that finds
    for c in many[20:]:
        index.put(c)
    common = index.block("plz:20095")
    assert not isinstance(common, (int, set))
    assert getattr(common, "count", None) == 25
    lead = Customer(last_name="Niemand", address=Address(postcode="20095"))
    assert index.search(lead, ADDRESS) == []  # the postcode alone no longer finds anyone
    for c in many:
        index.remove(str(c.customer_number))
    assert index.block("plz:20095") is None
    assert not index.blocks


@pytest.mark.parametrize(
    "master",
    [
        Customer(
            customer_number="K-9",
            salutation="Frau",
            title="Dr.",
            first_name="Jördis",
            last_name="Groß-Weber",
            company="Weber GmbH",
            email="joerdis@example.de",
            phone="+49401234567",
            mobile="+436641234567",
            birth_date=date(1971, 2, 3),
            address=Address(
                street="Mühlgasse", house_number="7a", postcode="1010", city="Wien", country="AT"
            ),
        ),
        Customer(customer_number="K-10", last_name="Nur"),
    ],
)
def test_the_index_gives_back_the_master_record_it_was_given(master: Customer) -> None:
    found = index_of(master).get(str(master.customer_number))
    assert found == master
    assert found is not None
    assert found.model_dump_json() == master.model_dump_json()
