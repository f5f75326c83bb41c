"""The response deadline's arithmetic: opening hours, holidays, weekends, daylight saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.working_time import WorkingCalendar, public_holidays

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = {d: ((time(8), time(18)),) for d in range(5)}  # Monday to Friday 08:00-18:00
SATURDAY_MORNING = {**WEEKDAYS, 5: ((time(9), time(12)),)}
HAMBURG = WorkingCalendar(WEEKDAYS, BERLIN, public_holidays("DE-HH"))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def test_within_a_day() -> None:
    assert HAMBURG.add(local(2026, 12, 1, 9, 30), timedelta(hours=2)) == local(2026, 12, 1, 11, 30)


def test_the_rest_carries_over_to_the_next_opening() -> None:
    # Tuesday 17:00, two working hours: one today, one from Wednesday's opening
    assert HAMBURG.add(local(2026, 12, 1, 17), timedelta(hours=2)) == local(2026, 12, 2, 9)


def test_a_lead_arriving_outside_opening_hours_starts_at_the_next_opening() -> None:
    # Saturday evening (closed at weekends): Monday 08:00 plus two hours
    assert HAMBURG.add(local(2026, 12, 5, 20), timedelta(hours=2)) == local(2026, 12, 7, 10)
    # Tuesday 06:00, before opening
    assert HAMBURG.add(local(2026, 12, 1, 6), timedelta(hours=1)) == local(2026, 12, 1, 9)


def test_split_days_and_saturday_hours() -> None:
    lunch = {d: ((time(8), time(12)), (time(13), time(17))) for d in range(5)}
    calendar = WorkingCalendar(lunch, BERLIN)
    assert calendar.add(local(2026, 12, 1, 11), timedelta(hours=2)) == local(2026, 12, 1, 14)
    saturday = WorkingCalendar(SATURDAY_MORNING, BERLIN)
    # Friday 17:30: half an hour on Friday, 90 minutes on Saturday morning
    assert saturday.add(local(2026, 12, 4, 17, 30), timedelta(hours=2)) == local(
        2026, 12, 5, 10, 30
    )


def test_public_holidays_of_the_branch_s_state_are_closed() -> None:
    # Reformationstag (31 October) is a holiday in Hamburg, not in Bavaria; 2025-10-31 is a
    # Friday: Hamburg's answer is due on Monday, Munich's on the Friday
    friday_evening = local(2025, 10, 30, 17)
    assert HAMBURG.add(friday_evening, timedelta(hours=2)) == local(2025, 11, 3, 9)
    munich = WorkingCalendar(WEEKDAYS, BERLIN, public_holidays("DE-BY"))
    assert munich.add(friday_evening, timedelta(hours=2)) == local(2025, 10, 31, 9)
    # Easter: Good Friday and Easter Monday 2026 (3 and 6 April) everywhere in Germany
    assert HAMBURG.add(local(2026, 4, 2, 17), timedelta(hours=2)) == local(2026, 4, 7, 9)
    # Austria's and Switzerland's own days: Nationalfeiertag (AT, 26 October 2026, a
    # Monday), Bundesfeier (CH, 1 August 2025, a Friday)
    vienna = WorkingCalendar(WEEKDAYS, ZoneInfo("Europe/Vienna"), public_holidays("AT-9"))
    assert vienna.add(local(2026, 10, 23, 17), timedelta(hours=2)) == local(2026, 10, 27, 9)
    zurich = WorkingCalendar(WEEKDAYS, ZoneInfo("Europe/Zurich"), public_holidays("CH-ZH"))
    assert zurich.add(local(2025, 7, 31, 17), timedelta(hours=2)) == local(2025, 8, 4, 9)


def test_daylight_saving_changes_count_the_hours_that_passed() -> None:
    # A branch open on Sundays 01:00-05:00: on 29 March 2026 clocks go from 02:00 to 03:00,
    # so that Sunday is open three hours, on 25 October (03:00 back to 02:00) five
    night = WorkingCalendar({6: ((time(1), time(5)),)}, BERLIN)
    spring, autumn = local(2026, 3, 29, 0), local(2026, 10, 25, 0)
    assert night.between(spring, local(2026, 3, 29, 6)) == timedelta(hours=3)
    assert night.between(autumn, local(2026, 10, 25, 6)) == timedelta(hours=5)
    # three working hours from 01:00 on the spring Sunday end at its closing, 05:00 CEST
    assert night.add(spring, timedelta(hours=3)) == local(2026, 3, 29, 5)
    assert night.add(spring, timedelta(hours=3)).astimezone(UTC) == datetime(
        2026, 3, 29, 3, tzinfo=UTC
    )
    # an ordinary branch across the change: Friday 17:00 (CET) to Monday 09:00 (CEST)
    assert HAMBURG.add(local(2026, 3, 27, 17), timedelta(hours=2)) == local(2026, 3, 30, 9)


def test_working_time_between_two_instants() -> None:
    # Friday 16:00 to Monday 10:00: two hours on Friday, two on Monday
    assert HAMBURG.between(local(2026, 12, 4, 16), local(2026, 12, 7, 10)) == timedelta(hours=4)
    assert HAMBURG.between(local(2026, 12, 7, 10), local(2026, 12, 4, 16)) == timedelta()
    start = local(2026, 12, 1, 10)
    assert HAMBURG.between(start, HAMBURG.add(start, timedelta(hours=13))) == timedelta(hours=13)


def test_no_opening_hours_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="no opening hours"):
        WorkingCalendar({}, BERLIN).add(local(2026, 12, 1, 9), timedelta(hours=1))
    with pytest.raises(ValueError, match="no public holidays"):
        public_holidays("FR-75")
    assert not public_holidays("DE-HH")(date(2026, 12, 1))


def test_a_branch_s_deadline_is_near_in_its_last_quarter_and_then_overdue() -> None:
    branch = BranchSettings("HH-01", "Hansa", holiday_region="DE-HH", response_minutes=120)
    received = local(2026, 12, 4, 16)  # Friday 16:00: due Friday 18:00
    due = branch.respond_by(received)
    assert due == local(2026, 12, 4, 18)
    at_start = branch.deadline(due, received)
    assert (at_start.overdue, at_start.near, at_start.working) == (False, False, timedelta(hours=2))
    late = branch.deadline(due, local(2026, 12, 4, 17, 31))
    assert (late.overdue, late.near, late.working) == (False, True, timedelta(minutes=29))
    # over the weekend only Monday's opening time counts as overdue
    monday = branch.deadline(due, local(2026, 12, 7, 9))
    assert (monday.overdue, monday.near, monday.working) == (True, False, timedelta(hours=1))
