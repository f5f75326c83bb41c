"""The branch manager's figures (Auswertung) of the leads received in a period.

Read from the read model that lead events keep (adapters/insight.py): bookings per day,
what became of them, time to the first decision in opening time, overdue leads, rejection
reasons, failed notifications, the duplicate dialog's choices, and the show rate of the
appointments per week. No personal data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from osb_contracts.leads import CustomerChoice
from osb_contracts.values import LeadStatus
from pydantic import BaseModel, ConfigDict, computed_field

from lead_manager.domain.model import RuleViolationError, require
from lead_manager.domain.permissions import Actor, Permission

MAX_DAYS = 366  # a year at most per request


@dataclass(frozen=True)
class RawFigures:
    """What the read model answers: the aggregates of the whole period and of each day
    (named as :class:`DayFigures`' fields), rejections per reason, appointments per
    customer choice."""

    total: Mapping[str, Any]
    days: Mapping[date, Mapping[str, Any]]
    reasons: Mapping[str | None, int]
    choices: Mapping[str, int]
    # per week (its Monday) of appointments in the period: customers arrived, no-shows
    weeks: Mapping[date, tuple[int, int]]


class InsightReads(Protocol):
    async def figures(self, branch_id: str, first: date, last: date) -> RawFigures: ...


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class DayFigures(_Model):
    day: date
    received: int = 0
    new: int = 0  # not decided yet
    scheduled: int = 0
    rejected: int = 0
    cancelled_by_customer: int = 0
    cancelled: int = 0  # the appointment deleted in the DMS
    no_show: int = 0  # the customer did not come to the appointment
    overdue: int = 0
    failed_notifications: int = 0
    # time to the first decision in the branch's opening time, of those decided
    decision_median: float | None = None
    decision_p90: float | None = None


class WeekShows(_Model):
    """The appointments of a week whose outcome is known: the customer came or did not."""

    week: date  # its Monday
    shown: int
    no_show: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate(self) -> float | None:
        known = self.shown + self.no_show
        return self.shown / known if known else None


class Figures(_Model):
    branch_id: str
    first_day: date
    last_day: date
    total: DayFigures  # day: the period's first
    days: list[DayFigures]  # every day of the period, those without leads too
    reasons: dict[str, int]  # "" for a rejection without a reason
    choices: dict[CustomerChoice, int]
    # the show rate of the appointments in the period, per week
    weeks: list[WeekShows]

    def share(self, status: LeadStatus) -> float:
        """The part of the period's leads now in ``status`` (0 without leads)."""
        count: int = getattr(self.total, status.value.lower())
        return count / self.total.received if self.total.received else 0.0


def _day(day: date, values: Mapping[str, Any] | None) -> DayFigures:
    return DayFigures(day=day, **{k: v for k, v in (values or {}).items() if k != "day"})


async def branch_figures(
    reads: InsightReads, actor: Actor, branch_id: str, first: date, last: date
) -> Figures:
    """The figures of ``branch_id``'s leads received from ``first`` to ``last`` (both
    included, in the branch's zone), for its advisors and administrators."""
    if not actor.may(Permission.LEAD_MANAGER, branch_id):
        require(actor, Permission.OSB_ADMIN, branch_id)
    if last < first:
        raise RuleViolationError(
            "day_to", "the period ends before it starts", code="PERIOD_INVALID"
        )
    if (last - first).days >= MAX_DAYS:
        raise RuleViolationError("day_to", "at most a year", code="PERIOD_TOO_LONG")
    raw = await reads.figures(branch_id, first, last)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return Figures(
        branch_id=branch_id,
        first_day=first,
        last_day=last,
        total=_day(first, raw.total),
        days=[_day(d, raw.days.get(d)) for d in days],
        reasons={reason or "": count for reason, count in raw.reasons.items()},
        choices={CustomerChoice(c): n for c, n in raw.choices.items()},
        weeks=[WeekShows(week=w, shown=s, no_show=n) for w, (s, n) in sorted(raw.weeks.items())],
    )


def figures_csv(figures: Figures, columns: Iterable[tuple[str, str]]) -> str:
    """The figures per day as CSV for a spreadsheet (semicolons, decimal commas, a BOM so
    that Excel reads UTF-8); ``columns``: field and heading, in order."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    fields = list(columns)
    writer.writerow(["Tag", *(heading for _, heading in fields)])
    rows = [(d.day.strftime("%d.%m.%Y"), d) for d in figures.days]
    for label, day in [*rows, ("Summe", figures.total)]:
        writer.writerow([label, *(_cell(getattr(day, name)) for name, _ in fields)])
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):  # the only fractions: minutes of opening time, as hours
        return f"{value / 60:.2f}".replace(".", ",")
    return str(value)
