from __future__ import annotations

from datetime import date

import pytest
from customer_matching.domain import normalise as n
from customer_matching.domain.index import CustomerIndex
from customer_matching.domain.records import Normalised, near_dates
from customer_matching.domain.similarity import birth_similarity
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


def test_a_year_off_by_one_is_near() -> None:
    assert birth_similarity(date(1980, 3, 1), date(1979, 3, 1)) == 0.8
    assert birth_similarity(date(1980, 3, 1), date(1978, 3, 1)) == 0.0
    assert birth_similarity(date(1980, 3, 1), date(1979, 3, 2)) == 0.0


def test_the_bands_never_contradict_the_order() -> None:
    """Candidates of several bands: every "certain" before every "likely" before every
    "possible", whatever their scores."""
    home = Address(street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg")
    index = index_of(
        customer("K-1", "Jürgen", "Müller", address=home),  # certain: name and address
        customer("K-2", "Jürgen", "Müllner", birth_date=date(1970, 1, 2), address=Address()),
        customer("K-3", "Jürgen", "Müller", address=Address(postcode="20095")),
        customer("K-4", "Jürgen", "Müller", email="jm@example.de", address=Address()),
    )
    lead = Customer(
        first_name="Jürgen",
        last_name="Müller",
        email="jm@example.de",
        birth_date=date(1970, 1, 2),
        address=home,
    )
    found = index.search(lead, ADDRESS)
    order = {ConfidenceBand.CERTAIN: 2, ConfidenceBand.LIKELY: 1, ConfidenceBand.POSSIBLE: 0}
    ranks = [order[c.band] for c in found]
    assert ranks == sorted(ranks, reverse=True)
    assert found[0].customer_number == "K-1"
    assert len({c.band for c in found}) > 1  # the order was tested across bands


def test_the_name_as_written_ranks_above_first_and_last_swapped() -> None:
    index = index_of(customer("K-1", "Frank", "Peters"), customer("K-2", "Peter", "Frank"))
    lead = Customer(first_name="Peter", last_name="Frank", address=Address(postcode="20095"))
    found = index.search(lead, ADDRESS)
    assert [c.customer_number for c in found][:2] == ["K-2", "K-1"]
    assert found[0].score > found[1].score


def test_namesakes_rank_by_how_near_their_birth_dates_are() -> None:
    born = date(1938, 10, 23)
    index = index_of(
        customer("K-1", "Ursula", "Schneider", birth_date=date(1997, 10, 23)),
        customer("K-2", "Ursula", "Schneider", birth_date=date(1939, 10, 23)),  # a year off
        customer("K-3", "Ursula", "Schneider", birth_date=date(1955, 2, 1)),
        customer("K-4", "Ursula", "Schneider"),  # no birth date: neither for nor against
    )
    lead = Customer(first_name="Ursula", last_name="Schneider", birth_date=born)
    found = index.search(lead, ADDRESS)
    assert [c.customer_number for c in found][:2] == ["K-2", "K-4"]


def test_a_disagreeing_birth_date_or_address_vetoes_certain() -> None:
    index = index_of(
        customer(
            "K-1",
            "Andreas",
            "Fischer",
            email="andreas.fischer10@gmail.com",
            birth_date=date(1982, 5, 1),
            address=Address(
                street="Lindenallee", house_number="3", postcode="80331", city="München"
            ),
        )
    )
    lead = Customer(
        first_name="Andreas",
        last_name="Fischer",
        email="andreas.fischer10@googlemail.com",
        birth_date=date(1997, 5, 1),
        address=Address(street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg"),
    )
    (by_mail,) = index.search(lead, [DuplicateCriterion.EMAIL])
    assert by_mail.band is ConfidenceBand.LIKELY
    agreeing = lead.model_copy(update={"birth_date": date(1982, 5, 1), "address": Address()})
    (sure,) = index.search(agreeing, [DuplicateCriterion.EMAIL])
    assert sure.band is ConfidenceBand.CERTAIN  # the same mail, nothing against it


def test_the_owner_of_the_lead_s_vin_is_a_candidate_and_evidence() -> None:
    elsewhere = Address(street="Parkweg", house_number="1", postcode="01067", city="Dresden")
    index = index_of(
        customer("K-1", "Sabine", "Krause", address=elsewhere),
        customer("K-2", "Sabine", "Berger", address=elsewhere),
    )
    married = Customer(first_name="Sabine", last_name="Neumann", address=Address(postcode="20095"))
    assert index.search(married, ADDRESS) == []  # no block brings either up
    (owner,) = index.search(married, ADDRESS, vehicle_owner="K-1")
    assert (owner.customer_number, owner.owns_vehicle) == ("K-1", True)
    assert owner.band is ConfidenceBand.LIKELY  # the given name and the car: her, likely
    # a company car's driver: the owner is shown, but as possible only
    driver = Customer(first_name="Heinz", last_name="Otto", address=Address(postcode="20095"))
    (company,) = index.search(driver, ADDRESS, vehicle_owner="K-1")
    assert (company.customer_number, company.band) == ("K-1", ConfidenceBand.POSSIBLE)
    typo = married.model_copy(update={"last_name": "Kraus"})
    found = index.search(typo, ADDRESS, vehicle_owner="K-1")
    assert (found[0].customer_number, found[0].band) == ("K-1", ConfidenceBand.LIKELY)
    without = {c.customer_number: c for c in index.search(typo, ADDRESS)}
    assert found[0].score > without["K-1"].score
    assert not without["K-1"].owns_vehicle
    assert index.search(married, ADDRESS, vehicle_owner="NOT-IN-THE-INDEX") == []


def thomas_muellers(count: int) -> list[Customer]:
    """Namesakes, each with a birth date, an address and a phone of their own."""
    return [
        customer(
            f"K-{i}",
            "Thomas",
            "Müller",
            birth_date=date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
            phone=f"+4940{5550000 + i}",
            address=Address(
                street=f"Weg {i}", house_number=str(i), postcode=f"{10000 + i * 7}", city="Ort"
            ),
        )
        for i in range(count)
    ]


def test_a_common_name_is_narrowed_never_dropped() -> None:
    many = thomas_muellers(60)
    index = index_of(*many)
    for wanted in many[::7]:
        assert wanted.birth_date is not None
        by_birth = Customer(first_name="Thomas", last_name="Müller", birth_date=wanted.birth_date)
        found = index.candidate_numbers(Normalised.of(by_birth))
        assert wanted.customer_number in found
        assert len(found) <= 5  # narrowed: not all sixty
        (best, *_) = index.search(by_birth, [DuplicateCriterion.BIRTH_DATE])
        assert best.customer_number == wanted.customer_number
        # a year off by one, another digit off, day and month swapped: still a candidate
        born = wanted.birth_date
        near = [born.replace(year=born.year + 1)]
        if born.day <= 12 and born.day != born.month:
            near.append(born.replace(month=born.day, day=born.month))
        for typed in near:
            typo = by_birth.model_copy(update={"birth_date": typed})
            assert wanted.customer_number in index.candidate_numbers(Normalised.of(typo))
        # no birth date, but the postcode or the phone
        at_home = Customer(
            first_name="Thomas",
            last_name="Mueller",
            address=Address(postcode=wanted.address.postcode),
        )
        assert wanted.customer_number in index.candidate_numbers(Normalised.of(at_home))
        by_phone = Customer(first_name="Thomas", last_name="Müller", phone=wanted.phone)
        assert wanted.customer_number in index.candidate_numbers(Normalised.of(by_phone))


def test_an_exact_name_and_birth_date_find_the_customer_among_namesakes_born_alike() -> None:
    # Petra Müller, 1971-05-26, beside thirty Petra Müllers born 1971 (the example of the issue)
    others = [
        customer(f"P-{i}", "Petra", "Müller", birth_date=date(1971, 1 + i % 12, 1 + i % 28))
        for i in range(30)
    ]
    wanted = customer("P-X", "Petra", "Müller", birth_date=date(1971, 6, 26))
    index = index_of(*others, wanted)
    typed = Customer(first_name="Petra", last_name="Müller", birth_date=date(1971, 5, 26))
    assert "P-X" in index.candidate_numbers(Normalised.of(typed))
    exact = typed.model_copy(update={"birth_date": date(1971, 6, 26)})
    (best, *_) = index.search(exact, [DuplicateCriterion.BIRTH_DATE])
    assert (best.customer_number, best.band) == ("P-X", ConfidenceBand.CERTAIN)


def test_a_household_at_a_crowded_postcode_is_found_by_street_and_house() -> None:
    crowd = [
        customer(
            f"K-{i}",
            f"Vorname{i}",
            f"Zzyzx{i}abc",
            address=Address(street=f"Weg {i}", house_number="5", postcode="20095", city="Hamburg"),
        )
        for i in range(25)
    ]
    household = [customer(f"H-{i}", f"Vorname{i}", f"Yyx{i}abc") for i in range(2)]
    index = index_of(*crowd, *household)
    at_home = Customer(
        first_name="Niemand",
        last_name="Unbekannt",
        address=Address(street="Hauptstr.", house_number="5", postcode="20095"),
    )
    assert index.candidate_numbers(Normalised.of(at_home)) == {"H-0", "H-1"}


def test_near_dates_are_the_ones_birth_similarity_calls_near() -> None:
    born = date(1971, 5, 26)
    near = near_dates(born)
    assert born in near
    assert {date(1971, 6, 26), date(1971, 5, 22), date(1970, 5, 26), date(1972, 5, 26)} <= set(near)
    assert all(birth_similarity(born, d) in (0.8, 1.0) for d in near)
    swapped = near_dates(date(1973, 4, 9))
    assert date(1973, 9, 4) in swapped


def test_narrowed_keys_go_with_their_customers() -> None:
    many = thomas_muellers(30)
    index = index_of(*many)
    assert len(index.blocks) > 30 * 4
    for c in many:
        index.remove(str(c.customer_number))
    assert not index.blocks


def test_a_shared_surname_does_not_carry_another_given_name() -> None:
    born = date(1938, 12, 30)
    index = index_of(customer("K-1", "Carla", "Falk", birth_date=born, address=Address()))
    (carla,) = index.search(
        Customer(first_name="Harald", last_name="Falk", birth_date=born),
        [DuplicateCriterion.BIRTH_DATE],
    )
    assert carla.band is not ConfidenceBand.CERTAIN  # a twin, or a spouse born the same day
    index.put(customer("K-2", "Hans-Bernd", "Falk", birth_date=born, address=Address()))
    found = index.search(
        Customer(first_name="Hans", last_name="Falk", birth_date=born),
        [DuplicateCriterion.BIRTH_DATE],
    )
    assert found[0].customer_number == "K-2"  # a given name held in the other ranks first
