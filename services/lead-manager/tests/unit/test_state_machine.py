"""Every (status, trigger) pair: the transitions of DOMAIN.md allowed, every other refused;
the permission each command needs, the data each event carries, the rules that refuse."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from lead_manager.domain.model import (
    Appointment,
    Lead,
    Offer,
    PermissionMissingError,
    RuleViolationError,
    TransitionRefusedError,
    Trigger,
    decide,
)
from lead_manager.domain.permissions import (
    SYSTEM_DMS,
    SYSTEM_NOTIFIER,
    SYSTEM_PORTAL,
    Actor,
    Permission,
)
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    AppointmentWarning,
    CustomerChoice,
    LeadArrived,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadConfirmedByCustomer,
    LeadCreated,
    LeadNoShow,
    LeadNotificationOutcome,
    LeadRejected,
    LeadRequested,
    LeadRescheduleRequested,
    LeadUpdated,
    Unusable,
    UnusableValue,
    VehicleCase,
)
from osb_contracts.notifications import (
    NotificationFailed,
    NotificationResendRequested,
    NotificationSent,
)
from osb_contracts.values import (
    Address,
    Channel,
    ConfirmationChannel,
    Customer,
    LeadStatus,
    Vehicle,
)

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
    # issue 17: the DMS checks the customer in; nobody by the start and the grace: no-show
    (S.SCHEDULED, Trigger.ARRIVE): (S.SCHEDULED, False),
    (S.SCHEDULED, Trigger.NO_SHOW): (S.NO_SHOW, False),
    (S.NO_SHOW, Trigger.ARRIVE): (S.SCHEDULED, False),
    (S.NO_SHOW, Trigger.APPOINTMENT_DELETED): (S.CANCELLED, False),
    (S.NO_SHOW, Trigger.CORRECT_DATA): (S.NO_SHOW, True),
    (S.NO_SHOW, Trigger.SCHEDULE): (S.SCHEDULED, True),
    # the customer asks for another time by a link: new again, for the advisor to decide
    (S.SCHEDULED, Trigger.CUSTOMER_RESCHEDULES): (S.NEW, False),
    # Ablehnen mit Terminvorschlag: taken or scheduled, lapsed, withdrawn, cancelled
    (S.NEW, Trigger.OFFER): (S.OFFERED, False),
    (S.OFFERED, Trigger.SCHEDULE): (S.SCHEDULED, False),
    (S.OFFERED, Trigger.OFFER_LAPSES): (S.REJECTED, False),
    (S.OFFERED, Trigger.REJECT): (S.REJECTED, False),
    (S.OFFERED, Trigger.CUSTOMER_CANCELS): (S.CANCELLED_BY_CUSTOMER, False),
    (S.OFFERED, Trigger.CORRECT_DATA): (S.OFFERED, False),
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
        with pytest.raises(PermissionMissingError, match="EDIT_CANCELLED") as missing:
            decide(status, trigger, may_edit_cancelled=False)
        assert missing.value.params == {"status": status.value, "permission": "EDIT_CANCELLED"}
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
    if status in (S.SCHEDULED, S.CANCELLED, S.NO_SHOW):
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
    elif trigger is Trigger.ARRIVE:
        lead.arrive(actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=7), at=NOW)
    elif trigger is Trigger.NO_SHOW:
        lead.mark_no_show(appointment_start=NOW - timedelta(hours=1), at=NOW)
    elif trigger is Trigger.OFFER:
        start = NOW + timedelta(days=4)
        lead.offer(
            actor=actor,
            offer=Offer(
                uuid.UUID(int=9),
                ((start, start + timedelta(hours=1)),),
                NOW + timedelta(days=2),
                Channel.EMAIL,
                "m@example.de",
            ),
            at=NOW,
        )
    elif trigger is Trigger.OFFER_LAPSES:
        lead.lapse_offer(
            channel=Channel.EMAIL, recipient="m@example.de", text="Leider.", subject=None, at=NOW
        )
    elif trigger is Trigger.CUSTOMER_RESCHEDULES:
        lead.request_other_time(
            actor=SYSTEM_PORTAL,
            appointment_id=uuid.UUID(int=7),
            requested_start=NOW + timedelta(days=5),
            note=None,
            at=NOW,
        )
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
    Trigger.ARRIVE: LeadArrived,
    Trigger.NO_SHOW: LeadNoShow,
    Trigger.CUSTOMER_RESCHEDULES: LeadRescheduleRequested,
    Trigger.OFFER: AppointmentOffered,
    Trigger.OFFER_LAPSES: LeadRejected,
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
    with pytest.raises(PermissionMissingError, match="LEAD_MANAGER"):
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


def test_what_could_not_be_used_stays_on_the_lead_until_the_advisor_corrects_it() -> None:
    phone = UnusableValue(field="customer.mobile", value="0172 abc", code=Unusable.PHONE_INVALID)
    birth = UnusableValue(
        field="customer.birth_date", value="1850-01-01", code=Unusable.BIRTH_DATE_IMPLAUSIBLE
    )
    request = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id="B-8",
        branch_id=BRANCH,
        received_at=NOW,
        requested_start=NOW + timedelta(days=2),
        customer=Customer(last_name="Meier", email="meier@example.de"),
        unusable=(phone, birth),
    )
    lead = Lead.create(request, actor=SYSTEM_DMS, at=NOW)
    (created,) = lead.events
    assert isinstance(created, LeadCreated)
    assert lead.unusable == created.unusable == (phone, birth)
    assert lead.customer.mobile is None  # never sent to
    lead.correct(
        actor=ADVISOR,
        customer=lead.customer.model_copy(update={"mobile": "+4917212345678"}),
        vehicle=lead.vehicle,
        at=NOW,
    )
    assert list(lead.unusable) == [birth]


# LEAD_MANAGER elsewhere only: the permission must be the lead's branch's
ELSEWHERE = Actor("eve", "Eve", {"M-01": frozenset({Permission.LEAD_MANAGER})})
ADMIN_ONLY = Actor("olga", "Olga", {BRANCH: frozenset({Permission.OSB_ADMIN})})


def corrected(lead: Lead, actor: Actor) -> list[str]:
    return lead.correct(
        actor=actor,
        customer=lead.customer.model_copy(update={"first_name": "Eva"}),
        vehicle=lead.vehicle,
        at=NOW,
    )


COMMANDS: dict[str, Callable[[Lead, Actor], object]] = {
    "schedule": lambda lead, actor: lead.schedule(actor=actor, appointment=appointment(), at=NOW),
    "correct": corrected,
    "resend": lambda lead, actor: lead.request_resend(
        actor=actor, notification_id=uuid.UUID(int=5), at=NOW
    ),
    "ensure_allowed": lambda lead, actor: lead.ensure_allowed(Trigger.SCHEDULE, actor),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("actor", [OUTSIDER, ELSEWHERE, ADMIN_ONLY], ids=["other", "else", "admin"])
def test_every_advisor_command_needs_lead_manager_for_the_leads_branch(
    command: str, actor: Actor
) -> None:
    lead = lead_in(S.NEW)
    before = lead.copy()
    with pytest.raises(PermissionMissingError, match=r"LEAD_MANAGER.*HH-01") as missing:
        COMMANDS[command](lead, actor)
    assert missing.value.params == {"permission": "LEAD_MANAGER", "branch": "HH-01"}
    assert lead == before
    assert (lead.events, lead.new_history) == ([], [])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_advisor_command_is_allowed_with_lead_manager(command: str) -> None:
    lead = lead_in(S.NEW)
    COMMANDS[command](lead, ADVISOR)
    assert lead.events or command == "ensure_allowed"


def test_creation_takes_the_request_as_it_is() -> None:
    request = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id="B-7",
        branch_id=BRANCH,
        received_at=NOW,
        requested_start=NOW + timedelta(days=2),
        requested_end=NOW + timedelta(days=2, hours=2),
        services=("Inspektion",),
        comment="Bitte Ersatzwagen",
        warnings=("phone",),
        customer=Customer(last_name="Meier"),
        vehicle=Vehicle(licence_plate="HH-AB 1"),
    )
    lead = Lead.create(request, actor=SYSTEM_DMS, at=NOW)
    assert (lead.requested_end, lead.services, lead.comment, lead.warnings) == (
        request.requested_end,
        ("Inspektion",),
        "Bitte Ersatzwagen",
        ("phone",),
    )
    (event,) = lead.events
    assert isinstance(event, LeadCreated)
    assert (event.created_at, event.requested_end, event.services) == (
        NOW,
        request.requested_end,
        ("Inspektion",),
    )
    (entry,) = lead.new_history
    assert (entry.from_status, entry.to_status, entry.reason) == (
        None,
        S.NEW,
        "booked on the portal",
    )


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_a_rejection_without_text_is_refused_and_changes_nothing(text: str) -> None:
    lead = lead_in(S.NEW)
    with pytest.raises(RuleViolationError) as refused:
        lead.reject(
            actor=ADVISOR,
            channel=Channel.EMAIL,
            recipient="m@example.de",
            text=text,
            subject="Ihr Termin",
            at=NOW,
        )
    assert refused.value.field == "text"
    assert (lead.status, lead.events, lead.new_history) == (S.NEW, [], [])


def test_a_rejection_records_the_channel_and_carries_subject_and_customer() -> None:
    lead = lead_in(S.NEW)
    lead.reject(
        actor=ADVISOR,
        channel=Channel.EMAIL,
        recipient="m@example.de",
        text="Leider belegt.",
        subject="Ihr Termin",
        at=NOW,
    )
    (entry,) = lead.new_history
    assert (entry.action, entry.details, entry.actor_name) == (
        "rejected",
        {"channel": "EMAIL"},
        "Anna Advisor",
    )
    (event,) = lead.events
    assert (event.subject, event.recipient, event.customer) == (  # type: ignore[attr-defined]
        "Ihr Termin",
        "m@example.de",
        lead.customer,
    )


@pytest.mark.parametrize("minutes", [0, -30])
def test_an_appointment_must_end_after_it_starts(minutes: int) -> None:
    lead = lead_in(S.NEW)
    base = appointment()
    bad = Appointment(**{**base.__dict__, "end": base.start + timedelta(minutes=minutes)})
    with pytest.raises(RuleViolationError) as refused:
        lead.schedule(actor=ADVISOR, appointment=bad, at=NOW)
    assert refused.value.field == "end"
    assert (lead.status, lead.appointment_id, lead.events) == (S.NEW, None, [])


def test_scheduling_keeps_the_appointment_on_the_lead_and_in_the_event() -> None:
    lead = lead_in(S.NEW)
    base = appointment()
    booked = Appointment(
        **{
            **base.__dict__,
            "end": base.start + timedelta(minutes=1),
            "customer_choice": CustomerChoice.NEW_CUSTOMER,
            "vehicle_case": VehicleCase.OWNED_BY_CUSTOMER,
            "warnings": (AppointmentWarning(code="X", message="Hinweis"),),
            "confirmation": ConfirmationChannel.SMS,
            "recipient": "+4940123",
        }
    )
    lead.services = ("Inspektion",)
    lead.schedule(actor=ADVISOR, appointment=booked, at=NOW)
    assert (lead.status, lead.appointment_id, lead.acceptor) == (S.SCHEDULED, base.id, "anna")
    (entry,) = lead.new_history
    assert entry.action == "scheduled"
    assert entry.details == {
        "appointment_id": str(base.id),
        "customer_number": "K-1",
        "vehicle_case": "OWNED_BY_CUSTOMER",
    }
    (event,) = lead.events
    assert isinstance(event, AppointmentCreated)
    assert (event.start, event.end, event.created_by, event.created_at) == (
        booked.start,
        booked.end,
        "anna",
        NOW,
    )
    assert (event.customer_choice, event.vehicle_case, event.warnings) == (
        CustomerChoice.NEW_CUSTOMER,
        VehicleCase.OWNED_BY_CUSTOMER,
        booked.warnings,
    )
    assert (event.confirmation, event.recipient, event.services) == (
        ConfirmationChannel.SMS,
        "+4940123",
        ("Inspektion",),
    )
    assert (event.booking_id, event.branch_id, event.customer_number) == ("B-1", BRANCH, "K-1")


def test_a_deleted_appointment_cancels_with_its_reason() -> None:
    lead = lead_in(S.SCHEDULED)
    lead.cancel_for_deleted_appointment(
        actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=7), at=NOW, reason="Kunde verhindert"
    )
    assert lead.status is S.CANCELLED
    (event,) = lead.events
    assert isinstance(event, LeadCancelled)
    assert (event.appointment_id, event.reason, event.cancelled_at) == (
        uuid.UUID(int=7),
        "Kunde verhindert",
        NOW,
    )
    (entry,) = lead.new_history
    assert (entry.actor_name, entry.reason) == ("DMS", "Kunde verhindert")


def test_correcting_keeps_the_new_data_on_the_lead_and_in_the_event() -> None:
    lead = lead_in(S.NEW)
    customer = lead.customer.model_copy(
        update={"address": Address(street="Elbchaussee", house_number="1", postcode="22763")}
    )
    vehicle = Vehicle(licence_plate="HH-XY 2", mileage_km=12000)
    changed = lead.correct(actor=ADVISOR, customer=customer, vehicle=vehicle, at=NOW)
    assert changed == [
        "customer.address.street",
        "customer.address.house_number",
        "customer.address.postcode",
        "vehicle.licence_plate",
        "vehicle.mileage_km",
    ]
    assert (lead.customer, lead.vehicle, lead.status) == (customer, vehicle, S.NEW)
    (event,) = lead.events
    assert isinstance(event, LeadUpdated)
    assert (event.customer, event.vehicle, event.changed_fields) == (
        customer,
        vehicle,
        tuple(changed),
    )
    assert (event.status, event.updated_by) == (S.NEW, "anna")
    (entry,) = lead.new_history
    assert (entry.action, entry.details["fields"]) == ("corrected", ", ".join(changed))


def test_notification_outcomes_go_into_the_history_and_out_as_lead_events() -> None:
    lead = lead_in(S.REJECTED)
    nid = uuid.UUID(int=3)
    lead.note_notification(
        NotificationSent(
            notification_id=nid,
            lead_id=lead.id,
            branch_id=BRANCH,
            source_event_id="e-1",
            source_event_type="osb.lead.LeadRejected.v1",
            channel=Channel.EMAIL,
            attempts=2,
            sent_at=NOW,
        )
    )
    lead.note_notification(
        NotificationFailed(
            notification_id=nid,
            lead_id=lead.id,
            branch_id=BRANCH,
            source_event_id="e-1",
            source_event_type="osb.lead.LeadRejected.v1",
            channel=Channel.SMS,
            attempts=1,
            failed_at=NOW + timedelta(minutes=1),
            error_code="SMS_400",
            reason="refused",
            permanent=True,
        )
    )
    sent, failed = lead.new_history
    assert (sent.action, sent.actor_id, sent.at) == ("notification sent", SYSTEM_NOTIFIER.id, NOW)
    assert sent.details == {"notification_id": str(nid), "channel": "EMAIL", "attempts": "2"}
    assert (failed.action, failed.reason, failed.at) == (
        "notification failed",
        "refused",
        NOW + timedelta(minutes=1),
    )
    assert failed.details == {
        "notification_id": str(nid),
        "channel": "SMS",
        "attempts": "1",
        "error_code": "SMS_400",
        "permanent": "True",
    }
    assert lead.status is S.REJECTED
    assert (sent.from_status, sent.to_status) == (S.REJECTED, S.REJECTED)
    # each outcome a lead event for the pages and the figures: no recipient, no text
    told = [
        (e.notification_id, e.channel, e.delivered, e.error_code, e.status)
        for e in lead.events
        if isinstance(e, LeadNotificationOutcome)
    ]
    assert len(told) == len(lead.events)
    assert told == [
        (nid, Channel.EMAIL, True, None, S.REJECTED),
        (nid, Channel.SMS, False, "SMS_400", S.REJECTED),
    ]


def test_a_resend_request_is_an_event_and_a_history_entry() -> None:
    lead = lead_in(S.REJECTED)
    lead.request_resend(actor=ADVISOR, notification_id=uuid.UUID(int=5), at=NOW)
    (event,) = lead.events
    assert isinstance(event, NotificationResendRequested)
    assert (event.notification_id, event.requested_by, event.branch_id) == (
        uuid.UUID(int=5),
        "anna",
        BRANCH,
    )
    (entry,) = lead.new_history
    assert (entry.action, entry.details) == (
        "notification resend requested",
        {"notification_id": str(uuid.UUID(int=5))},
    )
    assert lead.status is S.REJECTED


def test_copy_drops_what_was_recorded() -> None:
    lead = lead_in(S.NEW)
    corrected(lead, ADVISOR)
    copy = lead.copy()
    assert (copy.events, copy.new_history) == ([], [])
    assert copy.customer == lead.customer
    assert lead.events


def test_an_actor_may_only_what_the_branch_grants() -> None:
    actor = Actor(
        "a",
        "A",
        {
            "W-01": frozenset({Permission.LEAD_MANAGER}),
            "HH-01": frozenset({Permission.LEAD_MANAGER, Permission.OSB_ADMIN}),
            "M-01": frozenset({Permission.OSB_ADMIN}),
        },
    )
    assert actor.branches_with(Permission.LEAD_MANAGER) == ["HH-01", "W-01"]
    assert actor.branches_with(Permission.OSB_ADMIN) == ["HH-01", "M-01"]
    assert actor.branches_with(Permission.EDIT_CANCELLED) == []
    assert actor.may(Permission.OSB_ADMIN, "M-01")
    assert not actor.may(Permission.LEAD_MANAGER, "M-01")
    assert not actor.may(Permission.LEAD_MANAGER, "X-01")


def test_ensure_allowed_refuses_as_the_trigger_would() -> None:
    with pytest.raises(TransitionRefusedError, match="status REJECTED") as refused:
        lead_in(S.REJECTED).ensure_allowed(Trigger.REJECT, ADVISOR)
    assert "cannot reject" in refused.value.reason
    with pytest.raises(PermissionMissingError):
        lead_in(S.REJECTED).ensure_allowed(Trigger.SCHEDULE, ADVISOR)
    lead_in(S.REJECTED).ensure_allowed(Trigger.SCHEDULE, SENIOR)


def test_a_rule_violation_names_its_field_and_reason() -> None:
    error = RuleViolationError("text", "the customer needs a text", code="TEXT_MISSING")
    assert (error.field, error.reason, str(error), error.code, error.params) == (
        "text",
        "the customer needs a text",
        "text: the customer needs a text",
        "TEXT_MISSING",
        {"field": "text"},
    )
    refused = TransitionRefusedError("nope")
    assert (refused.reason, str(refused), refused.code) == ("nope", "nope", "TRANSITION_REFUSED")


def test_each_refusal_carries_a_code_and_params_for_the_page_to_phrase() -> None:
    with pytest.raises(TransitionRefusedError) as refused:
        lead_in(S.REJECTED).ensure_allowed(Trigger.REJECT, ADVISOR)
    assert (refused.value.code, refused.value.params) == (
        "TRANSITION_REFUSED",
        {"status": "REJECTED", "trigger": "REJECT"},
    )
    with pytest.raises(PermissionMissingError) as read_only:
        lead_in(S.REJECTED).ensure_allowed(Trigger.SCHEDULE, ADVISOR)
    assert (read_only.value.code, read_only.value.params) == (
        "READ_ONLY",
        {"status": "REJECTED", "permission": "EDIT_CANCELLED"},
    )


def test_a_new_lead_starts_at_version_1_and_compares_without_its_records() -> None:
    lead = new_lead()
    assert lead.version == 1
    assert lead.events  # LeadCreated, and a history entry
    assert lead.copy() == lead  # what was recorded is not part of the lead's state


def test_an_arrival_counts_once_for_the_lead_s_appointment_and_a_late_one_undoes_the_no_show() -> (
    None
):
    lead = lead_in(S.SCHEDULED)
    with pytest.raises(TransitionRefusedError) as other:
        lead.arrive(actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=99), at=NOW)
    assert other.value.code == "NOT_THIS_APPOINTMENT"
    lead.mark_no_show(appointment_start=NOW - timedelta(minutes=31), at=NOW)
    (no_show,) = lead.events
    assert isinstance(no_show, LeadNoShow)
    assert (no_show.appointment_id, no_show.appointment_start) == (
        uuid.UUID(int=7),
        NOW - timedelta(minutes=31),
    )
    late = NOW + timedelta(minutes=10)
    lead.arrive(actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=7), at=late)
    assert (lead.status, lead.arrived_at) == (S.SCHEDULED, late)
    assert [h.action for h in lead.new_history] == ["no-show", "arrived late"]
    arrived = lead.events[-1]
    assert isinstance(arrived, LeadArrived)
    assert (arrived.arrived_at, arrived.status) == (late, S.SCHEDULED)
    with pytest.raises(TransitionRefusedError) as twice:
        lead.arrive(actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=7), at=late)
    assert twice.value.code == "ARRIVED_ALREADY"
    with pytest.raises(RuleViolationError):  # arrived: never a no-show after
        lead.mark_no_show(appointment_start=NOW, at=late)
    # the DMS deleted the appointment afterwards; a new one waits for its customer again
    lead.cancel_for_deleted_appointment(actor=SYSTEM_DMS, appointment_id=uuid.UUID(int=7), at=late)
    lead.schedule(actor=SENIOR, appointment=appointment(), at=late)
    assert lead.arrived_at is None


def test_the_customers_confirmation_by_a_link_is_noted_once_and_a_new_appointment_forgets_it() -> (
    None
):
    lead = lead_in(S.SCHEDULED)
    mine = lead.appointment_id
    assert mine is not None
    lead.confirm_by_customer(actor=SYSTEM_PORTAL, appointment_id=mine, at=NOW)
    assert (lead.status, lead.confirmed_by_customer_at) == (S.SCHEDULED, NOW)
    (entry,) = lead.new_history
    assert entry.action == "confirmed by the customer"
    (event,) = lead.events
    assert isinstance(event, LeadConfirmedByCustomer)
    assert (event.appointment_id, event.status, event.confirmed_at) == (mine, S.SCHEDULED, NOW)
    with pytest.raises(TransitionRefusedError) as again:
        lead.confirm_by_customer(actor=SYSTEM_PORTAL, appointment_id=mine, at=NOW)
    assert again.value.code == "CONFIRMED_ALREADY"
    lead.status = S.CANCELLED  # the DMS deleted it; an advisor schedules it once more
    lead.schedule(actor=SENIOR, appointment=appointment(), at=NOW)
    assert lead.confirmed_by_customer_at is None


def test_another_time_wanted_makes_the_lead_new_with_the_wish_and_lets_the_appointment_go() -> None:
    lead = lead_in(S.SCHEDULED)
    mine = lead.appointment_id
    assert mine is not None
    lead.escalated_at = NOW - timedelta(days=3)  # reported overdue before it was scheduled
    wish = NOW + timedelta(days=5, hours=3)
    lead.request_other_time(
        actor=SYSTEM_PORTAL,
        appointment_id=mine,
        requested_start=wish,
        note="lieber nachmittags",
        at=NOW,
    )
    assert (lead.status, lead.requested_start, lead.requested_end) == (S.NEW, wish, None)
    assert {k: vars(lead)[k] for k in ("appointment_id", "escalated_at")} == dict.fromkeys(
        ("appointment_id", "escalated_at")
    )
    (entry,) = lead.new_history
    assert (entry.action, entry.reason, entry.from_status, entry.to_status) == (
        "other time wanted by the customer",
        "lieber nachmittags",
        S.SCHEDULED,
        S.NEW,
    )
    (event,) = lead.events
    assert isinstance(event, LeadRescheduleRequested)
    assert (event.appointment_id, event.requested_start, event.note) == (
        mine,
        wish,
        "lieber nachmittags",
    )


@pytest.mark.parametrize("status", [s for s in LeadStatus if s is not S.SCHEDULED])
def test_a_links_answer_for_a_lead_not_scheduled_is_refused(status: LeadStatus) -> None:
    lead = lead_in(status)
    with pytest.raises(TransitionRefusedError) as refused:
        lead.confirm_by_customer(actor=SYSTEM_PORTAL, appointment_id=uuid.UUID(int=7), at=NOW)
    assert refused.value.code == "NOT_THIS_APPOINTMENT"
    assert lead.events == []


def test_a_links_answer_or_cancellation_for_an_earlier_appointment_is_refused() -> None:
    lead = lead_in(S.SCHEDULED)
    earlier = uuid.UUID(int=99)
    with pytest.raises(TransitionRefusedError):
        lead.confirm_by_customer(actor=SYSTEM_PORTAL, appointment_id=earlier, at=NOW)
    with pytest.raises(TransitionRefusedError):
        lead.request_other_time(
            actor=SYSTEM_PORTAL,
            appointment_id=earlier,
            requested_start=NOW + timedelta(days=1),
            note=None,
            at=NOW,
        )
    with pytest.raises(TransitionRefusedError) as refused:
        lead.cancel_by_customer(actor=SYSTEM_PORTAL, at=NOW, reason=None, appointment_id=earlier)
    assert refused.value.code == "NOT_THIS_APPOINTMENT"
    assert lead.copy().status is S.SCHEDULED
    lead.cancel_by_customer(
        actor=SYSTEM_PORTAL, at=NOW, reason="verkauft", appointment_id=lead.appointment_id
    )
    assert lead.copy().status is S.CANCELLED_BY_CUSTOMER
    (event,) = lead.events
    assert isinstance(event, LeadCancelledByCustomer)
    assert event.appointment_id == uuid.UUID(int=7)
