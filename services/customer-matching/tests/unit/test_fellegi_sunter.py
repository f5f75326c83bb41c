from __future__ import annotations

import random
from collections import Counter
from datetime import date
from math import log2

import pytest
from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.index import CustomerIndex, Normalised, Scoring
from osb_contracts.matching import ConfidenceBand, DuplicateCandidate, DuplicateCriterion
from osb_contracts.values import Address, Customer

HOME = Address(street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg")


def norm(first: str | None, last: str, **kw: object) -> Normalised:
    return Normalised.of(
        Customer.model_validate({"first_name": first, "last_name": last, "address": HOME, **kw})
    )


def levels(vector: fs.Vector) -> dict[str, str]:
    return dict(zip(fs.FIELDS, vector.split("."), strict=True))


def test_the_same_customer_agrees_in_every_field_given() -> None:
    a = norm("Jürgen", "Müller", birth_date=date(1970, 1, 2), email="j@example.de")
    assert levels(fs.vector(a, a)) == {
        "given": "0", "surname": "0", "swapped": "0", "birth": "0", "street": "0",
        "house": "0", "postcode": "0", "place": "0", "email": "0", "phone": "n",
    }  # fmt: skip


def test_a_value_missing_on_either_side_is_its_own_level() -> None:
    a = norm(None, "Müller")
    b = norm("Jürgen", "Müller", birth_date=date(1970, 1, 2))
    got = levels(fs.vector(a, b))
    assert (got["given"], got["swapped"], got["birth"], got["email"]) == ("n", "n", "n", "n")


def test_names_swapped_and_street_words_reordered_are_seen() -> None:
    a = norm("Jürgen", "Müller", address=Address(street="Am Markt Altstadt", postcode="20095"))
    b = norm("Müller", "Jürgen", address=Address(street="Altstadt Am Markt", postcode="20095"))
    got = levels(fs.vector(a, b))
    assert (got["swapped"], got["street"]) == ("1", "0")


def test_a_birth_date_mistyped_is_near_and_another_is_other() -> None:
    a = norm("Eva", "Berg", birth_date=date(1973, 4, 16))
    near = norm("Eva", "Berg", birth_date=date(1937, 4, 16))
    other = norm("Eva", "Berg", birth_date=date(1981, 2, 3))
    assert levels(fs.vector(a, near))["birth"] == "1"
    assert levels(fs.vector(a, other))["birth"] == "2"


# A known mixture: 10 % matches agreeing per field with probability 0.9, non-matches with
# 0.2 (the postcode, shared by blocking, with 0.6). EM without labels must find it back.
TRUE_M = {f: 0.9 for f in fs.FIELDS}
TRUE_U = {f: 0.2 for f in fs.FIELDS} | {"postcode": 0.6}


def mixture(pairs: int, seed: int = 1) -> Counter[fs.Vector]:
    rng = random.Random(seed)
    counts: Counter[fs.Vector] = Counter()
    for _ in range(pairs):
        p = TRUE_M if rng.random() < 0.1 else TRUE_U
        counts[".".join("0" if rng.random() < p[f] else "1" for f in fs.FIELDS)] += 1
    return counts


def test_em_finds_the_weights_of_a_known_mixture_without_labels() -> None:
    model = fs.estimate(mixture(40_000))
    assert model.share == pytest.approx(0.1, abs=0.01)
    for f in fs.FIELDS:
        agree, disagree = log2(TRUE_M[f] / TRUE_U[f]), log2(0.1 / (1 - TRUE_U[f]))
        assert model.weights[f]["0"] == pytest.approx(agree, abs=0.15), f
        assert model.weights[f]["1"] == pytest.approx(disagree, abs=0.25), f


def test_a_closer_level_never_weighs_less_than_a_farther_one() -> None:
    """Matches with a typo in the surname as often as without, non-matches rarely with
    one typo: EM alone weighs the typo above agreement. Names agreeing crosswise are rare
    among non-matches."""
    rng = random.Random(3)
    counts: Counter[fs.Vector] = Counter()
    for _ in range(20_000):
        same = rng.random() < 0.1
        levels_ = ["0" if rng.random() < (0.9 if same else 0.2) else "1" for _ in fs.FIELDS]
        draw = rng.random()
        if same:
            surname = "0" if draw < 0.5 else "1" if draw < 0.95 else "2"
        else:
            surname = "0" if draw < 0.3 else "1" if draw < 0.35 else "2"
        levels_[fs.FIELDS.index("surname")] = surname
        crosswise = rng.random() < (0.3 if same else 0.01)
        levels_[fs.FIELDS.index("swapped")] = "1" if crosswise else "0"
        counts[".".join(levels_)] += 1
    model = fs.estimate(counts)
    weights = model.weights["surname"]
    assert weights["0"] > 0
    assert weights["2"] < 0
    assert weights["1"] == weights["0"]  # capped at what agreement weighs, not above it
    # "swapped" is no scale: its 1 (the names agree crosswise) keeps what EM gave it
    assert model.weights["swapped"]["1"] > 2 > 0 > model.weights["swapped"]["0"]


def test_a_field_never_seen_weighs_its_prior_and_a_seen_one_its_estimate() -> None:
    """A source without e-mail addresses (FEBRL) leaves them unestimated: agreement gets
    the prior, a difference nothing; the telephone, seen, keeps what EM found."""
    email = fs.FIELDS.index("email")
    counts = Counter(
        {".".join("n" if f == email else lv for f, lv in enumerate(v.split("."))): n
         for v, n in mixture(20_000).items()}
    )  # fmt: skip
    model = fs.estimate(counts)
    assert model.weights["email"] == fs.UNSEEN["email"]
    assert model.weight("n.n.n.n.n.n.n.n.0.n") == fs.UNSEEN["email"]["0"]
    assert model.weight("n.n.n.n.n.n.n.n.1.n") == 0.0
    phone = model.weights["phone"]  # EM's: for agreement, against a difference
    assert phone["0"] > 0 > phone["1"]
    assert phone["0"] != fs.UNSEEN["phone"]["0"]


def test_too_few_pairs_or_no_matches_among_them_give_no_model() -> None:
    with pytest.raises(fs.NotEstimableError, match="needed"):
        fs.estimate(mixture(500), min_pairs=1_000)
    everyone_differs = Counter({".".join("1" for _ in fs.FIELDS): 5_000})
    with pytest.raises(fs.NotEstimableError):
        fs.estimate(everyone_differs)


def test_a_model_survives_its_json() -> None:
    model = fs.estimate(mixture(5_000))
    again = fs.Model.from_json(model.to_json())
    assert again == model
    vector = "0.0.0.n.1.0.0.0.n.n"
    assert again.weight(vector) == model.weight(vector)


def test_a_missing_value_weighs_nothing() -> None:
    model = fs.estimate(mixture(5_000))
    assert model.weight("n.n.n.n.n.n.n.n.n.n") == 0.0
    assert model.field_weights("0.n.n.n.n.n.n.n.n.n") == {"given": model.weights["given"]["0"]}


# Hand-set weights for the banding rules; the prior (share 1 %) is about -6.6.
WEIGHTS = {
    "given": {"0": 8.0, "1": 4.0, "2": -2.0, "3": -4.0},
    "surname": {"0": 8.0, "1": 4.0, "2": -2.0, "3": -4.0},
    "swapped": {"0": 0.0, "1": 4.0},
    "birth": {"0": 6.0, "1": 1.0, "2": -6.0},
    "street": {"0": 5.0, "1": 3.0, "2": 0.0, "3": -3.0},
    "house": {"0": 2.0, "1": -2.0},
    "postcode": {"0": 1.0, "1": 0.0, "2": -3.0},
    "place": {"0": 1.0, "1": 0.0, "2": -3.0},
    "email": {"0": 8.0, "1": -4.0},
    "phone": {"0": 5.0, "1": -1.0},
}
MODEL = fs.Model(weights=WEIGHTS, share=0.01, pairs=1)


def master(**kw: object) -> Customer:
    return Customer.model_validate(
        {"customer_number": "K-1", "first_name": "Jürgen", "last_name": "Müller", **kw}
    )


def best_of(
    master: Customer, lead: Customer, criteria: list[DuplicateCriterion], model: fs.Model = MODEL
) -> DuplicateCandidate:
    index = CustomerIndex()
    index.put(master)
    scoring = Scoring(model=model)
    (best,) = index.search(lead, criteria, scoring=scoring)
    assert sum(scoring.observed.values()) == 1  # counted for the next estimate
    return best


def test_with_a_model_a_name_alone_is_at_most_possible_however_much_it_weighs() -> None:
    heavy = fs.Model(
        weights=WEIGHTS | {"given": {"0": 40.0}, "surname": {"0": 40.0}}, share=0.01, pairs=1
    )
    lead = Customer(first_name="Jürgen", last_name="Müller", email="a@example.de")
    best = best_of(master(email="b@example.de"), lead, [DuplicateCriterion.EMAIL], heavy)
    assert best.score > 0.999
    assert best.band is ConfidenceBand.POSSIBLE


def test_with_a_model_the_branch_criterion_decides_what_is_certain() -> None:
    # Names +16, birth date +6, e-mail -4: 18 in all, a probability above 0.999.
    known = master(email="eva@example.de", birth_date=date(1980, 5, 1))
    lead = Customer(
        first_name="Jürgen",
        last_name="Müller",
        email="other@example.de",
        birth_date=date(1980, 5, 1),
    )
    assert best_of(known, lead, [DuplicateCriterion.BIRTH_DATE]).band is ConfidenceBand.CERTAIN
    assert best_of(known, lead, [DuplicateCriterion.EMAIL]).band is ConfidenceBand.LIKELY


def test_with_a_model_a_household_member_is_not_certain() -> None:
    # Surname +8, street +5, house +2, postcode +1, place +1, phone +5, first name -4: 18.
    home = {"address": HOME, "phone": "+4940123456"}
    lead = Customer(first_name="Hildegard", last_name="Müller", **home)
    spouse = best_of(master(**home), lead, [DuplicateCriterion.ADDRESS])
    assert spouse.score > 0.999
    assert spouse.band is ConfidenceBand.LIKELY
    himself = Customer(first_name="Jürgen", last_name="Müller", **home)
    assert best_of(master(**home), himself, [DuplicateCriterion.ADDRESS]).band is (
        ConfidenceBand.CERTAIN
    )


def test_with_a_model_the_score_is_the_match_probability() -> None:
    # Names +16, e-mail -4: 12, with the prior about 5.4 in log2 odds.
    lead = Customer(first_name="Jürgen", last_name="Müller", email="a@example.de")
    best = best_of(master(email="b@example.de"), lead, [DuplicateCriterion.EMAIL])
    assert best.score == pytest.approx(MODEL.probability(12.0), abs=1e-4)
    assert 0.95 < best.score < 0.99


def test_with_a_model_the_same_customer_number_is_certain() -> None:
    lead = Customer(customer_number="K-1", first_name="Georg", last_name="Maier")
    best = best_of(master(), lead, [DuplicateCriterion.ADDRESS])
    assert best.band is ConfidenceBand.CERTAIN


def test_without_a_model_the_rules_band_and_the_pairs_are_counted() -> None:
    index = CustomerIndex()
    index.put(master(address=HOME))
    scoring = Scoring()
    lead = Customer(first_name="Juergen", last_name="Mueller", address=HOME)
    (best,) = index.search(lead, [DuplicateCriterion.ADDRESS], scoring=scoring)
    assert best.band is ConfidenceBand.CERTAIN
    assert best.score == index.search(lead, [DuplicateCriterion.ADDRESS])[0].score
    assert scoring.observed == Counter(
        {fs.vector(Normalised.of(lead), Normalised.of(master(address=HOME))): 1}
    )


def test_a_lead_searched_again_is_counted_once() -> None:
    index = CustomerIndex()
    index.put(master(address=HOME))
    index.put(master(customer_number="K-2", first_name="Hildegard", address=HOME))
    scoring = Scoring(remember=2)
    lead = Customer(first_name="Juergen", last_name="Mueller", address=HOME)
    other = Customer(first_name="Hilde", last_name="Müller", address=HOME)
    for query in (lead, lead, other, lead):
        index.search(query, [DuplicateCriterion.ADDRESS], scoring=scoring)
    assert sum(scoring.observed.values()) == 4  # two searches, two candidates each
    third = Customer(first_name="Karl", last_name="Müller", address=HOME)
    index.search(third, [DuplicateCriterion.ADDRESS], scoring=scoring)
    index.search(lead, [DuplicateCriterion.ADDRESS], scoring=scoring)
    assert sum(scoring.observed.values()) == 6  # third is new; lead is still remembered
    index.search(other, [DuplicateCriterion.ADDRESS], scoring=scoring)
    assert sum(scoring.observed.values()) == 8  # it remembers two: other was forgotten


def moved(**kw: object) -> dict[str, object]:
    return {"address": Address(**{**HOME.model_dump(), **kw})}


@pytest.mark.parametrize(
    ("given", "level"),
    [("Anna", "0"), ("Hanna", "1"), ("Anne", "2"), ("Peter", "3")],  # Jaro-Winkler .93, .88
)
def test_names_fall_into_bands_of_similarity(given: str, level: str) -> None:
    assert levels(fs.vector(norm("Anna", "Müller"), norm(given, "Müller")))["given"] == level


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (moved(street="Hauptstrase"), {"street": "1"}),
        (moved(street="Hafenstraße"), {"street": "2"}),
        (moved(street="Am Markt"), {"street": "3"}),
        (moved(city="Hambur", postcode="20096"), {"postcode": "1", "place": "1"}),
        (
            moved(city="Bremen", postcode="20059", house_number="7"),
            {"postcode": "2", "place": "2", "house": "1"},
        ),
        (
            moved(street=None, house_number=None, postcode=None, city=None),
            {"street": "n", "house": "n", "postcode": "n", "place": "n"},
        ),
    ],
)
def test_address_fields_fall_into_their_levels(
    address: dict[str, object], expected: dict[str, str]
) -> None:
    agreeing = dict.fromkeys(("street", "house", "postcode", "place"), "0")
    got = levels(fs.vector(norm("Anna", "Müller"), norm("Anna", "Müller", **address)))
    assert {f: got[f] for f in agreeing} == agreeing | expected
    other_way = levels(fs.vector(norm("Anna", "Müller", **address), norm("Anna", "Müller")))
    assert {f: other_way[f] for f in agreeing} == agreeing | expected


def test_given_name_and_surname_swapped_is_its_own_field() -> None:
    got = levels(fs.vector(norm("Johanna", "Müller"), norm("Müller", "Johanna")))
    assert (got["given"], got["surname"], got["swapped"]) == ("3", "3", "1")
    only_one_near = levels(fs.vector(norm("Johanna", "Müller"), norm("Müller", "Peters")))
    assert only_one_near["swapped"] == "0"


def test_phones_agree_when_any_number_is_shared() -> None:
    a = norm("Anna", "Müller", phone="+494012345678", mobile="+4917612345678")
    b = norm("Anna", "Müller", mobile="+494012345678")
    c = norm("Anna", "Müller", phone="+494099999999")
    assert levels(fs.vector(a, b))["phone"] == "0"
    assert levels(fs.vector(a, c))["phone"] == "1"
    assert levels(fs.vector(norm("Anna", "Müller"), c))["phone"] == "n"


def test_an_unseen_level_weighs_nothing_and_the_prior_is_the_share() -> None:
    model = fs.Model(weights={f: {"0": 1.0} for f in fs.FIELDS}, share=0.2, pairs=10)
    assert model.field_weights("0.1.n.n.n.n.n.n.n.n") == {"given": 1.0, "surname": 0.0}
    assert model.probability(0.0) == pytest.approx(0.2)  # no evidence: the prior
    assert model.probability(2.0) == pytest.approx(0.5)  # 4:1 against, then 4:1 for
    assert fs.Model(weights={}, share=0.5, pairs=1).probability(1.0) == pytest.approx(2 / 3)


def test_one_round_of_em_by_hand() -> None:
    """Two pairs, given name and surname only: one agreeing in both, one in neither.
    The start: m(0) = 0.7, m(1) = 0.3, u uniform, a share of 0.05; smoothing 0.001."""
    counts = {"0.0.n.n.n.n.n.n.n.n": 1, "1.1.n.n.n.n.n.n.n.n": 1}
    model = fs.estimate(counts, rounds=1)
    # E step: the probability of a match per pair
    agree = 0.05 * 0.7 * 0.7 / (0.05 * 0.7 * 0.7 + 0.95 * 0.5 * 0.5)
    differ = 0.05 * 0.3 * 0.3 / (0.05 * 0.3 * 0.3 + 0.95 * 0.5 * 0.5)
    # M step, smoothed over the two levels seen
    m0 = (agree + 0.001) / (agree + differ + 0.002)
    m1 = (differ + 0.001) / (agree + differ + 0.002)
    u0 = (1 - agree + 0.001) / (2 - agree - differ + 0.002)
    u1 = (1 - differ + 0.001) / (2 - agree - differ + 0.002)
    assert model.share == pytest.approx((agree + differ) / 2, rel=1e-12)
    for field in ("given", "surname"):
        assert model.weights[field] == pytest.approx(
            {"0": log2(m0 / u0), "1": log2(m1 / u1)}, rel=1e-12
        )
    assert model.weights["birth"] == {}
    assert model.pairs == 2


def test_labelled_pairs_count_where_the_advisor_put_them() -> None:
    """Non-matches that agree in the e-mail address (a family's shared one), labelled as
    such, pull the e-mail's weight down; unlabelled, EM takes them for matches."""
    counts = mixture(20_000)
    shared_mail = ".".join("0" if f == "email" else "1" for f in fs.FIELDS)
    plain = fs.estimate(counts)
    taught = fs.estimate(counts, labelled={(shared_mail, False): 2_000})
    assert taught.weights["email"]["0"] < plain.weights["email"]["0"] - 0.3
    assert taught.share == pytest.approx(plain.share, abs=0.01)  # labels leave the prior
    alike = ".".join("0" for _ in fs.FIELDS)
    same = fs.estimate(counts, labelled={(alike, True): 2_000})
    assert same.weights["email"]["0"] > plain.weights["email"]["0"]
