"""The bus handlers over the in-memory unit of work."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lead_manager.service.events import (
    handle_dms_appointments,
    handle_lead_requests,
    handle_notification_outcomes,
)
from osb_contracts import Envelope, Message
from osb_contracts.dms import AppointmentDeleted
from osb_contracts.leads import (
    LeadCancellationRequested,
    LeadCancelledByCustomer,
    LeadCreated,
    LeadRequested,
)
from osb_contracts.notifications import NotificationSent
from osb_contracts.values import Channel, LeadStatus

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def env(message: Message, event_id: str | None = None) -> Envelope[Any]:
    return Envelope(
        event_id or str(uuid.uuid4()),
        message.cloudevents_type(),
        "/t",
        NOW,
        "c",
        None,
        None,
        message,
    )


async def test_one_lead_per_booking_even_twice_in_one_batch(
    fake_uow: Any, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    await handle_lead_requests(fake_uow, [env(request), env(request)], clock=clock)
    await handle_lead_requests(fake_uow, [env(request)], clock=clock)
    assert list(fake_uow.leads.rows) == [request.lead_id]
    assert [type(m) for m in fake_uow.published] == [LeadCreated]
    assert [h.action for h in fake_uow.history] == ["created"]


async def test_a_redelivered_event_is_skipped(
    fake_uow: Any, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    cancel = LeadCancellationRequested(
        lead_id=request.lead_id, booking_id=request.booking_id, branch_id="HH-01", cancelled_at=NOW
    )
    batch = [env(request, "e1"), env(cancel, "e2")]
    await handle_lead_requests(fake_uow, batch, clock=clock)
    await handle_lead_requests(fake_uow, batch, clock=clock)
    assert fake_uow.leads.rows[request.lead_id].status is LeadStatus.CANCELLED_BY_CUSTOMER
    assert [type(m) for m in fake_uow.published] == [LeadCreated, LeadCancelledByCustomer]
    assert {("lead-manager.lead-requests", "e1"), ("lead-manager.lead-requests", "e2")} <= (
        fake_uow.inbox
    )


async def test_a_redelivered_notification_outcome_is_noted_once(
    fake_uow: Any, lead_request: Callable[..., LeadRequested]
) -> None:
    # Noting an outcome is no transition: only the inbox keeps a redelivery out of the history.
    request = lead_request()
    await handle_lead_requests(fake_uow, [env(request)], clock=clock)
    sent = NotificationSent(
        notification_id=uuid.uuid4(),
        lead_id=request.lead_id,
        branch_id=request.branch_id,
        source_event_id="e1",
        source_event_type="osb.lead.LeadRejected.v1",
        channel=Channel.EMAIL,
        sent_at=NOW,
        attempts=1,
    )
    await handle_notification_outcomes(fake_uow, [env(sent, "n1"), env(sent, "n1")], clock=clock)
    await handle_notification_outcomes(fake_uow, [env(sent, "n1")], clock=clock)
    assert [h.action for h in fake_uow.history] == ["created", "notification sent"]


async def test_events_that_change_nothing_are_dropped_without_error(
    fake_uow: Any, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    unknown = LeadCancellationRequested(
        lead_id=uuid.uuid4(), booking_id="B-x", branch_id="HH-01", cancelled_at=NOW
    )
    deleted = AppointmentDeleted(appointment_id=uuid.uuid4(), branch_id="HH-01", deleted_at=NOW)
    await handle_lead_requests(fake_uow, [env(unknown), env(request)], clock=clock)
    await handle_dms_appointments(fake_uow, [env(deleted)], clock=clock)
    # NEW cannot be cancelled for a deleted appointment: refused, lead unchanged.
    assert fake_uow.leads.rows[request.lead_id].status is LeadStatus.NEW
    assert [type(m) for m in fake_uow.published] == [LeadCreated]
