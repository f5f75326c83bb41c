"""The in-memory search index over the customer master, and the duplicate search on it.

Exact keys first (normalised e-mail, E.164 phone, customer number), then candidates from a
union of blocking keys (Kölner code of each surname word, postcode, birth date, e-mail,
phone), never a full scan. A key value shared by more than ``too_common`` customers is not
dropped but narrowed: its customers are found through the key joined with a second,
selective value (a name with the birth date, birth year, postcode or phone; a postcode with
the street and house; a birth date, e-mail or phone with the given name). Candidates are
scored with rapidfuzz per field; a name match alone is never "certain".
"""

from __future__ import annotations

import functools
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from osb_contracts.matching import (
    ConfidenceBand,
    DuplicateCandidate,
    DuplicateCriterion,
    FieldComparison,
)
from osb_contracts.values import Address, Customer
from rapidfuzz import fuzz

from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain import normalise as n
from customer_matching.domain.fellegi_sunter import birth_similarity

TOO_COMMON = 20


@dataclass(frozen=True, slots=True)
class Normalised:
    """A customer's comparable form."""

    number: str | None
    surname: tuple[str, ...]
    given: tuple[str, ...]
    email: str | None
    phones: tuple[str, ...]  # a tuple: a frozenset of one costs 216 bytes a customer
    street: str
    house: str
    postcode: str | None
    city: str
    birth_date: date | None

    @property
    def full_name(self) -> str:
        return " ".join(self.given + self.surname)

    @classmethod
    def of(cls, customer: Customer) -> Normalised:
        country = customer.address.country or "DE"
        phones = {n.phone(p, country) for p in (customer.phone, customer.mobile)}
        postcode = n.postcode(customer.address.postcode)
        # Streets and places repeat across a million customers: one shared string each.
        return cls(
            number=customer.customer_number,
            surname=n.name_words(customer.last_name),
            given=n.name_words(customer.first_name),
            email=n.email(customer.email),
            phones=tuple(sorted(p for p in phones if p)),
            street=sys.intern(n.street(customer.address.street)),
            house=n.fold(customer.address.house_number or "").replace(" ", ""),
            postcode=sys.intern(postcode) if postcode else None,
            city=sys.intern(n.fold(customer.address.city or "")),
            birth_date=_DATES.setdefault(customer.birth_date, customer.birth_date)
            if customer.birth_date
            else None,
        )

    def narrowed(self, key: str, *, query: bool = False) -> list[str]:
        """``key`` joined with this customer's selective values, for when ``key`` alone is
        shared too widely. A query also asks for the near values its typos may hide behind
        (a birth year off by one, day and month swapped)."""
        kind = key.split(":", 1)[0]
        out: list[str] = []
        born = self.birth_date
        if kind in ("kp", "kpn"):
            if born:
                # near dates for the whole name, or for a name of one word: a single word
                # of a longer name (Thomas, Müller) is too common to try ninety dates of
                near = query and (kind == "kpn" or len(self.given + self.surname) == 1)
                dates = near_dates(born) if near else (born,)
                out += [f"{key}|dob:{d.isoformat()}" for d in dates]
                if kind == "kpn":
                    years = (born.year - 1, born.year, born.year + 1) if query else (born.year,)
                    out += [f"{key}|yob:{y}" for y in years]
            if self.postcode:
                out.append(f"{key}|plz:{self.postcode}")
            out += [f"{key}|tel:{p[-4:]}" for p in self.phones]
        elif kind == "plz":
            if self.street and self.house:
                out.append(f"{key}|at:{self.street}/{self.house}")
        elif kind in ("dob", "mail", "tel"):
            out += [f"{key}|kpg:{c}" for w in self.given[:1] if (c := n.koelner(w))]
        return out

    def blocking_keys(self) -> set[str]:
        # Kölner codes of every name word (first and last name may be swapped), and of the
        # whole name: common surnames are too common alone, rarely with the given name.
        codes = sorted({c for w in self.given + self.surname if (c := n.koelner(w))})
        keys = {f"kp:{c}" for c in codes}
        if len(codes) > 1:
            keys.add("kpn:" + " ".join(codes))
        if self.postcode:
            keys.add(f"plz:{self.postcode}")
            # A surname changed or garbled: the given name within the postcode still finds it.
            keys |= {f"kpg:{n.koelner(w)}/{self.postcode}" for w in self.given[:1]}
        if self.birth_date:
            keys.add(f"dob:{self.birth_date.isoformat()}")
        if self.email:
            keys.add(f"mail:{self.email}")
        keys |= {f"tel:{p}" for p in self.phones}
        return keys


_FIELDS = ("salutation", "title", "first_name", "last_name", "company", "email", "phone", "mobile")
_ADDRESS = ("street", "house_number", "postcode", "city", "country")
# Control characters: no contract string holds one (osb_contracts._base), so no value does.
_SEP, _NONE = "\x1f", "\x1e"


def _record(customer: Customer) -> bytes:
    """The master record without its number (kept once, in ``numbers``): its values in a
    fixed order between unit separators, a third the size of its JSON with the keys."""
    c, a = customer, customer.address
    values = (
        c.salutation, c.title, c.first_name, c.last_name, c.company, c.email, c.phone, c.mobile,
        c.birth_date.isoformat() if c.birth_date else None,
        a.street, a.house_number, a.postcode, a.city, a.country,
    )  # fmt: skip
    return _SEP.join(_NONE if v is None else v for v in values).encode()


def _from_record(record: bytes, number: str | None) -> Customer:
    values = [None if v == _NONE else v for v in record.decode().split(_SEP)]
    person = {f: v for f, v in zip(_FIELDS, values, strict=False) if v is not None}
    birth = values[len(_FIELDS)]
    address = {
        f: v for f, v in zip(_ADDRESS, values[len(_FIELDS) + 1 :], strict=True) if v is not None
    }
    # Values of a Customer validated when it was put: constructed, not validated again.
    return Customer.model_construct(
        None,
        customer_number=number,
        birth_date=date.fromisoformat(birth) if birth else None,
        address=Address.model_construct(None, **address),
        **person,
    )


_DATES: dict[date, date] = {}  # one object per birth date: 30,000 dates for a million people


@functools.lru_cache(maxsize=4096)
def near_dates(born: date) -> tuple[date, ...]:
    """The date and every date a form may have turned it into: one digit mistyped, two
    neighbouring digits swapped, day and month swapped, the year off by one (the birth
    dates ``birth_similarity`` calls near)."""
    digits = born.strftime("%Y%m%d")
    variants = {digits}
    for i in range(8):
        variants |= {digits[:i] + d + digits[i + 1 :] for d in "0123456789"}
        if i < 7:
            variants.add(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    variants.add(digits[:4] + digits[6:] + digits[4:6])
    variants |= {f"{born.year + y:04d}{digits[4:]}" for y in (-1, 1)}
    out = []
    for v in sorted(variants):
        try:
            out.append(date(int(v[:4]), int(v[4:6]), int(v[6:])))
        except ValueError:
            continue
    return tuple(out)


class _Common:
    """A blocking key shared by more customers than mean anything: their count (its
    customers are found by the narrowed keys); ``first``, until they have their narrowed
    keys, the members it had when it became too common."""

    __slots__ = ("count", "first")

    def __init__(self, count: int, first: tuple[int, ...] = ()) -> None:
        self.count, self.first = count, first


@dataclass
class CustomerIndex:
    """Compact: per customer its normalised form and its master record as bytes (turned
    back into a model only for the few candidates shown); a blocking key held by one
    customer stores that customer's slot, a set only from the second one on, and a count
    only once it is too common to be used (postcodes, birth dates, common name codes at a
    million customers). A key that became too common stays unused until the index is built
    again (on the next start), even if customers leave it.
    """

    too_common: int = TOO_COMMON
    slots: dict[str, int] = field(default_factory=dict)
    normalised: list[Normalised | None] = field(default_factory=list)
    records: list[bytes | None] = field(default_factory=list)
    numbers: list[str | None] = field(default_factory=list)
    free: list[int] = field(default_factory=list)
    # By the key's hash: an int is half the size of the key's text, and a collision (at 64
    # bits, not expected at a million customers) only adds candidates to be scored.
    blocks: dict[int, int | set[int] | _Common] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.slots)

    def get(self, number: str) -> Customer | None:
        slot = self.slots.get(number)
        return None if slot is None else self._customer(slot)

    def _customer(self, slot: int) -> Customer:
        record = self.records[slot]
        assert record is not None
        return _from_record(record, self.numbers[slot])

    def put(self, customer: Customer) -> None:
        number = customer.customer_number
        if number is None:
            raise ValueError("a master customer has a customer number")
        self.remove(number)
        norm = Normalised.of(customer)
        if self.free:
            slot = self.free.pop()
            self.normalised[slot], self.numbers[slot] = norm, number
            self.records[slot] = _record(customer)
        else:
            slot = len(self.numbers)
            self.normalised.append(norm)
            self.numbers.append(number)
            self.records.append(_record(customer))
        self.slots[number] = slot
        for key in norm.blocking_keys():
            members = self._add(hash(key), slot)
            if isinstance(members, _Common):
                # too common alone: this customer (and, the first time, those before) by
                # the narrowed keys; a narrowed key too common itself finds nobody
                for member in members.first or (slot,):
                    held = self.normalised[member]
                    assert held is not None
                    for narrow in held.narrowed(key):
                        self._add(hash(narrow), member)
                members.first = ()

    def _add(self, key: int, slot: int) -> int | set[int] | _Common:
        members = self.blocks.get(key)
        if members is None:
            self.blocks[key] = slot
        elif isinstance(members, int):
            self.blocks[key] = {members, slot}
        elif isinstance(members, _Common):
            members.count += 1
        elif len(members) >= self.too_common:
            members.add(slot)
            self.blocks[key] = _Common(len(members), tuple(members))
        else:
            members.add(slot)
        return self.blocks[key]

    def remove(self, number: str) -> None:
        slot = self.slots.pop(number, None)
        if slot is None:
            return
        old = self.normalised[slot]
        assert old is not None
        for key in old.blocking_keys():
            if isinstance(self.blocks.get(hash(key)), _Common):
                for narrow in old.narrowed(key):
                    self._remove(hash(narrow), slot)
            self._remove(hash(key), slot)
        self.normalised[slot] = self.records[slot] = self.numbers[slot] = None
        self.free.append(slot)

    def _remove(self, key: int, slot: int) -> None:
        members = self.blocks.get(key)
        if members == slot:
            del self.blocks[key]
        elif isinstance(members, _Common):
            members.count -= 1
            if members.count == 0:
                del self.blocks[key]
        elif isinstance(members, set):
            members.discard(slot)
            if len(members) == 1:
                self.blocks[key] = next(iter(members))

    def block(self, key: str) -> int | set[int] | _Common | None:
        """What the index holds for a blocking key: a slot, a set of slots or a count."""
        return self.blocks.get(hash(key))

    def candidates(self, query: Normalised) -> set[int]:
        """The union of the query's blocking keys; a key shared too widely by its narrowed
        keys instead."""
        found: set[int] = set()
        if query.number and query.number in self.slots:
            found.add(self.slots[query.number])
        for key in query.blocking_keys():
            members = self.blocks.get(hash(key))
            if isinstance(members, _Common):
                for narrow in query.narrowed(key, query=True):
                    narrowed = self.blocks.get(hash(narrow))
                    if isinstance(narrowed, int):
                        found.add(narrowed)
                    elif isinstance(narrowed, set):
                        found |= narrowed
            elif isinstance(members, int):
                found.add(members)
            elif isinstance(members, set):
                found |= members
        return found

    def candidate_numbers(self, query: Normalised) -> set[str]:
        return {str(self.numbers[slot]) for slot in self.candidates(query)}

    def search(
        self,
        customer: Customer,
        criteria: Iterable[DuplicateCriterion],
        limit: int = 10,
        scoring: Scoring | None = None,
        vehicle_owner: str | None = None,
    ) -> list[DuplicateCandidate]:
        """The candidates, best first: by band, then by score, then by how much evidence
        agrees, so a band never stands below a weaker one. ``vehicle_owner`` owns the
        lead's VIN in the vehicle master: a candidate whatever the blocks say, and evidence."""
        query = Normalised.of(customer)
        wanted = tuple(criteria)
        if scoring is not None:
            scoring.begin(query)
        slots = self.candidates(query)
        owner_slot = self.slots.get(vehicle_owner) if vehicle_owner else None
        if owner_slot is not None:
            slots.add(owner_slot)
        scored = []
        for slot in slots:
            norm = self.normalised[slot]
            assert norm is not None
            owns = slot == owner_slot
            found = (scoring.score if scoring else score)(query, norm, wanted, owns=owns)
            if found is not None:
                scored.append((found, str(self.numbers[slot]), slot, norm, owns))
        scored.sort(key=lambda s: (-BAND_ORDER[s[0].band], -s[0].total, -s[0].rank, s[1]))
        results = []
        for found, number, slot, norm, owns in scored[:limit]:
            master = self._customer(slot)
            results.append(
                DuplicateCandidate(
                    customer_number=number,
                    score=round(found.total, 4),
                    band=found.band,
                    fields=compare(customer, master, similarity(query, norm)),
                    master=master,
                    owns_vehicle=owns,
                )
            )
        return results


SWAPPED = 0.95  # first and last name swapped: still the name, a little less sure


def _words(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Two name parts: as written, or one holding the other ("Hans" in "Hans Bernd") a
    little less."""
    x, y = " ".join(a), " ".join(b)
    return max(fuzz.ratio(x, y), SWAPPED * fuzz.token_set_ratio(x, y)) / 100


def _both(given: float, surname: float) -> float:
    """Given name and surname together: the weaker part counts double, so a shared surname
    does not carry another given name (Harald and Carla Falk are two people)."""
    return min(given, surname) / 2 + (given + surname) / 4


def explain(
    index: CustomerIndex,
    customer: Customer,
    criteria: Iterable[DuplicateCriterion],
    numbers: Iterable[str],
    vehicle_owner: str | None = None,
) -> list[tuple[str, fs.Vector, float]]:
    """For candidates a search returned: each one's comparison vector and the rules' score,
    what the advisor's decision on them is compared against later."""
    query, wanted = Normalised.of(customer), tuple(criteria)
    out = []
    for number in numbers:
        slot = index.slots.get(number)
        norm = index.normalised[slot] if slot is not None else None
        if norm is None:
            continue  # gone from the master since
        rules = score(query, norm, wanted, owns=number == vehicle_owner)
        out.append((number, fs.vector(query, norm), rules.total if rules else 0.0))
    return out


def name_similarity(a: Normalised, b: Normalised) -> float:
    """Given name and surname compared part by part; first and last name swapped at
    ``SWAPPED`` ("Peter Frank" is not "Frank Peters" as surely as "Peter Frank" is); and,
    when the words are split differently, joined, so a name typed apart ("Ever Ett",
    "Thred Gold") or run together still meets its other half."""
    if not a.surname or not b.surname:
        return 0.0
    if not a.given or not b.given:
        return fuzz.ratio(" ".join(a.surname), " ".join(b.surname)) / 100 * 0.9
    in_order = _both(_words(a.given, b.given), _words(a.surname, b.surname))
    swapped = SWAPPED * _both(_words(a.given, b.surname), _words(a.surname, b.given))
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


BAND_ORDER = {ConfidenceBand.CERTAIN: 2, ConfidenceBand.LIKELY: 1, ConfidenceBand.POSSIBLE: 0}


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate's band, its score as shown, and ``rank``: the evidence summed (what
    agrees counts for, what disagrees against), which orders candidates of one score."""

    band: ConfidenceBand
    total: float
    rank: float = 0.0


def contradicted(evidence_of: Evidence) -> bool:
    """A birth date or an address that both sides give and that disagree: whatever else
    agrees (a name, even an e-mail address), not "certain"."""
    address = evidence_of[DuplicateCriterion.ADDRESS]
    return evidence_of[DuplicateCriterion.BIRTH_DATE] == 0.0 or (
        address is not None and address < ADDRESS_DISAGREES
    )


ADDRESS_DISAGREES = 0.5  # another street in another place; a moved house number is 0.8
# Owning the lead's VIN: a name this close, or the same given name, makes it "likely" (a
# married name, a typo)
VEHICLE_NAME = 0.6


def _same_given(a: Normalised, b: Normalised) -> bool:
    """The given name agrees (a married name keeps it)."""
    return bool(a.given and b.given) and _words(a.given, b.given) >= 0.9


def _rank(name: float, evidence_of: Evidence, owns: bool) -> float:
    present = [v for v in evidence_of.values() if v is not None]
    return name + sum(2 * v - 1 for v in present) + (1.0 if owns else 0.0)


def score(
    query: Normalised,
    master: Normalised,
    criteria: tuple[DuplicateCriterion, ...],
    *,
    owns: bool = False,
) -> Scored | None:
    """By rules: the band and the overall score; None when nothing matches. ``owns``: the
    master owns the lead's VIN."""
    name, evidence_of = evidence(query, master)
    number_match = bool(query.number and query.number == master.number)
    decisive = [v for c in criteria if (v := evidence_of[c]) is not None]
    supporting = [v for c, v in evidence_of.items() if c not in criteria and v is not None]
    best_decisive = max(decisive, default=0.0)
    best_supporting = max(supporting, default=0.0)
    person = any(
        evidence_of[c] == 1.0 for c in (DuplicateCriterion.BIRTH_DATE, DuplicateCriterion.EMAIL)
    )
    household = (evidence_of[DuplicateCriterion.ADDRESS] or 0.0) >= 0.75 or evidence_of[
        DuplicateCriterion.PHONE
    ] == 1.0
    total = 0.55 * name + 0.35 * best_decisive + 0.10 * best_supporting
    if person and household:
        total = max(total, 0.7 + 0.3 * name)
    if number_match:
        total = max(total, 0.99)
    # Evidence of the person (birth date, own e-mail) and of the household (address, phone)
    # together identify someone even under a changed or misspelt name; a household alone
    # (spouses share address and phone) does not.
    if owns:
        total += 0.15
    if (number_match and name >= 0.6) or (
        not contradicted(evidence_of)
        and ((name >= 0.85 and best_decisive >= 0.95) or (person and household and name >= 0.5))
    ):
        band = ConfidenceBand.CERTAIN
    elif (
        (name >= 0.8 and (best_decisive >= 0.75 or best_supporting >= 0.95))
        or (person and household)
        or (name >= 0.85 and best_decisive >= 0.95)
        or (owns and (name >= VEHICLE_NAME or _same_given(query, master)))
    ):
        band = ConfidenceBand.LIKELY
    elif name >= 0.75 or best_decisive >= 0.95 or owns:
        band = ConfidenceBand.POSSIBLE  # a name alone is at most possible
    else:
        return None
    return Scored(band, min(total, 1.0), _rank(name, evidence_of, owns))


CRITERION_FIELDS = {
    DuplicateCriterion.ADDRESS: frozenset({"street", "house", "postcode", "place"}),
    DuplicateCriterion.PHONE: frozenset({"phone"}),
    DuplicateCriterion.EMAIL: frozenset({"email"}),
    DuplicateCriterion.BIRTH_DATE: frozenset({"birth"}),
}


@functools.cache
def _deciding(criteria: tuple[DuplicateCriterion, ...]) -> frozenset[str]:
    """The model's fields behind a branch's duplicate criteria."""
    return frozenset().union(*(CRITERION_FIELDS[c] for c in criteria))


# log2 of the odds a VIN's owner adds: a vehicle is the customer's own most of the time, a
# company's or a relative's sometimes; far less than a VIN's uniqueness alone would give
VEHICLE_WEIGHT = 6.0


@dataclass
class Scoring:
    """How the search bands its candidates: by the learned Fellegi-Sunter model once there
    is one, by the rules until then. Either way every candidate pair's comparison vector is
    counted in ``observed``, the data the next model is estimated from.

    With the model, a pair's match probability decides, and the domain rules stay on top:
    "certain" needs the branch's deciding fields and the person (not only the household)
    to speak for the match, "likely" some field besides the name; a name alone is at most
    "possible"; the same customer number is "certain".
    """

    model: fs.Model | None = None
    observed: Counter[fs.Vector] = field(default_factory=Counter)
    # Bands by the pair's match probability (its weight with the share of matches as prior).
    certain_from: float = 0.999
    likely_from: float = 0.5
    possible_from: float = 0.01
    # A lead searched again (the advisor opens it twice) counts once: the last queries seen.
    remember: int = 10_000
    _recent: dict[Normalised, None] = field(default_factory=dict, repr=False)
    _counting: bool = field(default=True, repr=False)

    def begin(self, query: Normalised) -> None:
        """A search starts: its pairs are counted unless the same query came lately."""
        self._counting = query not in self._recent
        self._recent.pop(query, None)
        self._recent[query] = None
        if len(self._recent) > self.remember:
            del self._recent[next(iter(self._recent))]

    def score(
        self,
        query: Normalised,
        master: Normalised,
        criteria: tuple[DuplicateCriterion, ...],
        *,
        owns: bool = False,
    ) -> Scored | None:
        if self._counting or self.model is not None:
            vector = fs.vector(query, master)
        if self._counting:
            self.observed[vector] += 1
        if self.model is None:
            return score(query, master, criteria, owns=owns)
        weights = self.model.field_weights(vector)
        total = sum(weights.values()) + (VEHICLE_WEIGHT if owns else 0.0)
        probability = self.model.probability(total)
        deciding = _deciding(criteria)
        decided = sum(w for f, w in weights.items() if f in deciding)
        besides_name = sum(w for f, w in weights.items() if f not in fs.NAME_FIELDS)
        # The person, not only the household (spouses share surname, address and phone):
        # the first name, or a birth date or e-mail address of one's own, speaks for it.
        person = any(weights.get(f, 0.0) > 0 for f in ("given", "swapped", "birth", "email"))
        same_number = bool(query.number and query.number == master.number)
        certain = probability >= self.certain_from and decided > 0 and person
        if same_number or (certain and not contradicted(evidence(query, master)[1])):
            band = ConfidenceBand.CERTAIN
        elif (
            (probability >= self.likely_from and besides_name > 0)
            or certain
            or (owns and any(weights.get(f, 0.0) > 0 for f in fs.NAME_FIELDS))
        ):
            band = ConfidenceBand.LIKELY
        elif probability >= self.possible_from or total - besides_name > 0 or owns:
            band = ConfidenceBand.POSSIBLE
        else:
            return None
        # the weight orders what the probability rounds to one
        return Scored(band, probability, total)


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
