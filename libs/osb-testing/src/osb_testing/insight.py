"""A seeded lead history for the branch figures (Auswertung), counted by hand.

The branch has no settings of its own, so it has the defaults: Monday to Friday
08:00-18:00, Germany's public holidays, Europe/Berlin (CET in November: UTC+1). The period
is Monday 02.11.2026 to Wednesday 04.11.2026; lead 7 was received after it.

lead  received (Berlin)  then                                              decided after
1     Mon 09:00          rejected Mon 10:30 "Kein freier Termin";           90 min
                         its creation published twice
2     Mon 09:30          scheduled Tue 09:00 (existing customer),           510 + 60 = 570 min
                         deleted in the DMS Wed 09:00
3     Mon 17:00          scheduled Mon 17:30 (new customer); one e-mail     30 min
                         failed twice (counts once), one delivered
4     Tue 12:00          overdue Tue 14:00, rejected Wed 08:30, no reason   360 + 30 = 390 min
5     Tue 20:00          cancelled by the customer Tue 21:00                -
6     Wed 10:00          overdue Wed 12:00, escalation e-mail failed; new   -
7     Thu 05.11 10:00    scheduled (cash sale): after the period            30 min

Time to decision of the period, [30, 90, 390, 570] minutes: median (90 + 390) / 2 = 240,
90th percentile 390 + 0.7 * (570 - 390) = 516 (interpolated, PostgreSQL's percentile_cont).
Monday alone, [30, 90, 570]: median 90, 90th percentile 90 + 0.8 * (570 - 90) = 474.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from faststream.kafka import KafkaBroker
from osb_contracts import Message
from osb_contracts.leads import (
    AppointmentCreated,
    CustomerChoice,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadCreated,
    LeadNotificationOutcome,
    LeadOverdue,
    LeadRejected,
    NotificationPurpose,
    VehicleCase,
)
from osb_contracts.topics import LEAD_EVENTS
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle
from osb_platform import publish

from osb_testing.kafka import end_offsets

BERLIN = ZoneInfo("Europe/Berlin")
FIRST_DAY, LAST_DAY = "2026-11-02", "2026-11-04"

# What the figures of the period must say, counted by hand from the table above.
EXPECTED_TOTAL = {
    "received": 6,
    "new": 1,
    "scheduled": 1,
    "rejected": 2,
    "cancelled_by_customer": 1,
    "cancelled": 1,
    "overdue": 2,
    "failed_notifications": 2,
    "decision_median": 240.0,
    "decision_p90": 516.0,
}
EXPECTED_DAYS = {
    "2026-11-02": {
        "received": 3,
        "scheduled": 1,
        "rejected": 1,
        "cancelled": 1,
        "failed_notifications": 1,
    },
    "2026-11-03": {"received": 2, "rejected": 1, "cancelled_by_customer": 1, "overdue": 1},
    "2026-11-04": {"received": 1, "new": 1, "overdue": 1, "failed_notifications": 1},
}
EXPECTED_MONDAY_DECISIONS = (90.0, 474.0)
EXPECTED_REASONS = {"Kein freier Termin": 1, "": 1}
EXPECTED_CHOICES = {"EXISTING": 1, "NEW_CUSTOMER": 1}


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


def seeded_history(branch_id: str) -> list[Message]:
    """The table's events in the order lead-manager would have published them."""
    ids = {n: uuid.uuid4() for n in range(1, 8)}
    customer = Customer(last_name="Auswertung", email="auswertung@example.de")
    vehicle = Vehicle(licence_plate="HH-AW 1")

    def created(n: int, at: datetime) -> LeadCreated:
        return LeadCreated(
            lead_id=ids[n],
            booking_id=f"B-{ids[n].hex[:8]}",
            branch_id=branch_id,
            created_at=at,
            requested_start=at + timedelta(days=7),
            customer=customer,
        )

    def scheduled(n: int, at: datetime, choice: CustomerChoice) -> AppointmentCreated:
        return AppointmentCreated(
            lead_id=ids[n],
            appointment_id=uuid.uuid5(ids[n], "appointment"),
            booking_id=f"B-{ids[n].hex[:8]}",
            branch_id=branch_id,
            start=at + timedelta(days=7),
            end=at + timedelta(days=7, hours=1),
            acceptor="anna",
            customer_number="K-1",
            customer_choice=choice,
            customer=customer,
            vehicle=vehicle,
            vehicle_case=VehicleCase.OWNED_BY_CUSTOMER,
            created_by="anna",
            created_at=at,
        )

    def rejected(n: int, at: datetime, reason: str | None) -> LeadRejected:
        return LeadRejected(
            lead_id=ids[n],
            booking_id=f"B-{ids[n].hex[:8]}",
            branch_id=branch_id,
            rejected_by="anna",
            rejected_at=at,
            channel=Channel.EMAIL,
            recipient="auswertung@example.de",
            text="Leider nicht möglich.",
            customer=customer,
            reason=reason,
        )

    def outcome(
        n: int, at: datetime, notification: uuid.UUID, *, delivered: bool, escalation: bool = False
    ) -> LeadNotificationOutcome:
        return LeadNotificationOutcome(
            lead_id=ids[n],
            branch_id=branch_id,
            status=LeadStatus.NEW if escalation else LeadStatus.SCHEDULED,
            notification_id=notification,
            channel=Channel.EMAIL,
            purpose=NotificationPurpose.ESCALATION if escalation else NotificationPurpose.CUSTOMER,
            delivered=delivered,
            error_code=None if delivered else "SMTP_550",
            at=at,
        )

    def overdue(n: int, received: datetime, at: datetime) -> LeadOverdue:
        return LeadOverdue(
            lead_id=ids[n],
            booking_id=f"B-{ids[n].hex[:8]}",
            branch_id=branch_id,
            received_at=received,
            respond_by=at,
            overdue_at=at,
        )

    failing, delivered, escalation = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return [
        created(1, _at(2, 9)),
        created(1, _at(2, 9)),  # the outbox sent it twice
        created(2, _at(2, 9, 30)),
        rejected(1, _at(2, 10, 30), "Kein freier Termin"),
        created(3, _at(2, 17)),
        scheduled(3, _at(2, 17, 30), CustomerChoice.NEW_CUSTOMER),
        outcome(3, _at(2, 17, 31), failing, delivered=False),
        outcome(3, _at(2, 17, 41), failing, delivered=False),  # the same e-mail again
        outcome(3, _at(2, 17, 42), delivered, delivered=True),
        scheduled(2, _at(3, 9), CustomerChoice.EXISTING),
        created(4, _at(3, 12)),
        overdue(4, _at(3, 12), _at(3, 14)),
        created(5, _at(3, 20)),
        LeadCancelledByCustomer(
            lead_id=ids[5],
            booking_id=f"B-{ids[5].hex[:8]}",
            branch_id=branch_id,
            cancelled_at=_at(3, 21),
            previous_status=LeadStatus.NEW,
        ),
        rejected(4, _at(4, 8, 30), None),
        LeadCancelled(
            lead_id=ids[2],
            appointment_id=uuid.uuid5(ids[2], "appointment"),
            branch_id=branch_id,
            cancelled_at=_at(4, 9),
        ),
        created(6, _at(4, 10)),
        overdue(6, _at(4, 10), _at(4, 12)),
        outcome(6, _at(4, 12, 1), escalation, delivered=False, escalation=True),
        created(7, _at(5, 10)),
        scheduled(7, _at(5, 10, 30), CustomerChoice.CASH_SALE),
    ]


async def publish_history(bus: KafkaBroker, messages: list[Message]) -> None:
    """On ``osb.lead.events.v1``, keyed by lead as lead-manager's outbox does."""
    for message in messages:
        key = str(message.lead_id)  # type: ignore[attr-defined]
        await publish(bus, message, topic=LEAD_EVENTS, key=key, source="/test/lead-manager")


async def wait_projected(bootstrap: str, database_url: str, *, timeout: float = 300.0) -> None:
    """Wait until lead-manager's read model holds every lead event published so far."""
    ends = {tp.partition: n for tp, n in (await end_offsets(bootstrap, [LEAD_EVENTS.name])).items()}

    async def behind() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT partition, next_offset FROM insight_positions")
        finally:
            await conn.close()
        held = {r["partition"]: r["next_offset"] for r in rows}
        return sum(max(0, end - held.get(p, 0)) for p, end in ends.items())

    try:
        async with asyncio.timeout(timeout):
            while await behind():
                await asyncio.sleep(0.1)
    except TimeoutError:
        left = await behind()
        raise AssertionError(
            f"the read model is {left} lead events behind after {timeout} s"
        ) from None
