"""An appointment's reminders: at the offsets, never between 21:00 and 08:00 in the branch's
zone (moved to the evening before or left out), never due already; sent once when due,
never for a lead no longer scheduled with that appointment, missed when found too late."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import Appointment, Lead
from lead_manager.domain.permissions import SYSTEM_DMS, SYSTEM_PORTAL, Actor, Permission
from lead_manager.domain.reminders import QuietHours, plan_reminders, quiet
from lead_manager.service.commands import plan_reminders_of
from lead_manager.service.deadlines import send_all_reminders
from lead_manager.service.events import handle_lead_requests
from osb_contracts import Envelope
from osb_contracts.leads import CustomerChoice, LeadReminderDue, LeadRequested, VehicleCase
from osb_contracts.values import Channel, ConfirmationChannel, Customer, Vehicle

BERLIN = ZoneInfo("Europe/Berlin")
DAY_AND_TWO_HOURS = (24 * 60, 2 * 60)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def times(start: datetime, policy: QuietHours, now: datetime | None = None) -> list[str]:
    planned = plan_reminders(
        start, DAY_AND_TWO_HOURS, BERLIN, policy, now or start - timedelta(days=3)
    )
    return [r.due_at.astimezone(BERLIN).strftime("%d.%m. %H:%M") for r in planned]


def test_a_daytime_appointment_is_reminded_a_day_and_two_hours_before() -> None:
    assert times(at(10, 14), QuietHours.SKIP) == ["09.12. 14:00", "10.12. 12:00"]


def test_a_morning_appointment_s_reminder_moves_to_the_evening_before_or_is_skipped() -> None:
    # 09:00: two hours before is 07:00, in the quiet hours
    assert times(at(10, 9), QuietHours.EVENING_BEFORE) == ["09.12. 09:00", "09.12. 20:30"]
    assert times(at(10, 9), QuietHours.SKIP) == ["09.12. 09:00"]
    # 22:30 the day before is quiet too (after 21:00): the same evening, 20:30
    assert times(at(10, 22, 30), QuietHours.EVENING_BEFORE) == ["09.12. 20:30", "10.12. 20:30"]


def test_none_is_due_already_and_two_moved_to_the_same_time_are_one() -> None:
    start = at(10, 14)
    assert times(start, QuietHours.SKIP, now=at(10, 11)) == ["10.12. 12:00"]
    assert times(start, QuietHours.SKIP, now=at(10, 12, 1)) == []
    # both fall in the same night: one reminder at 20:30
    planned = plan_reminders(at(10, 7, 30), (60, 30), BERLIN, QuietHours.EVENING_BEFORE, at(1, 0))
    assert [r.due_at for r in planned] == [at(9, 20, 30)]


def test_the_quiet_hours_are_the_branch_s_wall_clock_across_daylight_saving() -> None:
    # the night the clocks go back (25.10.2026): 20:59 and 08:00 local either side
    assert not quiet(at(24, 20, 59, month=10), BERLIN)
    assert quiet(at(25, 2, 30, month=10), BERLIN)
    assert not quiet(at(25, 8, 0, month=10), BERLIN)
    start = at(25, 9, month=10)  # two hours before: 07:00, quiet
    # 24 hours before 09:00 CET is 10:00 CEST the day before (the night has 25 hours)
    assert times(start, QuietHours.EVENING_BEFORE) == ["24.10. 10:00", "24.10. 20:30"]
    # the same, whatever zone the start is given in
    planned = plan_reminders(
        at(25, 12, month=10).astimezone(UTC),
        (24 * 60,),
        BERLIN,
        QuietHours.SKIP,
        at(20, 0, month=10),
    )
    assert planned[0].due_at.astimezone(BERLIN) == at(24, 13, month=10)


ANNA = Actor("anna", "Anna", {"HH-01": frozenset({Permission.LEAD_MANAGER})})
SVEN = Actor(
    "sven", "Sven", {"HH-01": frozenset({Permission.LEAD_MANAGER, Permission.EDIT_CANCELLED})}
)


def appointment(start: datetime, confirmation: ConfirmationChannel) -> Appointment:
    return Appointment(
        id=uuid.uuid4(),
        start=start,
        end=start + timedelta(hours=1),
        acceptor="anna",
        customer_number="K-1",
        customer_choice=CustomerChoice.EXISTING,
        customer=Customer(last_name="Meier", email="meier@example.de"),
        vehicle=Vehicle(),
        vehicle_case=VehicleCase.TRANSIT,
        confirmation=confirmation,
        recipient="meier@example.de" if confirmation is not ConfirmationChannel.NONE else None,
    )


async def test_reminders_go_out_once_when_due_never_for_a_changed_lead_or_too_late(
    fake_uow: Any, lead_request: Callable[..., LeadRequested]
) -> None:
    """The clock is an argument: the rule is run at the times it is about."""
    branch = BranchSettings("HH-01", "Hansa")  # 24 h and 2 h before, the evening before
    fake_uow.branches.rows["HH-01"] = branch
    made = at(7, 10)

    async def scheduled(start: datetime, channel: ConfirmationChannel) -> Lead:
        request = lead_request().model_copy(update={"branch_id": "HH-01"})
        stamp = Envelope(str(request.lead_id), "t", "/t", made, "c", None, None, request)
        await handle_lead_requests(fake_uow, [stamp], clock=lambda: made)
        lead: Lead = fake_uow.leads.rows[request.lead_id]
        await book(lead, appointment(start, channel), ANNA)
        return lead

    async def book(lead: Lead, booked: Appointment, actor: Actor) -> None:
        lead.schedule(actor=actor, appointment=booked, at=made)
        await fake_uow.leads.save(lead)
        await fake_uow.leads.add_appointment(lead, booked)
        await plan_reminders_of(fake_uow, lead, booked, branch, now=made)

    kept = await scheduled(at(10, 14), ConfirmationChannel.EMAIL)
    unconfirmed = await scheduled(at(10, 14), ConfirmationChannel.NONE)
    cancelled = await scheduled(at(10, 14), ConfirmationChannel.EMAIL)
    moved = await scheduled(at(10, 14), ConfirmationChannel.EMAIL)
    assert fake_uow.reminders.states(kept.id) == [("PENDING", at(9, 14)), ("PENDING", at(10, 12))]
    assert fake_uow.reminders.states(unconfirmed.id) == []

    lead = fake_uow.leads.rows[cancelled.id]
    lead.cancel_by_customer(actor=SYSTEM_PORTAL, at=made, reason=None)
    await fake_uow.leads.save(lead)
    lead = fake_uow.leads.rows[moved.id]  # the DMS deleted it; booked again for the 11th
    lead.cancel_for_deleted_appointment(
        actor=SYSTEM_DMS, appointment_id=lead.appointment_id, at=made
    )
    await fake_uow.leads.save(lead)
    await book(
        fake_uow.leads.rows[moved.id], appointment(at(11, 14), ConfirmationChannel.EMAIL), SVEN
    )
    assert fake_uow.reminders.states(moved.id) == [
        ("CANCELLED", at(9, 14)),
        ("CANCELLED", at(10, 12)),
        ("PENDING", at(10, 14)),
        ("PENDING", at(11, 12)),
    ]
    fake_uow.published.clear()

    def make() -> Any:
        return fake_uow

    assert await send_all_reminders(make, at(9, 13, 59)) == 0
    assert await send_all_reminders(make, at(9, 14)) == 2  # kept's; cancelled's cancelled
    assert await send_all_reminders(make, at(9, 14, 20)) == 0  # never twice
    (reminder,) = fake_uow.published
    assert isinstance(reminder, LeadReminderDue)
    assert (reminder.lead_id, reminder.due_at, reminder.start) == (kept.id, at(9, 14), at(10, 14))
    assert (reminder.channel, reminder.recipient) == (Channel.EMAIL, "meier@example.de")
    assert fake_uow.reminders.states(cancelled.id)[0] == ("CANCELLED", at(9, 14))

    # found only after the start (this service was away): missed, not sent; the cancelled
    # lead's second cancelled too
    assert await send_all_reminders(make, at(10, 14, 5)) == 3
    assert [type(e) for e in fake_uow.published] == [LeadReminderDue, LeadReminderDue]
    assert fake_uow.published[-1].lead_id == moved.id  # its 24 h, due 14:00, not started
    assert fake_uow.reminders.states(kept.id) == [("SENT", at(9, 14)), ("MISSED", at(10, 12))]
    # found in the quiet hours: missed
    assert await send_all_reminders(make, at(11, 21, 30)) == 1
    assert fake_uow.reminders.states(moved.id)[-1] == ("MISSED", at(11, 12))
    assert len(fake_uow.published) == 2
