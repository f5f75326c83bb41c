"""The duplicate search's bands: the rules, or the learned Fellegi-Sunter model when there
is one, held to the rules' vetoes (a disagreeing birth date or address is never "certain")."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

from osb_contracts.matching import ConfidenceBand, DuplicateCriterion

from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.records import Normalised
from customer_matching.domain.similarity import Evidence, evidence, part_similarity

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
    return bool(a.given and b.given) and part_similarity(a.given, b.given) >= 0.9


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
