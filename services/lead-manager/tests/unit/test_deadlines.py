"""New leads past their deadline are reported once, with the branch's escalation address;
a lead still in time or already decided is not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import RuleViolationError
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.service.deadlines import report_all_overdue
from lead_manager.service.events import handle_lead_requests
from osb_contracts import Envelope
from osb_contracts.leads import LeadOverdue, LeadRequested
from osb_contracts.values import Channel

MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 in Hamburg, open 08:00-18:00
ANNA = Actor("anna", "Anna", {"HH-01": frozenset({Permission.LEAD_MANAGER})})


def envelope(message: LeadRequested) -> Envelope[Any]:
    kind = message.cloudevents_type()
    return Envelope(str(message.lead_id), kind, "/t", MONDAY, "c", None, None, message)


async def test_overdue_leads_are_reported_once_with_the_escalation_address(
    fake_uow: Any, lead_request: Callable[..., LeadRequested]
) -> None:
    fake_uow.branches.rows["HH-01"] = BranchSettings(
        "HH-01", "Hansa", escalation_email="leitung@hansa.example"
    )
    late, in_time, decided = (
        lead_request().model_copy(update={"branch_id": "HH-01", "received_at": at})
        for at in (MONDAY, MONDAY + timedelta(hours=3), MONDAY)
    )
    for request in (late, in_time, decided):
        await handle_lead_requests(fake_uow, [envelope(request)], clock=lambda: MONDAY)
    assert fake_uow.leads.rows[late.lead_id].respond_by == MONDAY + timedelta(hours=2)
    answered = fake_uow.leads.rows[decided.lead_id]
    answered.reject(
        actor=ANNA,
        channel=Channel.EMAIL,
        recipient="k@example.de",
        text="Leider nicht.",
        subject=None,
        at=MONDAY,
    )  # a person decided: the clock stopped
    fake_uow.published.clear()

    at = MONDAY + timedelta(hours=2, minutes=1)
    assert await report_all_overdue(lambda: fake_uow, at) == 1
    assert await report_all_overdue(lambda: fake_uow, at) == 0  # never twice
    (reported,) = fake_uow.published
    assert isinstance(reported, LeadOverdue)
    assert (reported.lead_id, reported.escalation_email) == (late.lead_id, "leitung@hansa.example")
    assert (reported.respond_by, reported.overdue_at) == (MONDAY + timedelta(hours=2), at)
    assert fake_uow.leads.rows[late.lead_id].escalated_at == at
    assert [h.action for h in fake_uow.history][-1] == "deadline passed"


def test_only_a_new_lead_past_its_deadline_can_be_reported(
    lead_request: Callable[..., LeadRequested],
) -> None:
    from lead_manager.domain.model import Lead

    lead = Lead.create(lead_request(), actor=ANNA, at=MONDAY)
    lead.respond_by = MONDAY + timedelta(hours=2)
    with pytest.raises(RuleViolationError, match="not overdue"):
        lead.escalate(at=MONDAY + timedelta(hours=1), escalation_email=None)
    lead.escalate(at=MONDAY + timedelta(hours=2), escalation_email=None)
    with pytest.raises(RuleViolationError, match="reported already"):
        lead.escalate(at=MONDAY + timedelta(hours=3), escalation_email=None)
