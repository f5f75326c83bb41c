"""Als Termin anlegen with a fake customer-matching: what each of the five customer choices
writes (and asks), that a request sent twice makes one appointment and registers one
customer, and that the vehicle case follows the chosen customer."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lead_manager.domain.branch import Acceptor, BranchSettings
from lead_manager.domain.model import Lead, RuleViolationError
from lead_manager.domain.permissions import SYSTEM_DMS, Actor, Permission
from lead_manager.service.commands import (
    OfferLead,
    RequestReusedError,
    ScheduleLead,
    offer_lead,
    schedule_lead,
    take_offer,
)
from lead_manager.service.deadlines import lapse_all_offers
from lead_manager.service.ports import StoredOffer
from osb_contracts.customers import CustomerMasterUpdateRequested
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    CustomerChoice,
    LeadRejected,
    LeadRequested,
    OfferTaken,
    VehicleCase,
)
from osb_contracts.matching import (
    CustomerRegistrationResult,
    DuplicateCriterion,
    DuplicateSearchResult,
    VehicleLookupResult,
    VehicleOwnership,
)
from osb_contracts.values import (
    Address,
    Channel,
    ConfirmationChannel,
    Customer,
    LeadStatus,
    Vehicle,
)
from prometheus_client import REGISTRY

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
VIN = "WVWZZZ1JZXW000001"
ADVISOR = Actor("anna", "Anna", {"HH-01": frozenset({Permission.LEAD_MANAGER})})
HOME = Address(street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg")
MASTER = Customer(customer_number="DMS000478", first_name="Zenta", last_name="Börner", address=HOME)
BRANCH = BranchSettings(
    branch_id="HH-01",
    name="Autohaus Hansa",
    acceptors=(Acceptor("A1", "Jonas Werkstatt"),),
    cash_sale_customer_number="BAR0001",
)


class FakeMatching:
    """customer-matching's answers for one master customer owning the VIN; records what it
    was asked, and gives a registration request id the same number every time."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.registered: dict[uuid.UUID, str] = {}
        self.entered: list[Customer] = []

    async def customer(self, customer_number: str) -> Customer | None:
        self.asked.append(f"customer {customer_number}")
        return MASTER if customer_number == MASTER.customer_number else None

    async def duplicates(
        self,
        customer: Customer,
        *,
        branch_id: str,
        criteria: tuple[DuplicateCriterion, ...],
        limit: int = 10,
        vin: str | None = None,
        lead_id: uuid.UUID | None = None,
    ) -> DuplicateSearchResult:
        raise AssertionError("saving searches for nobody")

    async def vehicle(self, vin: str, *, customer_number: str | None) -> VehicleLookupResult:
        self.asked.append(f"vehicle for {customer_number}")
        owned = customer_number == MASTER.customer_number
        return VehicleLookupResult(
            request_id=uuid.uuid4(),
            ownership=VehicleOwnership.OWNED_BY_CUSTOMER
            if owned
            else VehicleOwnership.OWNED_BY_OTHER,
            owner_customer_number=MASTER.customer_number,
            vehicle=Vehicle(vin=vin, licence_plate="HH-ZB 478"),
        )

    async def register(
        self,
        customer: Customer,
        *,
        branch_id: str,
        requested_by: str,
        lead_id: uuid.UUID | None,
        request_id: uuid.UUID | None = None,
    ) -> CustomerRegistrationResult:
        assert request_id is not None
        self.asked.append("register")
        self.entered.append(customer)
        number = self.registered.setdefault(request_id, f"NEU{len(self.registered) + 1:04d}")
        return CustomerRegistrationResult(request_id=request_id, customer_number=number)


async def stored_lead(uow: Any, **customer: Any) -> Lead:
    request = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id=f"B-{uuid.uuid4().hex[:8]}",
        branch_id="HH-01",
        received_at=NOW,
        requested_start=NOW + timedelta(days=2),
        customer=Customer(
            first_name="Zenta",
            last_name="Börner",
            email="zenta.boerner@example.de",
            address=HOME,
            **customer,
        ),
        vehicle=Vehicle(vin=VIN),
    )
    lead = Lead.create(request, actor=SYSTEM_DMS, at=NOW)
    await uow.leads.add_new([lead])
    uow.branches.rows["HH-01"] = BRANCH
    return lead


def command(lead: Lead, choice: CustomerChoice, **fields: Any) -> ScheduleLead:
    start = NOW + timedelta(days=2)
    return ScheduleLead(
        lead.id, start, start + timedelta(hours=1), "A1", customer_choice=choice, **fields
    )


async def schedule(uow: Any, matching: FakeMatching, cmd: ScheduleLead) -> Any:
    return await schedule_lead(
        uow, cmd, actor=ADVISOR, clock=lambda: NOW, new_id=uuid.uuid4, matching=matching
    )


def created(uow: Any) -> AppointmentCreated:
    [event] = [e for e in uow.published if isinstance(e, AppointmentCreated)]
    return event


async def test_existing_customer_the_master_as_it_is_and_their_vehicle(fake_uow: Any) -> None:
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    cmd = command(lead, CustomerChoice.EXISTING, customer_number="DMS000478")
    _, appointment = await schedule(fake_uow, matching, cmd)
    assert appointment.customer == MASTER
    assert appointment.vehicle_case is VehicleCase.OWNED_BY_CUSTOMER
    assert appointment.warnings == ()
    assert created(fake_uow).customer_number == "DMS000478"
    assert not any(isinstance(e, CustomerMasterUpdateRequested) for e in fake_uow.published)
    assert matching.asked == ["customer DMS000478", "vehicle for DMS000478"]


async def test_merge_taking_the_lead_s_data_asks_the_dms_to_update_only_when_told(
    fake_uow: Any,
) -> None:
    matching = FakeMatching()
    without = await stored_lead(fake_uow)
    cmd = command(without, CustomerChoice.MERGE_LEAD_DATA, customer_number="DMS000478")
    _, appointment = await schedule(fake_uow, matching, cmd)
    assert appointment.customer.email == "zenta.boerner@example.de"  # the lead's, merged
    assert not any(isinstance(e, CustomerMasterUpdateRequested) for e in fake_uow.published)

    told = await stored_lead(fake_uow)
    cmd = command(
        told, CustomerChoice.MERGE_LEAD_DATA, customer_number="DMS000478", apply_to_master=True
    )
    await schedule(fake_uow, matching, cmd)
    [update] = [e for e in fake_uow.published if isinstance(e, CustomerMasterUpdateRequested)]
    assert (update.customer_number, update.lead_id) == ("DMS000478", told.id)
    assert [(c.field, c.old_value, c.new_value) for c in update.changes] == [
        ("email", None, "zenta.boerner@example.de")
    ]


async def test_merge_keeping_the_master_s_data_writes_nothing_to_the_master(
    fake_uow: Any,
) -> None:
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    cmd = command(
        lead, CustomerChoice.MERGE_MASTER_DATA, customer_number="DMS000478", apply_to_master=True
    )
    _, appointment = await schedule(fake_uow, matching, cmd)
    assert appointment.customer == MASTER
    assert not any(isinstance(e, CustomerMasterUpdateRequested) for e in fake_uow.published)


async def test_a_new_customer_is_registered_once_as_entered_even_when_sent_twice(
    fake_uow: Any,
) -> None:
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    entered = Customer(first_name="Zenta", last_name="Börner-Kuhn", address=HOME)
    cmd = command(lead, CustomerChoice.NEW_CUSTOMER, request_id=uuid.uuid4(), new_customer=entered)
    _, appointment = await schedule(fake_uow, matching, cmd)
    assert appointment.customer_number == "NEU0001"
    assert appointment.customer.last_name == "Börner-Kuhn"  # the mask's, not the lead's
    assert matching.entered == [entered]
    # the vehicle belongs to someone else than the new customer: saved with the warning
    assert appointment.vehicle_case is VehicleCase.OWNED_BY_OTHER
    assert "DMS000478" in appointment.warnings[0].message

    again, repeat = await schedule(fake_uow, matching, cmd)  # the same request again
    assert repeat is None
    assert again.appointment_id == appointment.id
    assert matching.asked.count("register") == 1
    changed = command(
        lead, CustomerChoice.NEW_CUSTOMER, request_id=cmd.request_id, new_customer=MASTER
    )
    with pytest.raises(RequestReusedError):
        await schedule(fake_uow, matching, changed)


async def test_cash_sale_takes_the_branch_s_number_and_asks_nobody_for_a_customer(
    fake_uow: Any,
) -> None:
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    _, appointment = await schedule(fake_uow, matching, command(lead, CustomerChoice.CASH_SALE))
    assert appointment.customer_number == "BAR0001"
    assert appointment.customer.last_name == "Börner"  # the lead's data on the appointment
    assert matching.asked == ["vehicle for BAR0001"]

    other = await stored_lead(fake_uow)
    fake_uow.branches.rows["HH-01"] = BranchSettings(
        branch_id="HH-01", name="Autohaus Hansa", acceptors=BRANCH.acceptors
    )
    with pytest.raises(RuleViolationError, match="cash-sale"):
        await schedule(fake_uow, matching, command(other, CustomerChoice.CASH_SALE))


async def test_no_appointment_for_a_customer_the_master_does_not_know_or_none_chosen(
    fake_uow: Any,
) -> None:
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    with pytest.raises(RuleViolationError, match="choose the master customer"):
        await schedule(fake_uow, matching, command(lead, CustomerChoice.EXISTING))
    unknown = command(lead, CustomerChoice.EXISTING, customer_number="DMS999999")
    with pytest.raises(RuleViolationError, match="DMS999999"):
        await schedule(fake_uow, matching, unknown)
    assert fake_uow.published == []  # nothing written for either


class MobileMaster(FakeMatching):
    """The master customer with a mobile number the lead did not give."""

    async def customer(self, customer_number: str) -> Customer | None:
        found = await super().customer(customer_number)
        return found and found.model_copy(update={"mobile": "+4915198765432"})


async def test_an_sms_confirmation_reaches_the_appointment_s_customer(fake_uow: Any) -> None:
    lead = await stored_lead(fake_uow)  # no phone on the lead
    fake_uow.branches.rows["HH-01"] = dataclasses.replace(BRANCH, sms_enabled=True)
    cmd = command(
        lead,
        CustomerChoice.MERGE_MASTER_DATA,
        customer_number="DMS000478",
        confirmation=ConfirmationChannel.SMS,
    )
    _, appointment = await schedule(fake_uow, MobileMaster(), cmd)
    assert appointment.recipient == "+4915198765432"
    assert created(fake_uow).recipient == "+4915198765432"


async def test_a_new_customer_without_a_number_is_refused_an_sms_before_registering(
    fake_uow: Any,
) -> None:
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    fake_uow.branches.rows["HH-01"] = dataclasses.replace(BRANCH, sms_enabled=True)
    cmd = command(lead, CustomerChoice.NEW_CUSTOMER, confirmation=ConfirmationChannel.SMS)
    with pytest.raises(RuleViolationError) as refused:
        await schedule(fake_uow, matching, cmd)
    assert (refused.value.code, matching.asked) == ("NO_PHONE", [])


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_decision_is_counted_with_its_opening_time_once(fake_uow: Any) -> None:
    decisions = (
        "osb_lead_manager_decisions_total",
        {"branch_id": "HH-01", "decision": "SCHEDULED"},
    )
    timed = ("osb_lead_manager_decision_working_seconds_count", {"branch_id": "HH-01"})
    total = ("osb_lead_manager_decision_working_seconds_sum", {"branch_id": "HH-01"})
    before = [sample(n, **labels) for n, labels in (decisions, timed, total)]
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    decided = NOW + timedelta(hours=3)
    await schedule_lead(
        fake_uow,
        command(lead, CustomerChoice.CASH_SALE),
        actor=ADVISOR,
        clock=lambda: decided,
        new_id=uuid.uuid4,
        matching=matching,
    )
    after = [sample(n, **labels) for n, labels in (decisions, timed, total)]
    waited = BRANCH.calendar().between(NOW, decided).total_seconds()
    assert waited > 0
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, waited]


def offered_times(*days: int) -> tuple[tuple[datetime, datetime], ...]:
    return tuple((NOW + timedelta(days=d, hours=2), NOW + timedelta(days=d, hours=3)) for d in days)


async def offer(uow: Any, lead: Lead, *days: int, **fields: Any) -> StoredOffer:
    cmd = OfferLead(lead.id, offered_times(*days), Channel.EMAIL, "A1", **fields)
    await offer_lead(uow, cmd, actor=ADVISOR, clock=lambda: NOW, new_id=uuid.uuid4)
    offers: list[StoredOffer] = [s for s in uow.offers.rows.values() if s.lead_id == lead.id]
    (stored,) = offers
    return stored


def taken(lead: Lead, stored: StoredOffer, index: int) -> OfferTaken:
    return OfferTaken(
        lead_id=lead.id,
        booking_id=lead.booking_id,
        branch_id=lead.branch_id,
        offer_id=stored.offer.id,
        time_index=index,
        taken_at=NOW,
    )


async def test_an_offer_goes_out_with_its_deadline_and_a_taken_time_is_scheduled_once(
    fake_uow: Any,
) -> None:
    lead, matching = await stored_lead(fake_uow), FakeMatching()
    stored = await offer(
        fake_uow,
        lead,
        5,
        6,
        7,
        customer_choice=CustomerChoice.EXISTING,
        customer_number="DMS000478",
    )
    assert fake_uow.leads.rows[lead.id].status is LeadStatus.OFFERED
    (sent,) = [e for e in fake_uow.published if isinstance(e, AppointmentOffered)]
    assert [t.start for t in sent.times] == [s for s, _ in offered_times(5, 6, 7)]
    assert sent.respond_by == NOW + timedelta(hours=48)  # the branch's default, not the first
    assert (sent.channel, sent.recipient) == (Channel.EMAIL, "zenta.boerner@example.de")

    for _ in range(2):  # the customer's request delivered twice: one appointment
        await take_offer(
            lambda: fake_uow, taken(lead, stored, 1), clock=lambda: NOW, new_id=uuid.uuid4,
            matching=matching,
        )  # fmt: skip
    event = created(fake_uow)
    assert (event.start, event.customer, event.acceptor) == (offered_times(6)[0][0], MASTER, "A1")
    assert (event.confirmation, event.created_by) == (ConfirmationChannel.EMAIL, "anna")
    assert fake_uow.offers.rows[stored.offer.id].state == "TAKEN"
    assert fake_uow.offers.rows[stored.offer.id].taken_index == 1
    assert fake_uow.leads.rows[lead.id].status is LeadStatus.SCHEDULED
    other = await take_offer(
        lambda: fake_uow, taken(lead, stored, 0), clock=lambda: NOW, new_id=uuid.uuid4,
        matching=matching,
    )  # fmt: skip
    assert other is None  # another time of a taken offer


async def test_the_deadline_is_before_the_first_time_and_an_offer_is_checked(
    fake_uow: Any,
) -> None:
    lead = await stored_lead(fake_uow)
    soon = await offer(fake_uow, lead, 1)  # tomorrow 11:00: answered by 10:00
    assert soon.offer.respond_by == NOW + timedelta(days=1, hours=1)
    for cmd, code in (
        (OfferLead(lead.id, (), Channel.EMAIL, "A1"), "OFFER_TIMES"),
        (OfferLead(lead.id, offered_times(1, 1), Channel.EMAIL, "A1"), "OFFER_TWICE"),
        (
            OfferLead(
                lead.id,
                ((NOW + timedelta(minutes=30), NOW + timedelta(hours=2)),),
                Channel.EMAIL,
                "A1",
            ),
            "OFFER_TOO_SOON",
        ),
        (
            OfferLead(lead.id, offered_times(2), Channel.EMAIL, "A1", CustomerChoice.NEW_CUSTOMER),
            "OFFER_CHOICE",
        ),
        (
            OfferLead(lead.id, offered_times(2), Channel.EMAIL, "A1", CustomerChoice.EXISTING),
            "CUSTOMER_NOT_CHOSEN",
        ),
    ):
        other = await stored_lead(fake_uow)
        with pytest.raises(RuleViolationError) as refused:
            await offer_lead(
                fake_uow,
                dataclasses.replace(cmd, lead_id=other.id),
                actor=ADVISOR,
                clock=lambda: NOW,
                new_id=uuid.uuid4,
            )
        assert refused.value.code == code


async def test_an_offer_not_taken_by_its_deadline_rejects_with_the_branch_s_text(
    fake_uow: Any,
) -> None:
    lead = await stored_lead(fake_uow)
    stored = await offer(fake_uow, lead, 5)
    deadline = stored.offer.respond_by
    assert await lapse_all_offers(lambda: fake_uow, deadline - timedelta(seconds=1)) == 0
    assert fake_uow.leads.rows[lead.id].status is LeadStatus.OFFERED
    assert await lapse_all_offers(lambda: fake_uow, deadline) == 1
    assert await lapse_all_offers(lambda: fake_uow, deadline + timedelta(hours=1)) == 0  # once
    assert fake_uow.leads.rows[lead.id].status is LeadStatus.REJECTED
    (rejected,) = [e for e in fake_uow.published if isinstance(e, LeadRejected)]
    assert rejected.rejected_by == "offers"
    assert rejected.recipient == "zenta.boerner@example.de"
    assert rejected.subject == "Ihr Terminwunsch bei Autohaus Hansa"
    assert rejected.text.startswith("Guten Tag Zenta Börner,\n\nleider können wir")
    assert fake_uow.offers.rows[stored.offer.id].state == "LAPSED"
    late = await take_offer(
        lambda: fake_uow, taken(lead, stored, 0), clock=lambda: NOW, new_id=uuid.uuid4,
        matching=FakeMatching(),
    )  # fmt: skip
    assert late is None
    assert not [e for e in fake_uow.published if isinstance(e, AppointmentCreated)]


async def test_an_advisor_s_own_decision_closes_the_open_offer(fake_uow: Any) -> None:
    lead = await stored_lead(fake_uow)
    stored = await offer(fake_uow, lead, 5)
    await schedule(fake_uow, FakeMatching(), command(lead, CustomerChoice.CASH_SALE))
    assert fake_uow.offers.rows[stored.offer.id].state == "CLOSED"
    assert await lapse_all_offers(lambda: fake_uow, stored.offer.respond_by) == 0
