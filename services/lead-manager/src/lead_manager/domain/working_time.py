"""Working time: the branch's opening hours less its public holidays, in its time zone.

A new lead's response deadline runs only while the branch is open: a booking on Saturday
evening with two working hours to answer is due on Monday two hours after opening. The
arithmetic is on wall-clock opening times turned into instants per day, so a day with a
daylight-saving change counts the hours that really passed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[time, time]

# A calendar without a single opening in this many days has none (settings refuse it).
HORIZON_DAYS = 400


@dataclass(frozen=True)
class WorkingCalendar:
    """``hours``: per weekday (0 = Monday) the intervals the branch is open, local times;
    ``closed``: the days it is closed whatever the weekday (public holidays)."""

    hours: Mapping[int, tuple[Interval, ...]]
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Berlin"))
    closed: Callable[[date], bool] = lambda day: False

    def openings(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The opening intervals (aware, UTC) from ``start`` on, the first cut at ``start``."""
        day = start.astimezone(self.zone).date()
        for _ in range(HORIZON_DAYS):
            if not self.closed(day):
                for opens, closes in self.hours.get(day.weekday(), ()):
                    begin = datetime.combine(day, opens, self.zone).astimezone(UTC)
                    end = datetime.combine(day, closes, self.zone).astimezone(UTC)
                    if end > start:
                        yield max(begin, start), end
            day += timedelta(days=1)

    def add(self, start: datetime, work: timedelta) -> datetime:
        """The instant when ``work`` of opening time has passed since ``start``."""
        left = work
        for begin, end in self.openings(start):
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise ValueError(f"no opening hours within {HORIZON_DAYS} days")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Opening time between two instants (zero when ``end`` is not after ``start``)."""
        total = timedelta()
        for begin, close in self.openings(start):
            if begin >= end:
                break
            total += min(close, end) - begin
        return total


# Where a branch can be: the countries whose public holidays the settings offer, each with
# its time zone.
COUNTRY_ZONES = {"DE": "Europe/Berlin", "AT": "Europe/Vienna", "CH": "Europe/Zurich"}


@functools.cache
def public_holidays(region: str) -> Callable[[date], bool]:
    """Whether a day is a public holiday in ``region``: a country and its state or canton,
    "DE-HH", "AT-9", "CH-ZH" (the ``holidays`` library's subdivision codes)."""
    import holidays

    country, _, subdivision = region.partition("-")
    if country not in COUNTRY_ZONES:
        raise ValueError(f"no public holidays for {country!r}; one of {sorted(COUNTRY_ZONES)}")
    days = holidays.country_holidays(country, subdiv=subdivision or None, language="de")
    return days.__contains__


COUNTRY_NAMES = {"DE": "Deutschland", "AT": "Österreich", "CH": "Schweiz"}


@functools.cache
def holiday_regions() -> dict[str, str]:
    """Every region the settings offer, with its German name: each country alone (its
    nationwide holidays) and each state or canton ("DE-HH": "Deutschland – Hamburg")."""
    import holidays

    regions = {}
    for country, label in COUNTRY_NAMES.items():
        regions[country] = f"{label} (nur landesweite Feiertage)"
        kind = holidays.country_holidays(country)
        names: dict[str, str] = {}
        for name, code in kind.subdivisions_aliases.items():
            names.setdefault(code, name)  # the first alias is the full name
        for code in kind.subdivisions:
            if len(code) <= 2:  # states and cantons, not single cities
                regions[f"{country}-{code}"] = f"{label} – {names.get(code, code)}"
    return regions
