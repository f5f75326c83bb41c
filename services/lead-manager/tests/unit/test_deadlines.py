"""New leads past their deadline are reported once, with the branch's escalation address;
a lead still in time or already decided is not. Scheduled leads whose customer did not
arrive become no-shows after the branch's grace, once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.model import RuleViolationError
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.service.deadlines import mark_all_no_shows, report_all_overdue
from lead_manager.service.events import handle_lead_requests
from osb_contracts import Envelope
from osb_contracts.leads import LeadNoShow, LeadOverdue, LeadRequested
from osb_contracts.values import Channel, LeadStatus

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


async def test_no_shows_after_the_branch_s_grace_once_and_never_for_an_arrived_customer(
    fake_uow: Any, lead_request: Callable[..., LeadRequested]
) -> None:
    """The clock is an argument: minutes before and after each branch's grace."""
    fake_uow.branches.rows["HH-01"] = BranchSettings("HH-01", "Hansa", no_show_grace_minutes=15)
    start = MONDAY + timedelta(days=1)
    hansa, arrives, elsewhere = (
        lead_request().model_copy(update={"branch_id": branch})
        for branch in ("HH-01", "HH-01", "M-01")  # M-01 unconfigured: 30 minutes
    )
    for n, request in enumerate((hansa, arrives, elsewhere), start=1):
        await handle_lead_requests(fake_uow, [envelope(request)], clock=lambda: MONDAY)
        lead = fake_uow.leads.rows[request.lead_id]
        lead.status, lead.appointment_id = LeadStatus.SCHEDULED, uuid.UUID(int=n)
        fake_uow.leads.starts[lead.appointment_id] = start
    fake_uow.leads.rows[arrives.lead_id].arrived_at = start + timedelta(minutes=5)
    fake_uow.published.clear()

    def make() -> Any:
        return fake_uow

    assert await mark_all_no_shows(make, start + timedelta(minutes=14, seconds=59)) == 0
    assert await mark_all_no_shows(make, start + timedelta(minutes=15)) == 1
    assert await mark_all_no_shows(make, start + timedelta(minutes=29)) == 0  # never twice
    assert await mark_all_no_shows(make, start + timedelta(minutes=30)) == 1
    assert [(type(e), e.lead_id) for e in fake_uow.published] == [
        (LeadNoShow, hansa.lead_id),
        (LeadNoShow, elsewhere.lead_id),
    ]
    statuses = {i: fake_uow.leads.rows[i].status for i in (hansa.lead_id, arrives.lead_id)}
    assert statuses == {hansa.lead_id: LeadStatus.NO_SHOW, arrives.lead_id: LeadStatus.SCHEDULED}
