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

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from osb_contracts.matching import (
    DuplicateCandidate,
    DuplicateCriterion,
)
from osb_contracts.values import Address, Customer

from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.records import Normalised
from customer_matching.domain.scoring import BAND_ORDER, Scoring, score
from customer_matching.domain.similarity import compare, similarity

__all__ = ["TOO_COMMON", "CustomerIndex", "Normalised", "Scoring", "explain"]

TOO_COMMON = 20


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
