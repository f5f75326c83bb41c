"""When an appointment's reminders go out (issue 17): at the branch's offsets before its
start, never in the quiet hours (21:00 to 08:00 in the branch's zone). A reminder that
would fall in them goes out on the evening before them (20:30) or not at all, as the
branch's settings say; one whose time has passed when the appointment is made is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
EVENING = time(20, 30)  # where a reminder in the quiet hours is moved to
DEFAULT_REMINDER_OFFSETS = (24 * 60, 2 * 60)  # minutes before the start


class QuietHours(StrEnum):
    EVENING_BEFORE = "EVENING_BEFORE"  # moved to 20:30 before the quiet hours
    SKIP = "SKIP"  # not sent


@dataclass(frozen=True)
class PlannedReminder:
    offset_minutes: int
    due_at: datetime


def quiet(at: datetime, zone: ZoneInfo) -> bool:
    local = at.astimezone(zone).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


def plan_reminders(
    start: datetime,
    offsets: tuple[int, ...],
    zone: ZoneInfo,
    policy: QuietHours,
    now: datetime,
) -> list[PlannedReminder]:
    """The reminders of an appointment starting at ``start``, made at ``now``: each offset
    once, none in the quiet hours, none due already, two moved to the same time as one."""
    planned: dict[datetime, PlannedReminder] = {}
    start = start.astimezone(UTC)  # offsets in elapsed time, whatever zone start came in
    for offset in sorted(set(offsets), reverse=True):
        due = start - timedelta(minutes=offset)
        if quiet(due, zone):
            if policy is QuietHours.SKIP:
                continue
            local = due.astimezone(zone)
            # the evening the quiet hours began: the same day after 21:00, the day before
            # before 08:00
            day = local.date() if local.time() >= QUIET_FROM else local.date() - timedelta(days=1)
            due = datetime.combine(day, EVENING, zone)
        if due <= now or due >= start:
            continue
        planned.setdefault(due, PlannedReminder(offset, due))
    return sorted(planned.values(), key=lambda r: r.due_at)
