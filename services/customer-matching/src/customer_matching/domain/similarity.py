"""How alike two customers are, field by field: the name (parts, swaps, split words), the
address, the birth date (slips count as partial agreement), e-mail and phone; and the
comparison the advisor's dialog shows."""

from __future__ import annotations

from datetime import date

from osb_contracts.matching import DuplicateCriterion, FieldComparison
from osb_contracts.values import Customer
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from customer_matching.domain.records import Normalised


def birth_similarity(a: date | None, b: date | None) -> float | None:
    """1.0 the same day; 0.8 for one mistyped or two swapped digits, day and month swapped,
    or the year off by one (1979 for 1980: two digits, one slip); else 0.0. Only the same
    day counts as proof."""
    if a is None or b is None:
        return None
    if a == b:
        return 1.0
    digits_a, digits_b = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    if (
        OSA.distance(digits_a, digits_b) == 1
        or (a.year, a.month, a.day) == (b.year, b.day, b.month)
        or (abs(a.year - b.year) == 1 and (a.month, a.day) == (b.month, b.day))
    ):
        return 0.8
    return 0.0


SWAPPED = 0.95  # first and last name swapped: still the name, a little less sure


def part_similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Two name parts: as written, or one holding the other ("Hans" in "Hans Bernd") a
    little less."""
    x, y = " ".join(a), " ".join(b)
    return max(fuzz.ratio(x, y), SWAPPED * fuzz.token_set_ratio(x, y)) / 100


def _both(given: float, surname: float) -> float:
    """Given name and surname together: the weaker part counts double, so a shared surname
    does not carry another given name (Harald and Carla Falk are two people)."""
    return min(given, surname) / 2 + (given + surname) / 4


def name_similarity(a: Normalised, b: Normalised) -> float:
    """Given name and surname compared part by part; first and last name swapped at
    ``SWAPPED`` ("Peter Frank" is not "Frank Peters" as surely as "Peter Frank" is); and,
    when the words are split differently, joined, so a name typed apart ("Ever Ett",
    "Thred Gold") or run together still meets its other half."""
    if not a.surname or not b.surname:
        return 0.0
    if not a.given or not b.given:
        return fuzz.ratio(" ".join(a.surname), " ".join(b.surname)) / 100 * 0.9
    in_order = _both(part_similarity(a.given, b.given), part_similarity(a.surname, b.surname))
    swapped = SWAPPED * _both(
        part_similarity(a.given, b.surname), part_similarity(a.surname, b.given)
    )
    best = max(in_order, swapped)
    if (len(a.given), len(a.surname)) != (len(b.given), len(b.surname)):
        given_first = "".join(b.given + b.surname)
        joined = fuzz.ratio("".join(a.given + a.surname), given_first) / 100
        joined_swapped = fuzz.ratio("".join(a.surname + a.given), given_first) / 100
        any_order = fuzz.token_sort_ratio(a.full_name, b.full_name) / 100
        best = max(best, joined, SWAPPED * max(joined_swapped, any_order))
    return best


def address_similarity(a: Normalised, b: Normalised) -> float | None:
    if not (a.street or a.postcode) or not (b.street or b.postcode):
        return None
    street = fuzz.ratio(a.street, b.street) / 100 if a.street and b.street else 0.5
    house = 1.0 if a.house and a.house == b.house else (0.5 if not a.house or not b.house else 0.0)
    place = (
        1.0
        if a.postcode and a.postcode == b.postcode
        else (fuzz.ratio(a.city, b.city) / 100 if a.city and b.city else 0.5)
    )
    return 0.5 * street + 0.2 * house + 0.3 * place


def _exact(a: object, b: object) -> float | None:
    if not a or not b:
        return None
    return 1.0 if a == b else 0.0


Evidence = dict[DuplicateCriterion, float | None]


def evidence(query: Normalised, master: Normalised) -> tuple[float, Evidence]:
    """The name's similarity, and each other field's (None where a side lacks it)."""
    return name_similarity(query, master), {
        DuplicateCriterion.ADDRESS: address_similarity(query, master),
        DuplicateCriterion.EMAIL: _exact(query.email, master.email),
        DuplicateCriterion.PHONE: (
            (1.0 if any(p in master.phones for p in query.phones) else 0.0)
            if query.phones and master.phones
            else None
        ),
        DuplicateCriterion.BIRTH_DATE: birth_similarity(query.birth_date, master.birth_date),
    }


def similarity(query: Normalised, master: Normalised) -> dict[str, float]:
    """Each field's similarity as the advisor's screen shows it."""
    name, other = evidence(query, master)
    return {"name": name} | {c.value.lower(): v or 0.0 for c, v in other.items()}


def compare(
    lead: Customer, master: Customer, similarity: dict[str, float]
) -> tuple[FieldComparison, ...]:
    """Field by field, as the advisor reads them: the values as written, and how alike."""

    def name(c: Customer) -> str | None:
        return " ".join(p for p in (c.title, c.first_name, c.last_name) if p) or None

    def address(c: Customer) -> str | None:
        a = c.address
        line = " ".join(p for p in (a.street, a.house_number) if p)
        place = " ".join(p for p in (a.postcode, a.city) if p)
        return ", ".join(p for p in (line, place) if p) or None

    def phones(c: Customer) -> str | None:
        return ", ".join(p for p in (c.phone, c.mobile) if p) or None

    def birth(c: Customer) -> str | None:
        return c.birth_date.isoformat() if c.birth_date else None

    rows = [
        ("name", name),
        ("address", address),
        ("email", lambda c: c.email),
        ("phone", phones),
        ("birth_date", birth),
    ]
    return tuple(
        FieldComparison(
            field=field_name,
            lead_value=get(lead),
            master_value=get(master),
            similarity=round(similarity.get(field_name, 0.0), 4),
        )
        for field_name, get in rows
    )
