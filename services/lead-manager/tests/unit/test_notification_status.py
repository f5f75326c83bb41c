"""The delivery status per notification, read off the lead's history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from lead_manager.service.queries import HistoryItem, notifications_of
from osb_contracts.values import Channel, LeadStatus

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def item(minute: int, action: str, reason: str | None = None, **details: str) -> HistoryItem:
    return HistoryItem(
        at=T0 + timedelta(minutes=minute),
        actor_id="x",
        actor_name="x",
        action=action,
        from_status=LeadStatus.REJECTED,
        to_status=LeadStatus.REJECTED,
        reason=reason,
        details=details,
    )


def test_the_latest_outcome_per_notification_counts() -> None:
    mail, sms = str(uuid.uuid4()), str(uuid.uuid4())
    history = [
        item(0, "rejected", channel="EMAIL"),
        item(
            1,
            "notification failed",
            "mailbox full",
            notification_id=mail,
            channel="EMAIL",
            attempts="8",
            error_code="550",
            permanent="True",
        ),
        item(2, "notification sent", notification_id=sms, channel="SMS", attempts="1"),
        item(3, "notification resend requested", notification_id=mail),
        item(4, "notification sent", notification_id=mail, channel="EMAIL", attempts="1"),
    ]
    found = {str(n.notification_id): n for n in notifications_of(history)}
    assert set(found) == {mail, sms}
    assert (found[mail].status, found[mail].channel, found[mail].attempts) == (
        "SENT",
        Channel.EMAIL,
        1,
    )
    assert (found[sms].status, found[sms].channel) == ("SENT", Channel.SMS)


def test_a_resend_request_keeps_the_channel_and_shows_as_requested() -> None:
    mail = str(uuid.uuid4())
    history = [
        item(
            1,
            "notification failed",
            "refused",
            notification_id=mail,
            channel="EMAIL",
            attempts="8",
            error_code="550",
            permanent="True",
        ),
        item(2, "notification resend requested", notification_id=mail),
    ]
    (only,) = notifications_of(history)
    assert (only.status, only.channel, only.attempts, only.reason) == (
        "RESEND_REQUESTED",
        Channel.EMAIL,
        8,
        None,
    )


def test_an_escalation_is_told_apart_from_the_customer_s_messages() -> None:
    customer, escalation = str(uuid.uuid4()), str(uuid.uuid4())
    history = [
        item(1, "notification sent", notification_id=customer, channel="EMAIL", attempts="1"),
        item(
            2,
            "notification sent",
            notification_id=escalation,
            channel="EMAIL",
            attempts="1",
            purpose="escalation",
        ),
        item(3, "notification resend requested", notification_id=escalation),
    ]
    found = {str(n.notification_id): n for n in notifications_of(history)}
    assert not found[customer].escalation
    assert found[escalation].escalation  # also after a resend was asked for
    assert found[escalation].status == "RESEND_REQUESTED"
