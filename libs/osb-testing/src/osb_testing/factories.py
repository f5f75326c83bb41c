"""Contract messages with realistic German data, for tests of every service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from osb_contracts.leads import (
    AppointmentCreated,
    CustomerChoice,
    LeadRejected,
    LeadReminderDue,
    VehicleCase,
)
from osb_contracts.values import Channel, ConfirmationChannel, Customer, Vehicle


def customer(**fields: object) -> Customer:
    values: dict[str, object] = {
        "salutation": "Frau",
        "first_name": "Jürgen",
        "last_name": "Größmann-Öztürk",
        "email": f"kunde.{uuid.uuid4().hex[:8]}@example.de",
        "mobile": "+491701234567",
    }
    values.update(fields)
    return Customer.model_validate(values)


def rejection(
    channel: Channel = Channel.EMAIL,
    branch: str = "HH-01",
    *,
    text: str = "Leider können wir Ihren Wunschtermin nicht bestätigen. Grüße aus Öhringen!",
    subject: str | None = None,
    recipient: str | None = None,
) -> LeadRejected:
    c = customer()
    default = c.email if channel is Channel.EMAIL else c.mobile
    return LeadRejected(
        lead_id=uuid.uuid4(),
        booking_id=f"B-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        rejected_by="anna",
        rejected_at=datetime.now(UTC),
        channel=channel,
        recipient=recipient or str(default),
        subject=subject,
        text=text,
        customer=c,
    )


def appointment(confirmation: ConfirmationChannel, branch: str = "HH-01") -> AppointmentCreated:
    c = customer()
    start_at = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    return AppointmentCreated(
        lead_id=uuid.uuid4(),
        appointment_id=uuid.uuid4(),
        booking_id=f"B-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        start=start_at,
        end=start_at + timedelta(hours=1),
        acceptor="anna",
        customer_number="K-1",
        customer_choice=CustomerChoice.EXISTING,
        customer=c,
        vehicle=Vehicle(make="VW", model="Käfer", licence_plate="HH-AB 1"),
        vehicle_case=VehicleCase.OWNED_BY_CUSTOMER,
        confirmation=confirmation,
        recipient=c.email if confirmation is ConfirmationChannel.EMAIL else c.mobile,
        created_by="anna",
        created_at=datetime.now(UTC),
    )


def reminder(
    channel: Channel = Channel.EMAIL,
    branch: str = "HH-01",
    *,
    recipient: str | None = None,
    start: datetime | None = None,
    due_at: datetime | None = None,
) -> LeadReminderDue:
    """An appointment's reminder as lead-manager sends it: due now, the appointment a day
    later unless told otherwise."""
    c = customer()
    due_at = due_at or datetime.now(UTC)
    start = start or due_at + timedelta(days=1)
    default = c.email if channel is Channel.EMAIL else c.mobile
    return LeadReminderDue(
        lead_id=uuid.uuid4(),
        reminder_id=uuid.uuid4(),
        booking_id=f"B-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        appointment_id=uuid.uuid4(),
        start=start,
        end=start + timedelta(hours=1),
        channel=channel,
        recipient=recipient or str(default),
        customer=c,
        vehicle=Vehicle(make="VW", model="Käfer", licence_plate="HH-AB 1"),
        due_at=due_at,
    )
