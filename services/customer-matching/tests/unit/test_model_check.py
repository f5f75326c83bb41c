"""The check a learned model passes before it bands the duplicate search."""

from __future__ import annotations

from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.index import Scoring
from customer_matching.service.model_check import (
    Quality,
    check,
    labelled_set,
    on_decisions,
    quality,
)

# agreement for, disagreement against: a sensible hand-set model
SENSIBLE = fs.Model(
    weights={
        "given": {"0": 6.0, "1": 3.0, "2": -2.0, "3": -5.0},
        "surname": {"0": 7.0, "1": 4.0, "2": -2.0, "3": -5.0},
        "swapped": {"0": 0.0, "1": 3.0},
        "birth": {"0": 7.0, "1": 2.0, "2": -6.0},
        "street": {"0": 4.0, "1": 2.0, "2": -1.0, "3": -3.0},
        "house": {"0": 2.0, "1": -2.0},
        "postcode": {"0": 2.0, "1": 0.0, "2": -3.0},
        "place": {"0": 1.0, "1": 0.0, "2": -2.0},
        "email": {"0": 8.0, "1": -1.0},
        "phone": {"0": 6.0, "1": -1.0},
    },
    share=0.05,
    pairs=1,
)
# the same with every sign turned: it ranks the least alike first
INVERTED = fs.Model(
    weights={f: {lv: -w for lv, w in levels.items()} for f, levels in SENSIBLE.weights.items()},
    share=0.05,
    pairs=1,
)


def test_the_labelled_set_holds_every_failure_class_and_hard_negatives() -> None:
    index, leads = labelled_set()
    assert len(index) == 3_000
    assert len(leads) == 440
    assert sum(lead.truth is None for lead in leads) == 80  # two classes of hard negatives
    assert all(lead.truth is None or index.get(lead.truth) is not None for lead in leads)


def test_the_rules_rank_the_labelled_set() -> None:
    rules = quality(Scoring)
    assert rules.leads == 360
    assert rules.top1 >= 0.99
    assert rules.wrong_certain == 0


def test_a_model_that_ranks_worse_is_refused_and_one_as_good_adopted() -> None:
    refused = check(INVERTED, None, Scoring())
    assert not refused.adopt
    assert refused.model.first_right < refused.current.first_right
    assert refused.to_json()["adopted"] is False
    # against itself: as good, so adopted (a model never loses to its equal)
    same = check(SENSIBLE, SENSIBLE, Scoring())
    assert same.adopt
    assert same.model == same.current


def test_quality_compares_right_first_and_wrong_certain() -> None:
    good = Quality(leads=10, first_right=9, wrong_certain=0)
    assert good.at_least_as_good_as(Quality(10, 9, 0))
    assert not Quality(10, 8, 0).at_least_as_good_as(good)
    assert not Quality(10, 10, 1).at_least_as_good_as(good)  # one false certainty too many
    assert good.to_json() == {"leads": 10, "top1": 0.9, "wrong_certain": 0}


def test_on_decisions_asks_whether_the_chosen_candidate_comes_first() -> None:
    alike, unlike = ".".join("0" for _ in fs.FIELDS), ".".join("1" for _ in fs.FIELDS)
    decided = [
        [(alike, 0.6, True), (unlike, 0.9, False)],  # the rules had it second
        [(alike, 0.9, True), (unlike, 0.5, False)],
        [(alike, 0.9, False), (unlike, 0.5, False)],  # a new customer: no merge to judge
    ]
    rules = on_decisions(None, decided)
    assert (rules.leads, rules.first_right) == (2, 1)
    model = on_decisions(SENSIBLE, decided)
    assert (model.leads, model.first_right) == (2, 2)
    verdict = check(SENSIBLE, SENSIBLE, Scoring(), decided)
    assert verdict.decisions_model == verdict.decisions_current
    assert verdict.to_json()["on_decisions"] == {
        "model": model.to_json(),
        "replaced": model.to_json(),
    }
