"""Every (status, trigger) pair: the transitions of DOMAIN.md allowed, every other refused."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from lead_manager.domain.model import (
    Appointment,
    Lead,
    PermissionMissingError,
    TransitionRefusedError,
    Trigger,
    decide,
)
from lead_manager.domain.permissions import SYSTEM_DMS, SYSTEM_PORTAL, Actor, Permission
from osb_contracts.leads import (
    AppointmentCreated,
    CustomerChoice,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadCreated,
    LeadRejected,
    LeadRequested,
    LeadUpdated,
    VehicleCase,
)
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle

S = LeadStatus
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
BRANCH = "HH-01"

# DOMAIN.md's table: (from, trigger) -> (to, needs "Stornierte Terminleads bearbeiten")
ALLOWED = {
    (S.NEW, Trigger.SCHEDULE): (S.SCHEDULED, False),
    (S.NEW, Trigger.REJECT): (S.REJECTED, False),
    (S.SCHEDULED, Trigger.APPOINTMENT_DELETED): (S.CANCELLED, False),
    (S.NEW, Trigger.CUSTOMER_CANCELS): (S.CANCELLED_BY_CUSTOMER, False),
    (S.SCHEDULED, Trigger.CUSTOMER_CANCELS): (S.CANCELLED_BY_CUSTOMER, False),
    (S.NEW, Trigger.CORRECT_DATA): (S.NEW, False),
    (S.REJECTED, Trigger.CORRECT_DATA): (S.REJECTED, True),
    (S.CANCELLED_BY_CUSTOMER, Trigger.CORRECT_DATA): (S.CANCELLED_BY_CUSTOMER, True),
    (S.CANCELLED, Trigger.CORRECT_DATA): (S.CANCELLED, True),
    (S.REJECTED, Trigger.SCHEDULE): (S.SCHEDULED, True),
    (S.CANCELLED_BY_CUSTOMER, Trigger.SCHEDULE): (S.SCHEDULED, True),
    (S.CANCELLED, Trigger.SCHEDULE): (S.SCHEDULED, True),
}
PAIRS = list(itertools.product(LeadStatus, Trigger))

ADVISOR = Actor("anna", "Anna Advisor", {BRANCH: frozenset({Permission.LEAD_MANAGER})})
SENIOR = Actor(
    "sven",
    "Sven Senior",
    {BRANCH: frozenset({Permission.LEAD_MANAGER, Permission.EDIT_CANCELLED})},
)
OUTSIDER = Actor("otto", "Otto", {"M-01": frozenset(Permission)})


@pytest.mark.parametrize(("status", "trigger"), PAIRS)
def test_decide_over_every_pair(status: LeadStatus, trigger: Trigger) -> None:
    expected = ALLOWED.get((status, trigger))
    if expected is None:
        for may in (False, True):
            with pytest.raises(TransitionRefusedError, match=f"status {status}") as err:
                decide(status, trigger, may_edit_cancelled=may)
            assert not isinstance(err.value, PermissionMissingError)
        return
    target, needs_permission = expected
    assert decide(status, trigger, may_edit_cancelled=True) == target
    if needs_permission:
        with pytest.raises(PermissionMissingError, match="Stornierte Terminleads bearbeiten"):
            decide(status, trigger, may_edit_cancelled=False)
    else:
        assert decide(status, trigger, may_edit_cancelled=False) == target


def new_lead() -> Lead:
    request = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id="B-1",
        branch_id=BRANCH,
        received_at=NOW,
        requested_start=NOW + timedelta(days=2),
        customer=Customer(last_name="Meier", email="meier@example.de", customer_number="K-1"),
        vehicle=Vehicle(licence_plate="HH-AB 1"),
    )
    return Lead.create(request, actor=SYSTEM_PORTAL, at=NOW)


def lead_in(status: LeadStatus) -> Lead:
    lead = new_lead()
    lead.status = status
    if status in (S.SCHEDULED, S.CANCELLED):
        lead.appointment_id = uuid.UUID(int=7)
    return lead.copy()


def appointment() -> Appointment:
    return Appointment(
        id=uuid.UUID(int=8),
        start=NOW + timedelta(days=2),
        end=NOW + timedelta(days=2, hours=1),
        acceptor="anna",
        customer_number="K-1",
        customer_choice=CustomerChoice.EXISTING,
        customer=Customer(last_name="Meier"),
        vehicle=Vehicle(),
        vehicle_case=VehicleCase.TRANSIT,
    )


def fire(lead: Lead, trigger: Trigger, actor: Actor) -> None:
    if trigger is Trigger.SCHEDULE:
        lead.schedule(actor=actor, appointment=appointment(), at=NOW)
    elif trigger is Trigger.REJECT:
        lead.reject(
            actor=actor,
            channel=Channel.EMAIL,
            recipient="m@example.de",
            text="Leider nicht.",
            subject=None,
            at=NOW,
        )
    elif trigger is Trigger.APPOINTMENT_DELETED:
        lead.cancel_for_deleted_appointment(
            actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=7), at=NOW
        )
    elif trigger is Trigger.CUSTOMER_CANCELS:
        lead.cancel_by_customer(actor=SYSTEM_PORTAL, at=NOW, reason=None)
    else:
        lead.correct(
            actor=actor,
            customer=lead.customer.model_copy(update={"first_name": "Eva"}),
            vehicle=lead.vehicle,
            at=NOW,
        )


EVENT_OF = {
    Trigger.SCHEDULE: AppointmentCreated,
    Trigger.REJECT: LeadRejected,
    Trigger.APPOINTMENT_DELETED: LeadCancelled,
    Trigger.CUSTOMER_CANCELS: LeadCancelledByCustomer,
    Trigger.CORRECT_DATA: LeadUpdated,
}


@pytest.mark.parametrize(("status", "trigger"), PAIRS)
def test_the_aggregate_over_every_pair(status: LeadStatus, trigger: Trigger) -> None:
    expected = ALLOWED.get((status, trigger))
    for actor in (ADVISOR, SENIOR):
        lead = lead_in(status)
        before = lead.copy()
        allowed = expected is not None and (not expected[1] or actor is SENIOR)
        if not allowed:
            with pytest.raises(TransitionRefusedError):
                fire(lead, trigger, actor)
            assert lead == before, "a refused trigger changed the lead"
            assert lead.events == []
            assert lead.new_history == []
            continue
        assert expected is not None
        fire(lead, trigger, actor)
        assert lead.status == expected[0]
        assert [type(e) for e in lead.events] == [EVENT_OF[trigger]]
        assert len(lead.new_history) == 1
        entry = lead.new_history[0]
        assert (entry.from_status, entry.to_status) == (status, expected[0])


def test_creation_emits_lead_created_and_history() -> None:
    lead = new_lead()
    assert lead.status is S.NEW
    assert [type(e) for e in lead.events] == [LeadCreated]
    assert lead.new_history[0].action == "created"
    assert lead.new_history[0].actor_name == "Online-Terminbuchung"


def test_users_of_another_branch_may_not_act() -> None:
    lead = lead_in(S.NEW)
    with pytest.raises(PermissionMissingError, match="Servicetermin Leadmanager"):
        fire(lead, Trigger.REJECT, OUTSIDER)
    assert lead.status is S.NEW


def test_rejection_carries_the_final_text() -> None:
    lead = lead_in(S.NEW)
    lead.reject(
        actor=ADVISOR,
        channel=Channel.SMS,
        recipient="+4940123",
        text="Bearbeitet!",
        subject=None,
        at=NOW,
    )
    (event,) = lead.events
    assert isinstance(event, LeadRejected)
    assert (event.text, event.channel, event.rejected_by) == ("Bearbeitet!", Channel.SMS, "anna")


def test_a_deleted_appointment_of_another_lead_changes_nothing() -> None:
    lead = lead_in(S.SCHEDULED)
    with pytest.raises(TransitionRefusedError, match="not this lead's appointment"):
        lead.cancel_for_deleted_appointment(
            actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=99), at=NOW
        )
    assert lead.status is S.SCHEDULED


def test_cancellation_by_customer_carries_the_appointment() -> None:
    lead = lead_in(S.SCHEDULED)
    lead.cancel_by_customer(actor=SYSTEM_PORTAL, at=NOW, reason="verhindert")
    (event,) = lead.events
    assert isinstance(event, LeadCancelledByCustomer)
    assert event.appointment_id == uuid.UUID(int=7)
    assert event.previous_status is S.SCHEDULED


def test_correcting_names_the_changed_fields() -> None:
    lead = lead_in(S.NEW)
    changed = lead.correct(
        actor=ADVISOR,
        customer=lead.customer.model_copy(update={"first_name": "Eva"}),
        vehicle=Vehicle(licence_plate="HH-XY 2"),
        at=NOW,
    )
    assert changed == ["customer.first_name", "vehicle.licence_plate"]
    nothing = lead.correct(actor=ADVISOR, customer=lead.customer, vehicle=lead.vehicle, at=NOW)
    assert nothing == []
    assert len(lead.events) == 1
