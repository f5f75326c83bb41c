"""The figures (Auswertung) without a database: the period's days, permissions, the CSV,
the page's number formats, and the read model's slim views of the contracts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from lead_manager.adapters.insight import VIEWS
from lead_manager.domain.model import PermissionMissingError, RuleViolationError
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.entrypoints.labels import INSIGHT_COLUMNS
from lead_manager.entrypoints.web import figure, percent_of, work_hours
from lead_manager.service.insight import RawFigures, branch_figures, figures_csv


class Reads:
    def __init__(self, raw: RawFigures) -> None:
        self.raw = raw
        self.asked: list[tuple[str, date, date]] = []

    async def figures(self, branch_id: str, first: date, last: date) -> RawFigures:
        self.asked.append((branch_id, first, last))
        return self.raw


TOTAL: dict[str, Any] = {
    "received": 3,
    "scheduled": 2,
    "rejected": 1,
    "decision_median": 90.0,
    "decision_p90": 135.0,
}
RAW = RawFigures(
    total=TOTAL,
    days={date(2026, 11, 3): {"day": date(2026, 11, 3), **TOTAL}},
    reasons={None: 1},
    choices={"CASH_SALE": 2},
    weeks={date(2026, 11, 9): (0, 0), date(2026, 11, 2): (3, 1)},
)
ADVISOR = Actor("anna", "Anna", {"HH": frozenset({Permission.LEAD_MANAGER})})


async def test_every_day_of_the_period_is_there_and_reasons_without_one_are_empty() -> None:
    reads = Reads(RAW)
    f = await branch_figures(reads, ADVISOR, "HH", date(2026, 11, 2), date(2026, 11, 4))
    assert reads.asked == [("HH", date(2026, 11, 2), date(2026, 11, 4))]
    assert [d.day for d in f.days] == [date(2026, 11, n) for n in (2, 3, 4)]
    assert [d.received for d in f.days] == [0, 3, 0]
    assert f.days[0].decision_median is None
    assert f.total.received == 3
    assert f.reasons == {"": 1}
    assert f.choices == {"CASH_SALE": 2}
    # by week, a week without a known outcome without a rate
    assert [(w.week, w.rate) for w in f.weeks] == [
        (date(2026, 11, 2), 0.75),
        (date(2026, 11, 9), None),
    ]
    assert f.model_dump(mode="json")["weeks"][0] == {
        "week": "2026-11-02",
        "shown": 3,
        "no_show": 1,
        "rate": 0.75,
    }


async def test_other_branches_and_wrong_periods_are_refused() -> None:
    reads = Reads(RAW)
    with pytest.raises(PermissionMissingError):
        await branch_figures(reads, ADVISOR, "M", date(2026, 11, 2), date(2026, 11, 4))
    with pytest.raises(RuleViolationError) as backwards:
        await branch_figures(reads, ADVISOR, "HH", date(2026, 11, 4), date(2026, 11, 2))
    assert backwards.value.code == "PERIOD_INVALID"
    with pytest.raises(RuleViolationError) as long:
        await branch_figures(reads, ADVISOR, "HH", date(2025, 11, 1), date(2026, 11, 2))
    assert long.value.code == "PERIOD_TOO_LONG"
    assert reads.asked == []


async def test_the_csv_has_german_headings_days_and_hours_with_decimal_commas() -> None:
    f = await branch_figures(Reads(RAW), ADVISOR, "HH", date(2026, 11, 2), date(2026, 11, 3))
    lines = figures_csv(f, INSIGHT_COLUMNS).removeprefix("\ufeff").split("\r\n")
    assert lines[0].split(";")[:3] == ["Tag", "Eingegangen", "Geplant"]
    assert lines[1] == "02.11.2026;0;0;0;0;0;0;0;0;0;;"
    assert lines[2] == "03.11.2026;3;2;1;0;0;0;0;0;0;1,50;2,25"
    assert lines[3] == "Summe;3;2;1;0;0;0;0;0;0;1,50;2,25"


def test_the_page_s_numbers() -> None:
    assert work_hours(None) == "–"
    assert work_hours(240.0) == "4,0 Std."
    assert work_hours(516.0) == "8,6 Std."
    assert (percent_of(1, 6), percent_of(2, 6), percent_of(0, 0)) == (17, 33, 0)
    assert (figure(3), figure(90.0), figure(None)) == ("3", "1,5", "–")


def test_the_read_model_reads_only_fields_its_contracts_have() -> None:
    for contract, view in VIEWS.values():
        missing = set(view.model_fields) - set(contract.model_fields)
        assert not missing, (contract.__name__, missing)
