"""Fellegi-Sunter weights for the duplicate search, learned without labels.

Every candidate pair the blocking keys bring up becomes a comparison vector: per field an
agreement level (names by Jaro-Winkler, birth date, street, house number, postcode, place,
e-mail, phone), or missing when either side lacks the value. Expectation-maximisation over
the vectors of the searches' own candidates (a mixture of matches and non-matches with
fields conditionally independent) estimates, per field and level, m = P(level | same
customer) and u = P(level | different customers); a pair's weight is the sum of log2(m/u)
over its fields. A missing value weighs nothing either way.

Only counts of vectors are kept (no names or addresses), so the training data stays small
(at most one row per combination of levels) and every instance can share it through the
database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein

from customer_matching.domain.records import Normalised
from customer_matching.domain.similarity import birth_similarity

FIELDS = (
    "given", "surname", "swapped", "birth", "street", "house", "postcode", "place", "email",
    "phone",
)  # fmt: skip
NAME_FIELDS = frozenset({"given", "surname", "swapped"})
# fields whose levels go from agreement ("0") to ever less; "swapped" is 1 when the names
# agree crosswise, no scale
GRADED = frozenset(FIELDS) - {"swapped"}
MISSING = "n"
Vector = str  # the levels joined by ".", e.g. "0.0.0.n.1.0.0.0.n.n"


def _band(value: float, cuts: Sequence[float]) -> str:
    return str(next((i for i, cut in enumerate(cuts) if value >= cut), len(cuts)))


def _names(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    if not (a and b):
        return MISSING
    return _band(JaroWinkler.similarity(" ".join(a), " ".join(b)), (0.97, 0.9, 0.75))


def _same(a: object, b: object) -> str:
    return MISSING if not (a and b) else "0" if a == b else "1"


def vector(q: Normalised, m: Normalised) -> Vector:
    """The pair's agreement level per field; level 0 is the closest agreement."""
    swapped = (
        MISSING
        if not (q.given and q.surname and m.given and m.surname)
        else str(
            int(
                JaroWinkler.similarity(" ".join(q.given), " ".join(m.surname)) > 0.9
                and JaroWinkler.similarity(" ".join(q.surname), " ".join(m.given)) > 0.9
            )
        )
    )
    near = birth_similarity(q.birth_date, m.birth_date)
    birth = MISSING if near is None else "0" if near == 1 else "1" if near > 0 else "2"
    street = (
        _band(fuzz.token_sort_ratio(q.street, m.street) / 100, (0.95, 0.8, 0.6))
        if q.street and m.street
        else MISSING
    )
    if not (q.postcode and m.postcode):
        postcode = MISSING
    elif q.postcode == m.postcode:
        postcode = "0"
    else:
        postcode = "1" if Levenshtein.distance(q.postcode, m.postcode) == 1 else "2"
    place = _band(fuzz.ratio(q.city, m.city) / 100, (0.95, 0.8)) if q.city and m.city else MISSING
    phone = (
        MISSING
        if not (q.phones and m.phones)
        else "0"
        if any(p in m.phones for p in q.phones)
        else "1"
    )
    return ".".join(
        (
            _names(q.given, m.given),
            _names(q.surname, m.surname),
            swapped,
            birth,
            street,
            _same(q.house, m.house),
            postcode,
            place,
            _same(q.email, m.email),
            phone,
        )
    )


# A field the searches never showed (a source without e-mail addresses or telephone numbers)
# has no estimate. Left weightless, a namesake in the same street would outrank a customer
# whose e-mail address agrees once such leads come; agreement in these near-personal
# identifiers weighs 2^8 to one until the data says more, a difference nothing.
UNSEEN: Mapping[str, Mapping[str, float]] = {"email": {"0": 8.0}, "phone": {"0": 8.0}}


def _closer_weighs_more(levels: Mapping[str, float], *, ordered: bool) -> dict[str, float]:
    """A closer level never weighs less than a farther one (EM on few pairs of a level can
    say otherwise: a surname with one typo above the same surname); each level at most
    what the closer ones weigh. Levels that are no scale (``ordered`` false) as estimated."""
    if not ordered:
        return dict(levels)
    out: dict[str, float] = {}
    ceiling = math.inf
    for level in sorted(levels):
        ceiling = min(ceiling, levels[level])
        out[level] = ceiling
    return out


class NotEstimableError(ValueError):
    """The pairs seen so far do not identify a model (too few, or no matches among them)."""


@dataclass(frozen=True)
class Model:
    """log2(m/u) per field and level; ``share`` is the estimated share of matches among
    the candidate pairs (the prior); ``pairs`` how many pairs it was estimated from."""

    weights: Mapping[str, Mapping[str, float]]
    share: float
    pairs: int

    def field_weights(self, vector: Vector) -> dict[str, float]:
        return {
            f: self.weights[f].get(level, 0.0)
            for f, level in zip(FIELDS, vector.split("."), strict=True)
            if level != MISSING
        }

    def weight(self, vector: Vector) -> float:
        """The pair's log2 Bayes factor: above 0, the fields speak for a match."""
        return sum(self.field_weights(vector).values())

    def probability(self, weight: float) -> float:
        """P(same customer) for a pair of this weight, with the share of matches as prior."""
        prior = math.log2(self.share / (1 - self.share))
        return 1 / (1 + 2 ** -(prior + weight))

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": {f: dict(levels) for f, levels in self.weights.items()},
            "share": self.share,
            "pairs": self.pairs,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        weights = {f: {str(k): float(v) for k, v in data["weights"][f].items()} for f in FIELDS}
        return cls(weights=weights, share=float(data["share"]), pairs=int(data["pairs"]))


def _add_known(
    known: list[tuple[list[str], bool, int]],
    m_counts: list[dict[str, float]],
    u_counts: list[dict[str, float]],
) -> None:
    """Labelled pairs: their class known, so counted where they belong, not guessed."""
    for levels, same, count in known:
        for f, lv in enumerate(levels):
            if lv != MISSING:
                (m_counts if same else u_counts)[f][lv] += count


def estimate(
    counts: Mapping[Vector, int],
    *,
    rounds: int = 50,
    min_pairs: int = 1,
    labelled: Mapping[tuple[Vector, bool], int] | None = None,
) -> Model:
    """Expectation-maximisation over counted vectors; starts from "level 0 is likelier
    among matches" so the match class is the agreeing one, and refuses a result where it
    is not (names agreeing must weigh for a match). ``labelled`` pairs (the advisor's
    decisions: vector and whether it was the same customer) count with their class known
    instead of guessed."""
    total = sum(counts.values())
    if total < max(min_pairs, 1):
        raise NotEstimableError(f"{total} pairs seen, {min_pairs} needed")
    rows = [(vector.split("."), count) for vector, count in counts.items()]
    known = [(vector.split("."), same, n) for (vector, same), n in (labelled or {}).items()]
    everything = [levels for levels, _ in rows] + [levels for levels, _, _ in known]
    seen = [sorted({levels[f] for levels in everything} - {MISSING}) for f in range(len(FIELDS))]
    m: list[dict[str, float]] = [
        {lv: 0.7 if lv == "0" else 0.3 / max(1, len(ls) - 1) for lv in ls} for ls in seen
    ]
    u: list[dict[str, float]] = [{lv: 1 / len(ls) for lv in ls} for ls in seen]
    share = 0.05
    smooth = 1e-3
    for _ in range(rounds):
        m_counts = [dict.fromkeys(ls, 0.0) for ls in seen]
        u_counts = [dict.fromkeys(ls, 0.0) for ls in seen]
        matched = 0.0
        for levels, count in rows:
            pm, pu = share, 1 - share
            for f, lv in enumerate(levels):
                if lv != MISSING:
                    pm *= m[f][lv]
                    pu *= u[f][lv]
            g = pm / (pm + pu)
            matched += g * count
            for f, lv in enumerate(levels):
                if lv != MISSING:
                    m_counts[f][lv] += g * count
                    u_counts[f][lv] += (1 - g) * count
        _add_known(known, m_counts, u_counts)
        share = min(max(matched / total, 1e-6), 1 - 1e-6)
        for f, ls in enumerate(seen):
            m_total = sum(m_counts[f].values()) + smooth * len(ls)
            u_total = sum(u_counts[f].values()) + smooth * len(ls)
            for lv in ls:
                m[f][lv] = (m_counts[f][lv] + smooth) / m_total
                u[f][lv] = (u_counts[f][lv] + smooth) / u_total
    weights = {
        name: _closer_weighs_more(
            {lv: math.log2(m[f][lv] / u[f][lv]) for lv in seen[f]}, ordered=name in GRADED
        )
        or dict(UNSEEN.get(name, {}))
        for f, name in enumerate(FIELDS)
    }
    if not all(weights[f].get("0", 0.0) > 0 for f in ("given", "surname")):
        raise NotEstimableError("the estimate does not tell matches from non-matches")
    return Model(weights=weights, share=share, pairs=total)
