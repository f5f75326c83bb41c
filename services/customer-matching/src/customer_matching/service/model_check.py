"""Whether a learned model may band the duplicate search: checked on labelled leads first.

The model is estimated without labels, so nothing in its estimate says it ranks the right
customer first. Before adoption it searches a labelled German set kept with the service
(``data/labelled.jsonl.gz``, written by ``make labelled-set``: masters, and leads of every
failure class of issue 14 with the master each belongs to, hard negatives with none) beside
what it would replace. It is adopted only if it puts the right customer first at least as
often and bands no more hard negatives or wrong customers "certain".
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from osb_contracts.matching import ConfidenceBand, DuplicateCriterion
from osb_contracts.values import Customer

from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.index import CustomerIndex, Scoring

LABELLED = Path(__file__).resolve().parents[1] / "data" / "labelled.jsonl.gz"
CRITERIA = (DuplicateCriterion.ADDRESS, DuplicateCriterion.BIRTH_DATE)


@dataclass(frozen=True)
class Labelled:
    customer: Customer
    truth: str | None  # the master the lead belongs to; None: nobody in the master
    vehicle_owner: str | None


@dataclass(frozen=True)
class Quality:
    """How a way of banding fared on the labelled leads."""

    leads: int
    first_right: int  # the right customer ranked first (leads with one)
    wrong_certain: int  # a first candidate banded certain that is not the lead's customer

    @property
    def top1(self) -> float:
        return self.first_right / self.leads if self.leads else 0.0

    def at_least_as_good_as(self, other: Quality) -> bool:
        return self.first_right >= other.first_right and self.wrong_certain <= other.wrong_certain

    def to_json(self) -> dict[str, float | int]:
        return {
            "leads": self.leads,
            "top1": round(self.top1, 4),
            "wrong_certain": self.wrong_certain,
        }


@cache
def labelled_set(path: Path = LABELLED) -> tuple[CustomerIndex, tuple[Labelled, ...]]:
    index, leads = CustomerIndex(), []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if "master" in row:
                index.put(Customer.model_validate(row["master"]))
            else:
                leads.append(
                    Labelled(
                        Customer.model_validate(row["lead"]), row["truth"], row["vehicle_owner"]
                    )
                )
    return index, tuple(leads)


def quality(scoring: Callable[[], Scoring], path: Path = LABELLED) -> Quality:
    """The labelled leads searched with a fresh ``scoring`` (its counts thrown away)."""
    index, leads = labelled_set(path)
    bands = scoring()
    right = wrong_certain = 0
    for lead in leads:
        found = index.search(lead.customer, CRITERIA, 10, bands, vehicle_owner=lead.vehicle_owner)
        first = found[0] if found else None
        if first is None:
            continue
        if lead.truth is not None and first.customer_number == lead.truth:
            right += 1
        elif first.band is ConfidenceBand.CERTAIN:
            wrong_certain += 1
    return Quality(sum(lead.truth is not None for lead in leads), right, wrong_certain)


Decided = Sequence[Sequence[tuple[str, float, bool]]]  # per lead: (vector, rules' score, chosen)


def on_decisions(model: fs.Model | None, decided: Decided) -> Quality:
    """The advisor's decisions where they merged with a candidate: is that one first when
    ``model`` (None: the rules' scores as recorded) orders the candidates they were shown?"""
    merged = [search for search in decided if any(chosen for _, _, chosen in search)]

    def key(shown: tuple[str, float, bool]) -> float:
        return shown[1] if model is None else model.weight(shown[0])

    right = sum(max(search, key=key)[2] for search in merged)
    return Quality(len(merged), right, 0)


@dataclass(frozen=True)
class Verdict:
    adopt: bool
    model: Quality
    current: Quality  # what it would replace: the model in use, or the rules
    decisions_model: Quality = Quality(0, 0, 0)
    decisions_current: Quality = Quality(0, 0, 0)

    def to_json(self) -> dict[str, object]:
        return {
            "adopted": self.adopt,
            "model": self.model.to_json(),
            "replaced": self.current.to_json(),
            "on_decisions": {
                "model": self.decisions_model.to_json(),
                "replaced": self.decisions_current.to_json(),
            },
        }


def check(
    model: fs.Model, current: fs.Model | None, like: Scoring, decided: Decided = ()
) -> Verdict:
    """``model`` against ``current`` (None: the rules), both with ``like``'s thresholds, on
    the labelled set and on the advisor's ``decided`` searches."""

    def banded_by(m: fs.Model | None) -> Callable[[], Scoring]:
        return lambda: Scoring(
            model=m,
            certain_from=like.certain_from,
            likely_from=like.likely_from,
            possible_from=like.possible_from,
        )

    new, old = quality(banded_by(model)), quality(banded_by(current))
    by_model, by_current = on_decisions(model, decided), on_decisions(current, decided)
    adopt = new.at_least_as_good_as(old) and by_model.at_least_as_good_as(by_current)
    return Verdict(adopt, new, old, by_model, by_current)
