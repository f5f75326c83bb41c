"""Creating the appointment end to end: lead-manager asking customer-matching over Kafka.

Both services run in-process on the real broker and database; the DMS's master data
arrives on its topics.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from customer_matching.entrypoints.app import create_app as matching_app
from customer_matching.settings import Settings as MatchingSettings
from faststream.kafka import KafkaBroker
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.app import create_app as manager_app
from lead_manager.entrypoints.auth import issue_token
from lead_manager.settings import Settings as ManagerSettings
from osb_contracts import decode
from osb_contracts.customers import CustomerMasterUpdateRequested, CustomerRegistered
from osb_contracts.dms import (
    AppointmentDeleted,
)
from osb_contracts.leads import AppointmentCreated, LeadCancelled, LeadRequested
from osb_contracts.topics import (
    CUSTOMER_EVENTS,
    DMS_APPOINTMENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    LEAD_EVENTS,
    LEAD_REQUESTS,
    MATCHING_REQUESTS,
    NOTIFICATION_EVENTS,
)
from osb_contracts.values import Address, Customer, Vehicle
from osb_platform import make_broker, publish
from osb_testing.dms import (
    a_vin,
    letters,
    master_customer,
    publish_customer,
    publish_vehicle,
)
from osb_testing.kafka import TopicTail, header, move_group_to_end
from osb_testing.outbox import wait_outbox_drained

pytestmark = pytest.mark.e2e

SECRET = "identification-test-secret-of-32-chars!"
BRANCH = "HH-01"
ADVISOR = {
    "Authorization": "Bearer "
    + issue_token(
        SECRET,
        user="anna",
        name="Anna",
        branches={BRANCH: [Permission.LEAD_MANAGER, Permission.OSB_ADMIN]},
    )
}
OTHER_BRANCH = "M-01"
BOTH = {
    "Authorization": "Bearer "
    + issue_token(
        SECRET,
        user="anna",
        name="Anna",
        branches={BRANCH: [Permission.LEAD_MANAGER], OTHER_BRANCH: [Permission.LEAD_MANAGER]},
    )
}
# one start for every schedule request: a repeat must carry the same body
START = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
SENIOR = {
    "Authorization": "Bearer "
    + issue_token(SECRET, user="sven", name="Sven", branches={BRANCH: list(Permission)})
}


@dataclass
class System:
    http: httpx.AsyncClient
    bus: KafkaBroker
    tail: TopicTail
    cash_sale: str
    database_url: str
    matching: httpx.AsyncClient  # customer-matching's HTTP side (GET /model); unused if down

    async def settled(self, *keys: str) -> None:
        """lead-manager's events with these keys all published and read by the tail: an
        event not seen now was never written."""
        await wait_outbox_drained(self.database_url, keys)
        await self.tail.caught_up()

    async def master(self, customer: Customer) -> None:
        await publish_customer(self.bus, customer)

    async def vehicle(self, vin: str, owner: str) -> None:
        await publish_vehicle(self.bus, vin, owner)

    async def lead(
        self, request: LeadRequested, headers: dict[str, str] = ADVISOR
    ) -> dict[str, Any]:
        await publish(
            self.bus, request, topic=LEAD_REQUESTS, key=str(request.lead_id), source="/lead-intake"
        )
        async with asyncio.timeout(30):
            while (
                r := await self.http.get(f"/api/v1/leads/{request.lead_id}", headers=headers)
            ).status_code != 200:
                await asyncio.sleep(0.05)
        return dict(r.json())

    async def identification(
        self, lead_id: uuid.UUID, ready: Any = lambda p: True
    ) -> dict[str, Any]:
        async with asyncio.timeout(30):
            while True:
                r = await self.http.get(f"/api/v1/leads/{lead_id}/identification", headers=ADVISOR)
                assert r.status_code == 200, r.text
                if ready(r.json()):
                    return dict(r.json())
                await asyncio.sleep(0.1)

    async def schedule(
        self, lead_id: uuid.UUID, headers: dict[str, str] = ADVISOR, **customer: Any
    ) -> httpx.Response:
        body = {
            "start": START.isoformat(),
            "end": (START + timedelta(hours=1)).isoformat(),
            "acceptor": "anna",
            "confirmation": "EMAIL",
            "customer": customer,
        }
        if "request_id" in customer:
            body["request_id"] = customer.pop("request_id")
        return await self.http.post(f"/api/v1/leads/{lead_id}/schedule", json=body, headers=headers)

    async def event(self, topic: str, key: str, kind: type[Any], count: int = 1) -> Any:
        records = await self.tail.wait_for(
            lambda r: (
                r.topic == topic
                and r.key == key.encode()
                and header(r, "ce_type") == kind.cloudevents_type()
            ),
            count=count,
        )
        return decode(records[-1].headers, records[-1].value, records[-1].key).message


async def groups_at_end(bootstrap: str, group: str, *topics: str) -> None:
    for topic in topics:
        await move_group_to_end(bootstrap, f"{group}.{topic}", [topic])


@pytest.fixture
async def system(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> AsyncIterator[System]:
    run = uuid.uuid4().hex[:6]
    mgroup, lgroup = f"cm-{run}", f"lm-{run}"
    await move_group_to_end(
        kafka_bootstrap_servers, f"{mgroup}.replica", [DMS_CUSTOMERS.name, DMS_VEHICLES.name]
    )
    await move_group_to_end(kafka_bootstrap_servers, mgroup, [MATCHING_REQUESTS.name])
    await move_group_to_end(kafka_bootstrap_servers, f"{mgroup}.decisions", [LEAD_EVENTS.name])
    await groups_at_end(
        kafka_bootstrap_servers,
        lgroup,
        LEAD_REQUESTS.name,
        DMS_APPOINTMENTS.name,
        NOTIFICATION_EVENTS.name,
    )
    matching = matching_app(
        MatchingSettings(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            database_url=database_urls["customer-matching"],
            consumer_group=mgroup,
            number_prefix=f"N{run[:3].upper()}",
        )
    )
    manager = manager_app(
        ManagerSettings(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            database_url=database_urls["lead-manager"],
            jwt_secret=SECRET,
            consumer_group=lgroup,
            matching_timeout_s=10,
        )
    )
    bus = make_broker(kafka_bootstrap_servers, client_id="test-dms")
    await bus.start()
    cash_sale = f"BAR{run[:4].upper()}"
    async with (
        matching.router.lifespan_context(matching),
        manager.router.lifespan_context(manager),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager), base_url="http://lm") as http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=matching), base_url="http://cm"
        ) as matching_http,
        TopicTail(kafka_bootstrap_servers, LEAD_EVENTS.name, CUSTOMER_EVENTS.name) as tail,
    ):
        settings = {
            "name": "Autohaus Hansa Hamburg",
            "acceptors": [{"id": "anna", "name": "Anna"}],
            "sms_enabled": True,
            "cash_sale_customer_number": cash_sale,
            "duplicate_criteria": ["ADDRESS", "EMAIL"],
        }
        assert (
            await http.put(f"/api/v1/branches/{BRANCH}/settings", json=settings, headers=ADVISOR)
        ).status_code == 200
        yield System(http, bus, tail, cash_sale, database_urls["lead-manager"], matching_http)
    await bus.stop()


def lead_request(
    last: str, *, number: str | None = None, vin: str | None = None, branch: str = BRANCH
) -> LeadRequested:
    now = datetime.now(UTC)
    return LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id=f"ID-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        received_at=now,
        requested_start=now + timedelta(days=3),
        customer=Customer(
            customer_number=number,
            first_name="Juergen",
            last_name=last,
            email=f"{last.lower()}@neu.example.de",
            address=Address(street="Hauptstr.", house_number="5", postcode="20095"),
        ),
        vehicle=Vehicle(vin=vin, licence_plate="HH-NEU 7"),
    )


async def seeded(system: System) -> tuple[str, str, Customer]:
    """A master customer the index knows; returns (number, surname, master)."""
    last = "Zq" + letters()
    number = f"K{uuid.uuid4().hex[:7].upper()}"
    master = master_customer(number, last)
    await system.master(master)
    probe = lead_request(last)
    await system.lead(probe)
    await system.identification(
        probe.lead_id, lambda p: any(c["customer_number"] == number for c in p["candidates"])
    )
    return number, last, master


async def test_the_proposal_shows_candidates_field_by_field_and_the_vehicle_case(
    system: System,
) -> None:
    number, last, _ = await seeded(system)
    vin = a_vin()
    await system.vehicle(vin, owner="SOMEONE-ELSE")
    request = lead_request(last, vin=vin)
    await system.lead(request)
    proposal = await system.identification(
        request.lead_id, lambda p: p["vehicle"]["case"] == "OWNED_BY_OTHER"
    )
    (best, *_) = proposal["candidates"]
    assert (best["customer_number"], best["band"]) == (number, "CERTAIN")
    assert proposal["selected"] == number  # certain and first: preselected
    assert (best["owns_vehicle"], best["vehicle"]["case"]) == (False, "OWNED_BY_OTHER")
    assert proposal["vehicle"]["new_customer"]["case"] == "OWNED_BY_OTHER"
    fields = {f["field"]: f for f in best["fields"]}
    assert fields["email"]["lead_value"] == f"{last.lower()}@neu.example.de"
    assert fields["email"]["master_value"] == f"{last.lower()}@alt.example.de"
    assert fields["address"]["similarity"] == 1.0
    assert proposal["vehicle"]["owner_customer_number"] == "SOMEONE-ELSE"
    assert proposal["vehicle"]["warnings"][0]["code"] == "VEHICLE_NOT_OWNED_BY_CUSTOMER"

    # Saving shows the warning again, and the appointment carries it to the DMS.
    r = await system.schedule(request.lead_id, choice="MERGE_MASTER_DATA", customer_number=number)
    assert r.status_code == 200, r.text
    assert r.json()["vehicle_case"] == "OWNED_BY_OTHER"
    assert [w["code"] for w in r.json()["warnings"]] == ["VEHICLE_NOT_OWNED_BY_CUSTOMER"]
    created = await system.event(LEAD_EVENTS.name, str(request.lead_id), AppointmentCreated)
    assert created.vehicle.vin == vin
    assert "SOMEONE-ELSE" in created.warnings[0].message


async def test_the_vin_s_owner_is_a_candidate_and_each_candidate_has_its_vehicle_case(
    system: System,
) -> None:
    number, _, _ = await seeded(system)
    vin = a_vin()
    await system.vehicle(vin, owner=number)
    # another surname (married, or misspelt beyond the blocks), the owner's vehicle
    request = lead_request("Zq" + letters(), vin=vin)
    await system.lead(request)

    def owner_found(p: dict[str, Any]) -> bool:
        return any(c["customer_number"] == number and c["owns_vehicle"] for c in p["candidates"])

    proposal = await system.identification(request.lead_id, owner_found)
    by_number = {c["customer_number"]: c for c in proposal["candidates"]}
    assert by_number[number]["vehicle"] == {"case": "OWNED_BY_CUSTOMER", "warnings": []}
    others = [c for n, c in by_number.items() if n != number]
    assert all(c["vehicle"]["case"] == "OWNED_BY_OTHER" for c in others)
    assert proposal["vehicle"]["owner_customer_number"] == number
    assert proposal["vehicle"]["new_customer"]["case"] == "OWNED_BY_OTHER"

    r = await system.schedule(request.lead_id, choice="MERGE_MASTER_DATA", customer_number=number)
    assert r.status_code == 200, r.text
    assert (r.json()["vehicle_case"], r.json()["warnings"]) == ("OWNED_BY_CUSTOMER", [])


async def test_the_advisor_s_merge_labels_what_the_search_showed(system: System) -> None:
    number, last, _ = await seeded(system)
    request = lead_request(last)
    await system.lead(request)
    proposal = await system.identification(
        request.lead_id, lambda p: any(c["customer_number"] == number for c in p["candidates"])
    )
    band = next(c["band"] for c in proposal["candidates"] if c["customer_number"] == number)
    before = (await system.matching.get("/model")).json()["decisions"]
    r = await system.schedule(request.lead_id, choice="MERGE_MASTER_DATA", customer_number=number)
    assert r.status_code == 200, r.text

    async def decided() -> dict[str, Any]:
        async with asyncio.timeout(30):
            while True:
                now = (await system.matching.get("/model")).json()["decisions"]
                if now["decided_leads"] > before["decided_leads"]:
                    return dict(now)
                await asyncio.sleep(0.1)

    after = await decided()
    assert after["decided_leads"] == before["decided_leads"] + 1
    key = band.lower()
    chosen_before = before["bands"].get(key, {}).get("chosen", 0)
    assert after["bands"][key]["chosen"] == chosen_before + 1


async def test_existing_customer_with_own_vehicle(system: System) -> None:
    number, last, master = await seeded(system)
    vin = a_vin()
    await system.vehicle(vin, owner=number)
    request = lead_request(last, number=number, vin=vin)
    await system.lead(request)
    await system.identification(
        request.lead_id, lambda p: p["vehicle"]["case"] == "OWNED_BY_CUSTOMER"
    )
    r = await system.schedule(request.lead_id, choice="EXISTING")
    assert r.status_code == 200, r.text
    assert (r.json()["vehicle_case"], r.json()["warnings"]) == ("OWNED_BY_CUSTOMER", [])
    created = await system.event(LEAD_EVENTS.name, str(request.lead_id), AppointmentCreated)
    assert created.customer == master
    assert created.vehicle.make == "Skoda"
    assert created.customer_choice.value == "EXISTING"


@pytest.mark.parametrize("apply", [True, False])
async def test_merge_taking_the_lead_data(system: System, apply: bool) -> None:
    number, last, master = await seeded(system)
    request = lead_request(last)
    await system.lead(request)
    r = await system.schedule(
        request.lead_id, choice="MERGE_LEAD_DATA", customer_number=number, apply_to_master=apply
    )
    assert r.status_code == 200, r.text
    created = await system.event(LEAD_EVENTS.name, str(request.lead_id), AppointmentCreated)
    assert created.customer.email == f"{last.lower()}@neu.example.de"  # the lead's
    assert created.customer.phone == master.phone  # filled from the master
    assert created.customer.address.city == "Hamburg"
    if apply:
        update = await system.event(CUSTOMER_EVENTS.name, number, CustomerMasterUpdateRequested)
        assert {c.field: c.new_value for c in update.changes} == {
            "first_name": "Juergen",
            "email": f"{last.lower()}@neu.example.de",
            "address.street": "Hauptstr.",
        }
    else:
        await system.settled(str(request.lead_id), number)
        updates = system.tail.matching(
            lambda rec: rec.topic == CUSTOMER_EVENTS.name and rec.key == number.encode()
        )
        assert updates == []


async def test_merge_taking_the_master_data(system: System) -> None:
    number, last, master = await seeded(system)
    request = lead_request(last)
    await system.lead(request)
    r = await system.schedule(request.lead_id, choice="MERGE_MASTER_DATA", customer_number=number)
    assert r.status_code == 200, r.text
    created = await system.event(LEAD_EVENTS.name, str(request.lead_id), AppointmentCreated)
    assert created.customer == master


async def test_new_customer_and_cash_sale(system: System) -> None:
    request = lead_request("Zq" + letters(), vin=a_vin())
    await system.lead(request)
    r = await system.schedule(request.lead_id, choice="NEW_CUSTOMER")
    assert r.status_code == 200, r.text
    number = r.json()["customer_number"]
    assert number.startswith("N")
    assert (r.json()["vehicle_case"], r.json()["warnings"][0]["code"]) == (
        "TRANSIT",
        "TRANSIT_VEHICLE",
    )
    registered = await system.event(CUSTOMER_EVENTS.name, number, CustomerRegistered)
    assert registered.customer.last_name == request.customer.last_name
    created = await system.event(LEAD_EVENTS.name, str(request.lead_id), AppointmentCreated)
    assert created.customer_number == number

    # entered in the customer mask: registered as entered, checked as the contracts check
    masked = lead_request("Zq" + letters())
    await system.lead(masked)
    entered = {"first_name": "Jürgen-Peter", "last_name": masked.customer.last_name}
    bad = await system.schedule(
        masked.lead_id, choice="NEW_CUSTOMER", customer=entered | {"phone": "040 1234"}
    )
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == ["customer.customer.phone"]
    merged = await system.schedule(
        masked.lead_id, choice="CASH_SALE", customer=entered
    )  # only a new customer is entered
    assert merged.status_code == 422, merged.text
    assert [e["field"] for e in merged.json()["errors"]] == ["customer.customer"]
    r = await system.schedule(masked.lead_id, choice="NEW_CUSTOMER", customer=entered)
    assert r.status_code == 200, r.text
    number = r.json()["customer_number"]
    registered = await system.event(CUSTOMER_EVENTS.name, number, CustomerRegistered)
    assert (registered.customer.first_name, registered.customer.email) == ("Jürgen-Peter", None)
    created = await system.event(LEAD_EVENTS.name, str(masked.lead_id), AppointmentCreated)
    assert created.customer.first_name == "Jürgen-Peter"

    cash = lead_request("Zq" + letters())
    await system.lead(cash)
    r = await system.schedule(cash.lead_id, choice="CASH_SALE")
    assert r.status_code == 200, r.text
    created = await system.event(LEAD_EVENTS.name, str(cash.lead_id), AppointmentCreated)
    assert (created.customer_number, created.customer.last_name) == (
        system.cash_sale,
        cash.customer.last_name,
    )


async def test_the_same_request_twice_gives_one_appointment_and_the_dms_can_cancel_it(
    system: System,
) -> None:
    number, last, _ = await seeded(system)
    request = lead_request(last)
    await system.lead(request)
    request_id = str(uuid.uuid4())
    first = await system.schedule(
        request.lead_id, choice="EXISTING", customer_number=number, request_id=request_id
    )
    again = await system.schedule(
        request.lead_id, choice="EXISTING", customer_number=number, request_id=request_id
    )
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert first.json()["appointment_id"] == again.json()["appointment_id"]
    created = await system.event(LEAD_EVENTS.name, str(request.lead_id), AppointmentCreated)
    await system.settled(str(request.lead_id))
    assert (
        len(
            system.tail.matching(
                lambda r: (
                    r.key == str(request.lead_id).encode()
                    and header(r, "ce_type") == AppointmentCreated.cloudevents_type()
                )
            )
        )
        == 1
    )

    deleted = AppointmentDeleted(
        appointment_id=created.appointment_id, branch_id=BRANCH, deleted_at=datetime.now(UTC)
    )
    await publish(
        system.bus, deleted, topic=DMS_APPOINTMENTS, key=str(created.appointment_id), source="/dms"
    )
    cancelled = await system.event(LEAD_EVENTS.name, str(request.lead_id), LeadCancelled)
    assert cancelled.appointment_id == created.appointment_id


async def test_a_request_id_opens_no_other_lead_and_is_not_reused(system: System) -> None:
    number, last, _ = await seeded(system)
    mine, other = lead_request(last), lead_request(last)
    theirs = lead_request(last, branch=OTHER_BRANCH)
    await system.lead(mine)
    await system.lead(other)
    await system.lead(theirs, headers=BOTH)
    request_id = str(uuid.uuid4())
    first = await system.schedule(
        mine.lead_id, choice="EXISTING", customer_number=number, request_id=request_id
    )
    assert first.status_code == 200, first.text
    # a branch the token does not cover: refused before the request id is looked at
    foreign = await system.schedule(
        theirs.lead_id, choice="EXISTING", customer_number=number, request_id=request_id
    )
    assert foreign.status_code == 403, foreign.text
    assert last not in foreign.text
    assert str(theirs.lead_id) not in foreign.text
    # the same id for another lead, or with another body, is a conflict, not a replay
    elsewhere = await system.schedule(
        other.lead_id, choice="EXISTING", customer_number=number, request_id=request_id
    )
    assert elsewhere.status_code == 409, elsewhere.text
    assert elsewhere.json()["errors"][0]["field"] == "request_id"
    changed = await system.schedule(mine.lead_id, choice="NEW_CUSTOMER", request_id=request_id)
    assert changed.status_code == 409, changed.text
    same_user_other_token = await system.schedule(
        mine.lead_id,
        headers=BOTH,
        choice="EXISTING",
        customer_number=number,
        request_id=request_id,
    )
    assert same_user_other_token.status_code == 200  # the same user (anna), the same body
    # the other lead is untouched and can still be scheduled with an id of its own
    later = await system.schedule(
        other.lead_id, choice="EXISTING", customer_number=number, request_id=str(uuid.uuid4())
    )
    assert later.status_code == 200, later.text
    assert later.json()["appointment_id"] != first.json()["appointment_id"]


async def test_rejected_leads_need_the_permission(system: System) -> None:
    number, last, _ = await seeded(system)
    request = lead_request(last)
    await system.lead(request)
    r = await system.http.post(
        f"/api/v1/leads/{request.lead_id}/reject",
        json={"channel": "EMAIL", "text": "Nein"},
        headers=ADVISOR,
    )
    assert r.status_code == 200, r.text
    refused = await system.schedule(request.lead_id, choice="EXISTING", customer_number=number)
    assert refused.status_code == 403
    assert (refused.json()["code"], refused.json()["params"]) == (
        "READ_ONLY",
        {"status": "REJECTED", "permission": "EDIT_CANCELLED"},
    )
    allowed = await system.schedule(
        request.lead_id, headers=SENIOR, choice="EXISTING", customer_number=number
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["lead"]["status"] == "SCHEDULED"


async def test_matching_down_is_a_clear_503_and_nothing_half_done(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> None:
    run = uuid.uuid4().hex[:6]
    await groups_at_end(
        kafka_bootstrap_servers,
        f"lm-{run}",
        LEAD_REQUESTS.name,
        DMS_APPOINTMENTS.name,
        NOTIFICATION_EVENTS.name,
    )
    # A request group nobody consumes: customer-matching is "down" for this lead-manager.
    manager = manager_app(
        ManagerSettings(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            database_url=database_urls["lead-manager"],
            jwt_secret=SECRET,
            consumer_group=f"lm-{run}",
            matching_timeout_s=1.0,
        )
    )
    bus = make_broker(kafka_bootstrap_servers, client_id="test")
    await bus.start()
    try:
        async with (
            manager.router.lifespan_context(manager),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager), base_url="http://lm"
            ) as http,
            TopicTail(kafka_bootstrap_servers, LEAD_EVENTS.name) as tail,
        ):
            system = System(http, bus, tail, "", database_urls["lead-manager"], http)
            request = lead_request("Zq" + letters(), number="K-DOWN")
            await system.lead(request)
            r = await system.schedule(request.lead_id, choice="EXISTING")
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "5"
            assert "did not answer within 1 s" in r.json()["error"]
            detail = (await http.get(f"/api/v1/leads/{request.lead_id}", headers=ADVISOR)).json()
            assert (detail["status"], detail["appointment_id"]) == ("NEW", None)
            await system.settled(str(request.lead_id))
            assert not tail.matching(
                lambda rec: (
                    rec.key == str(request.lead_id).encode()
                    and header(rec, "ce_type") == AppointmentCreated.cloudevents_type()
                )
            )
    finally:
        await bus.stop()
