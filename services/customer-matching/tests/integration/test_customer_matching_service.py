"""customer-matching in-process on the real broker and database, asked through its client."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from customer_matching.adapters.bulk import import_file
from customer_matching.entrypoints.app import MIGRATIONS, create_app
from customer_matching.settings import Settings
from faststream.kafka import KafkaBroker
from osb_contracts import ContractError, Message, decode, encode
from osb_contracts.customers import CustomerRegistered
from osb_contracts.dms import CustomerMasterChanged, MasterChange, VehicleMasterChanged
from osb_contracts.leads import AppointmentCreated, CustomerChoice
from osb_contracts.matching import (
    ConfidenceBand,
    DuplicateCriterion,
    DuplicateSearchRequested,
    VehicleOwnership,
)
from osb_contracts.topics import (
    CUSTOMER_EVENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    LEAD_EVENTS,
    MATCHING_REQUESTS,
    Topic,
)
from osb_contracts.values import Address, ConfirmationChannel, Customer, Vehicle
from osb_platform import Producer, make_broker, publish
from osb_platform.db import make_engine, upgrade
from osb_platform.matching import MatchingClient, MatchingUnavailableError
from osb_testing.dms import a_vin, letters, publish_customer, publish_vehicle
from osb_testing.factories import appointment
from osb_testing.fuzz import RECORDS, drawn, records, send_then_valid
from osb_testing.kafka import TopicTail, header, move_group_to_end, wait_group_caught_up

pytestmark = pytest.mark.integration


def surname() -> str:
    """A surname no other test shares (so blocking finds only this test's customers)."""
    return "Zq" + letters()


@dataclass
class Harness:
    bus: KafkaBroker
    client: MatchingClient
    settings: Settings
    http: httpx.AsyncClient
    bootstrap: str

    async def master(
        self, customer: Customer, revision: int, change: MasterChange = MasterChange.UPSERT
    ) -> None:
        await publish_customer(self.bus, customer, revision, change)

    async def vehicle(self, vin: str, owner: str, revision: int = 1) -> None:
        await publish_vehicle(self.bus, vin, owner, revision)

    async def until(self, check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.1)


@pytest.fixture
async def harness(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> AsyncIterator[Harness]:
    group = f"matching-test-{uuid.uuid4().hex[:8]}"
    await move_group_to_end(
        kafka_bootstrap_servers, f"{group}.replica", [DMS_CUSTOMERS.name, DMS_VEHICLES.name]
    )
    await move_group_to_end(kafka_bootstrap_servers, group, [MATCHING_REQUESTS.name])
    await move_group_to_end(kafka_bootstrap_servers, f"{group}.decisions", [LEAD_EVENTS.name])
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_urls["customer-matching"],
        consumer_group=group,
        number_prefix="T" + uuid.uuid4().hex[:4].upper(),
        number_last=3,
        number_digits=4,
        learn_interval_s=0.2,
    )
    app = create_app(settings)
    bus = make_broker(kafka_bootstrap_servers, client_id="test-dms")
    producer = Producer(kafka_bootstrap_servers, client_id="test-lead-manager")
    await bus.start()
    await producer.start()
    client = MatchingClient(kafka_bootstrap_servers, producer, source="/test", timeout=10)
    await client.start()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://matching") as http,
    ):
        yield Harness(bus, client, settings, http, kafka_bootstrap_servers)
    await client.stop()
    await producer.stop()
    await bus.stop()


def customer(number: str, last: str, **kw: object) -> Customer:
    fields: dict[str, object] = {
        "customer_number": number,
        "first_name": "Jürgen",
        "last_name": last,
        "email": f"{last.lower()}@example.de",
        "address": Address(
            street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg"
        ),
    }
    fields.update(kw)
    return Customer.model_validate(fields)


async def test_master_changes_reach_the_index_in_revision_order(harness: Harness) -> None:
    # A postcode of its own: the replica is shared with other tests, and customers of theirs
    # at the same address would be (rightly) listed as possible duplicates too.
    name, postcode = surname(), f"{random.randrange(10**5):05d}"
    number = f"K{uuid.uuid4().hex[:8]}"
    home = Address(street="Hauptstraße", house_number="5", postcode=postcode, city="Hamburg")
    lead = Customer(
        first_name="Juergen",
        last_name=name,
        address=Address(street="Hauptstr.", house_number="5", postcode=postcode),
    )

    async def found() -> list[str]:
        result = await harness.client.duplicates(
            lead, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,)
        )
        return [c.customer_number for c in result.candidates]

    async def found_only_it() -> bool:
        return await found() == [number]

    async def found_none() -> bool:
        return await found() == []

    await harness.master(customer(number, name, address=home), revision=2)
    await harness.until(found_only_it)
    result = await harness.client.duplicates(
        lead, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,)
    )
    (best,) = result.candidates
    assert best.band is ConfidenceBand.CERTAIN
    assert best.master.customer_number == number

    # An older revision arriving late changes nothing; a newer one does.
    moved = Address(street="Elbchaussee", house_number="1", postcode="22763", city="Hamburg")
    await harness.master(customer(number, name, address=moved), revision=1)
    await wait_group_caught_up(  # the replica committed it: taken in, and ignored
        harness.bootstrap, f"{harness.settings.consumer_group}.replica", [DMS_CUSTOMERS.name]
    )
    assert await found() == [number]
    await harness.master(customer(number, name, address=moved), revision=3)

    async def address_moved() -> bool:
        result = await harness.client.duplicates(
            lead, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,)
        )
        return (
            bool(result.candidates) and result.candidates[0].master.address.street == "Elbchaussee"
        )

    await harness.until(address_moved)
    await harness.master(
        customer(number, name, address=home), revision=4, change=MasterChange.DELETE
    )
    await harness.until(found_none)


async def test_the_searches_candidate_pairs_are_counted_for_the_model(harness: Harness) -> None:
    name, postcode = surname(), f"{random.randrange(10**5):05d}"
    home = Address(street="Hauptstraße", house_number="5", postcode=postcode, city="Hamburg")
    numbers = [f"K{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for number in numbers:
        await harness.master(customer(number, name, address=home), revision=1)
    # Four leads, told apart by their e-mail addresses.
    leads = [
        Customer(first_name="Jürgen", last_name=name, email=f"l{i}.{name}@example.de", address=home)
        for i in range(4)
    ]

    async def counted() -> int:
        state = (await harness.http.get("/model")).raise_for_status().json()
        return int(state["pairs_counted"])

    async def all_found(lead: Customer = leads[0]) -> bool:
        result = await harness.client.duplicates(
            lead, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,)
        )
        # Others at the same address from earlier runs may be listed too.
        return set(numbers) <= {c.customer_number for c in result.candidates}

    await harness.until(all_found)
    # A search's pairs count from its answer on (this instance's not yet flushed included).
    before = await counted()
    for lead in leads[1:]:
        assert await all_found(lead)
    after = await counted()
    assert after >= before + 3 * len(numbers)
    for lead in leads:  # searched again: not counted again
        assert await all_found(lead)
    assert await counted() == after


async def test_vehicle_lookup_answers_the_three_cases(harness: Harness) -> None:
    owner, other, v = f"K{uuid.uuid4().hex[:8]}", f"K{uuid.uuid4().hex[:8]}", a_vin()
    await harness.vehicle(v, owner)

    async def known() -> bool:
        r = await harness.client.vehicle(v, customer_number=owner)
        return r.ownership is not VehicleOwnership.UNKNOWN

    await harness.until(known)
    mine = await harness.client.vehicle(v, customer_number=owner)
    assert (mine.ownership, mine.owner_customer_number) == (
        VehicleOwnership.OWNED_BY_CUSTOMER,
        owner,
    )
    assert mine.vehicle is not None
    assert mine.vehicle.make == "Skoda"
    theirs = await harness.client.vehicle(v, customer_number=other)
    assert (theirs.ownership, theirs.owner_customer_number) == (
        VehicleOwnership.OWNED_BY_OTHER,
        owner,
    )
    unknown = await harness.client.vehicle(a_vin(), customer_number=owner)
    assert unknown.ownership is VehicleOwnership.UNKNOWN


async def test_register_customer_allocates_a_number_once_and_tells_the_dms(
    harness: Harness, kafka_bootstrap_servers: str
) -> None:
    new = Customer(first_name="Neu", last_name=surname(), email="neu.kunde@example.de")
    request_id, lead_id = uuid.uuid4(), uuid.uuid4()
    prefix = harness.settings.number_prefix
    async with TopicTail(kafka_bootstrap_servers, CUSTOMER_EVENTS.name) as tail:
        first = await harness.client.register(
            new, branch_id="HH-01", requested_by="anna", lead_id=lead_id, request_id=request_id
        )
        again = await harness.client.register(
            new, branch_id="HH-01", requested_by="anna", lead_id=lead_id, request_id=request_id
        )
        assert first.customer_number == again.customer_number == f"{prefix}0001"
        (record,) = await tail.wait_for(lambda r: r.key == first.customer_number.encode())
    event = decode(record.headers, record.value, record.key).message
    assert isinstance(event, CustomerRegistered)
    assert (event.lead_id, event.customer.email) == (lead_id, "neu.kunde@example.de")

    # The range holds three numbers; the fourth request is refused with a clear reason.
    for _ in range(2):
        await harness.client.register(new, branch_id="HH-01", requested_by="anna", lead_id=None)
    from osb_platform.matching import MatchingRefusedError

    with pytest.raises(MatchingRefusedError, match="RANGE_EXHAUSTED"):
        await harness.client.register(new, branch_id="HH-01", requested_by="anna", lead_id=None)


async def test_no_answer_within_the_timeout_is_a_clear_error(kafka_bootstrap_servers: str) -> None:
    # Nobody answers (only a client, no customer-matching with a fresh group listening).
    producer = Producer(kafka_bootstrap_servers, client_id="test-lonely")
    await producer.start()
    client = MatchingClient(kafka_bootstrap_servers, producer, source="/test", timeout=0.5)
    await client.start()
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(MatchingUnavailableError, match=r"did not answer within 0\.5 s"):
            await client.vehicle(a_vin(), customer_number=None)
        assert asyncio.get_running_loop().time() - started < 2.0
    finally:
        await client.stop()
        await producer.stop()


async def test_bulk_import_keeps_the_good_rows_and_reports_the_bad(
    database_urls: dict[str, str], tmp_path: Path
) -> None:
    engine = make_engine(database_urls["customer-matching"], pool_size=1)
    await upgrade(engine, MIGRATIONS)
    run = uuid.uuid4().hex[:6].upper()
    csv_file = tmp_path / "master.csv"
    csv_file.write_text(
        "customer_number,revision,first_name,last_name,email,birth_date,postcode,city,country\n"
        f"I{run}1,1,Anna,Albers,anna@example.de,1980-02-03,20095,Hamburg,DE\n"
        f"I{run}2,1,Bernd,,bernd@example.de,,20095,Hamburg,DE\n"
        f"I{run}3,1,Carla,Cordes,keine-adresse,,,,DE\n"
        f",1,Dora,Dietz,dora@example.de,,,,DE\n"
        f"I{run}5,1,Emil,Ernst,emil@example.de,1975-13-40,,,DE\n",
        encoding="utf-8",
    )
    report = await import_file(engine, csv_file)
    assert (report.read, report.loaded) == (5, 1)
    assert [(b.line, b.field) for b in report.bad] == [
        (3, "last_name"),
        (4, "email"),
        (5, "customer_number"),
        (6, "birth_date"),
    ]
    jsonl = tmp_path / "master.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "customer_number": f"J{run}1",
                "last_name": "Jung",
                "address": {"city": "Wien", "country": "AT"},
            }
        )
        + "\n"
        + "{not json\n",
        encoding="utf-8",
    )
    report = await import_file(engine, jsonl)
    assert (report.read, report.loaded, [(b.line, b.field) for b in report.bad]) == (
        2,
        1,
        [(2, "row")],
    )
    await engine.dispose()


async def test_the_advisor_s_decisions_label_the_candidates_they_were_shown(
    harness: Harness,
) -> None:
    """A search for a lead records what it showed; the lead's AppointmentCreated says what
    the advisor chose; GET /model shows how each band fared. A search after the decision
    changes nothing decided; the event delivered twice labels the same."""
    name, postcode = surname(), f"{random.randrange(10**5):05d}"
    home = Address(street="Hauptstraße", house_number="5", postcode=postcode, city="Hamburg")
    number, neighbour = f"K{uuid.uuid4().hex[:8]}", f"K{uuid.uuid4().hex[:8]}"
    await harness.master(customer(number, name, address=home), revision=1)
    # a spouse: the same surname and address, a first name and e-mail of her own. A stranger
    # at the address is shown only while the learned model (fed by every test's searches in
    # the shared database) weighs the address above the names' disagreement; once it did
    # not, for 30 s.
    spouse = customer(
        neighbour, name, first_name="Eva", email=f"eva.{name.lower()}@example.de", address=home
    )
    await harness.master(spouse, 1)
    lead = Customer(first_name="Jürgen", last_name=name, address=home)
    merged, new = uuid.uuid4(), uuid.uuid4()

    async def both_shown() -> bool:
        found = await harness.client.duplicates(
            lead, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,), lead_id=merged
        )
        return {c.customer_number for c in found.candidates} >= {number, neighbour}

    await harness.until(both_shown)
    found = await harness.client.duplicates(
        lead, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,), lead_id=new
    )
    bands = {c.customer_number: c.band for c in found.candidates}
    before = (await harness.http.get("/model")).json()["decisions"]

    def decision(lead_id: uuid.UUID, choice: CustomerChoice, chosen: str) -> AppointmentCreated:
        return appointment(ConfirmationChannel.NONE).model_copy(
            update={"lead_id": lead_id, "customer_choice": choice, "customer_number": chosen}
        )

    for event in (
        decision(merged, CustomerChoice.MERGE_MASTER_DATA, number),
        decision(merged, CustomerChoice.MERGE_MASTER_DATA, number),  # delivered twice
        decision(new, CustomerChoice.NEW_CUSTOMER, "N-NEW-1"),
    ):
        await publish(harness.bus, event, topic=LEAD_EVENTS, key=str(event.lead_id), source="/t")
    await wait_group_caught_up(
        harness.bootstrap, f"{harness.settings.consumer_group}.decisions", [LEAD_EVENTS.name]
    )
    # searched again after the decision: what was decided stays
    await harness.client.duplicates(
        lead, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,), lead_id=merged
    )
    after = (await harness.http.get("/model")).json()["decisions"]
    assert after["decided_leads"] - before["decided_leads"] == 2

    def count(record: dict[str, Any], band: str, what: str) -> int:
        return int(record["bands"].get(band, {}).get(what, 0))

    shown_more = {b: count(after, b, "shown") - count(before, b, "shown") for b in after["bands"]}
    chosen_more = {
        b: count(after, b, "chosen") - count(before, b, "chosen") for b in after["bands"]
    }
    mine, theirs = bands[number].value.lower(), bands[neighbour].value.lower()
    assert chosen_more[mine] == 1  # merged with the lead's customer; nobody for the new one
    assert sum(chosen_more.values()) == 1
    assert shown_more[mine] >= 2  # each shown to both leads
    assert shown_more[theirs] >= 2
    assert sum(shown_more.values()) == 2 * len(found.candidates)


def _template(topic: Topic) -> Message:
    """A valid message of ``topic`` that names only this test's made-up customer."""
    number, now = f"F{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    if topic is DMS_CUSTOMERS:
        master = customer(number, surname())
        return CustomerMasterChanged(
            change=MasterChange.UPSERT,
            customer_number=number,
            revision=1,
            changed_at=now,
            customer=master,
        )
    if topic is DMS_VEHICLES:
        vin = a_vin()
        return VehicleMasterChanged(
            change=MasterChange.UPSERT,
            vin=vin,
            revision=1,
            changed_at=now,
            owner_customer_number=number,
            vehicle=Vehicle(vin=vin, make="Skoda", model="Octavia"),
        )
    return DuplicateSearchRequested(
        request_id=uuid.uuid4(),
        branch_id="HH-01",
        customer=customer(number, surname()),
        criteria=(DuplicateCriterion.ADDRESS,),
    )


@pytest.mark.fuzz
@pytest.mark.parametrize(
    "topic", [DMS_CUSTOMERS, DMS_VEHICLES, MATCHING_REQUESTS], ids=lambda t: t.name
)
async def test_every_record_is_applied_answered_or_dead_lettered_and_the_rest_flows(
    harness: Harness, topic: Topic
) -> None:
    """Records drawn at random (Hypothesis) on one partition, then a valid one: the group
    commits past all of them, and a record is dead-lettered exactly when the codec refuses
    it (a record the codec takes is applied or answered, never dead-lettered)."""
    valid = encode(_template(topic), key="template", source="/fuzz")
    fuzzed = drawn(records(json.loads(valid.value), valid.header_list), RECORDS)
    key = f"fuzz-{uuid.uuid4().hex[:8]}".encode()
    replica = topic is not MATCHING_REQUESTS
    group = (
        f"{harness.settings.consumer_group}.replica" if replica else harness.settings.consumer_group
    )
    async with TopicTail(harness.bootstrap, topic.dlq) as letters_tail:
        sent = await send_then_valid(harness.bootstrap, topic.name, key, fuzzed, valid)
        await wait_group_caught_up(harness.bootstrap, group, [topic.name])
        await letters_tail.caught_up()
    letters = {
        int(header(r, "osb_dlq_offset") or -1)
        for r in letters_tail.matching(lambda r: r.key == key)
    }
    expect = DMS_CUSTOMERS.messages + DMS_VEHICLES.messages if replica else topic.messages
    for (value, hdrs), meta in zip(fuzzed, sent, strict=True):
        headers = [(k, bytes(v)) for k, v in hdrs]
        try:
            decode(headers, value, key, expect=expect)
            refused = False
        except ContractError:
            refused = True
        assert (meta.offset in letters) == refused, value[:120]
