"""The customer's page behind the links, on the real broker and database: the appointments
from the lead events, each answer once as a lead request, and every refusal said plainly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from faststream.kafka import KafkaBroker
from lead_intake.domain.appointments import OFFERS
from lead_intake.entrypoints.app import create_app
from lead_intake.settings import Settings
from osb_contracts import Message, decode
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    CustomerAnswer,
    CustomerAnswered,
    LeadCancellationRequested,
    LeadRejected,
    OfferedTime,
    OfferTaken,
)
from osb_contracts.topics import LEAD_EVENTS, LEAD_REQUESTS, PORTAL_BOOKINGS
from osb_contracts.values import Channel, ConfirmationChannel
from osb_platform import customer_links, make_broker, publish
from osb_platform.customer_links import LinkPurpose
from osb_testing.factories import appointment
from osb_testing.kafka import TopicTail, move_group_to_end
from pydantic import SecretStr

pytestmark = pytest.mark.integration

SECRET = "a-secret-of-at-least-thirty-two-chars"
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class Links:
    http: httpx.AsyncClient
    bus: KafkaBroker
    tail: TopicTail

    async def appointment(self, **changes: object) -> AppointmentCreated:
        """An appointment two days ahead, published as lead-manager does, once the page
        knows it."""
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        made = appointment(ConfirmationChannel.EMAIL).model_copy(
            update={"start": start, "end": start + timedelta(hours=1), **changes}
        )
        await publish(
            self.bus, made, topic=LEAD_EVENTS, key=str(made.lead_id), source="/osb/lead-manager"
        )
        token = customer_links.sign(SECRET, made.appointment_id, LinkPurpose.ANY)
        async with asyncio.timeout(30):
            while (await self.http.get(f"/termin/{token}")).status_code == 503:
                await asyncio.sleep(0.05)
        return made

    def url(self, made: AppointmentCreated, purpose: LinkPurpose) -> str:
        return f"/termin/{customer_links.sign(SECRET, made.appointment_id, purpose)}"

    async def requests(self, made: AppointmentCreated, count: int = 1) -> list[Message]:
        key = str(made.lead_id).encode()
        records = await self.tail.wait_for(
            lambda r: r.topic == LEAD_REQUESTS.name and r.key == key, count=count
        )
        return [decode(r.headers, r.value, r.key).message for r in records]


@pytest.fixture
async def links(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> AsyncIterator[Links]:
    group = f"lead-intake-links-{uuid.uuid4().hex[:8]}"
    await move_group_to_end(kafka_bootstrap_servers, group, [PORTAL_BOOKINGS.name])
    await move_group_to_end(kafka_bootstrap_servers, f"{group}.lead-events", [LEAD_EVENTS.name])
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_urls["lead-intake"],
        consumer_group=group,
    ).model_copy(update={"customer_link_secret": SecretStr(SECRET)})
    app = create_app(settings)
    bus = make_broker(kafka_bootstrap_servers, client_id="test-lead-manager")
    await bus.start()
    try:
        async with (
            app.router.lifespan_context(app),
            TopicTail(kafka_bootstrap_servers, LEAD_REQUESTS.name) as tail,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake"
            ) as http,
        ):
            yield Links(http, bus, tail)
    finally:
        await bus.stop()


async def test_a_confirmation_is_taken_once_and_goes_on_as_a_lead_request(links: Links) -> None:
    made = await links.appointment()
    url = links.url(made, LinkPurpose.CONFIRM)
    shown = await links.http.get(url)
    assert shown.status_code == 200
    assert "Termin bestätigen" in shown.text
    assert "Termin absagen" not in shown.text  # a confirmation link confirms, nothing else
    when = made.start.astimezone(BERLIN)
    assert f"{when:%d.%m.%Y} um {when:%H:%M} Uhr" in shown.text
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert (await links.http.get(url)).status_code == 200  # looking changes nothing
    done = await links.http.post(url, data={"action": "confirm"})
    assert (done.status_code, "Termin bestätigt" in done.text) == (200, True)
    (request,) = await links.requests(made)
    assert isinstance(request, CustomerAnswered)
    assert (request.lead_id, request.appointment_id, request.answer) == (
        made.lead_id,
        made.appointment_id,
        CustomerAnswer.CONFIRMED,
    )
    again = await links.http.post(url, data={"action": "confirm"})
    assert again.status_code == 409
    assert "bereits bestätigt" in again.text
    offered = await links.http.get(links.url(made, LinkPurpose.ANY))
    assert "Anderen Termin wünschen" in offered.text
    assert "Termin bestätigen" not in offered.text


async def test_a_cancellation_names_the_appointment_and_closes_every_link(links: Links) -> None:
    made = await links.appointment()
    url = links.url(made, LinkPurpose.CANCEL)
    refused = await links.http.post(url, data={"action": "confirm"})  # not this link's
    assert (refused.status_code, "nicht möglich" in refused.text) == (400, True)
    done = await links.http.post(url, data={"action": "cancel", "note": "Auto verkauft"})
    assert "Termin abgesagt" in done.text
    (request,) = await links.requests(made)
    assert isinstance(request, LeadCancellationRequested)
    assert (request.appointment_id, request.reason) == (made.appointment_id, "Auto verkauft")
    for purpose in OFFERS:  # the appointment's links
        gone = await links.http.get(links.url(made, purpose))
        assert (gone.status_code, "bereits abgesagt" in gone.text) == (410, True)


async def test_another_time_needs_a_readable_future_wish_in_the_branch_s_zone(
    links: Links,
) -> None:
    made = await links.appointment()
    url = links.url(made, LinkPurpose.OTHER_TIME)
    for day, time, said in (
        ("31.02.2027", "10:00", "als Datum (TT.MM.JJJJ) und Uhrzeit (HH:MM)"),
        ("2027-03-01", "10:00", "als Datum (TT.MM.JJJJ) und Uhrzeit (HH:MM)"),
        ("01.01.2020", "10:00", "in der Zukunft"),
        ("01.01.2099", "10:00", "innerhalb der nächsten zwölf Monate"),
    ):
        wrong = await links.http.post(
            url, data={"action": "other-time", "day": day, "time": time, "note": "nachmittags"}
        )
        assert (wrong.status_code, said in wrong.text) == (422, True), day
        assert 'value="nachmittags"' in wrong.text or ">nachmittags</textarea>" in wrong.text
    wish = (datetime.now(BERLIN) + timedelta(days=9)).replace(hour=15, minute=30)
    done = await links.http.post(
        url,
        data={"action": "other-time", "day": f"{wish:%d.%m.%Y}", "time": "15:30", "note": "gern"},
    )
    assert "Wunsch übermittelt" in done.text
    (request,) = await links.requests(made)
    assert isinstance(request, CustomerAnswered)
    assert request.answer is CustomerAnswer.OTHER_TIME
    assert request.requested_start == wish.replace(second=0, microsecond=0)
    assert request.requested_start.astimezone(BERLIN).hour == 15
    assert request.note == "gern"
    later = await links.http.get(links.url(made, LinkPurpose.CANCEL))
    assert (later.status_code, "liegt uns bereits vor" in later.text) == (409, True)


async def test_moved_begun_unknown_and_forged_links_say_why(links: Links) -> None:
    first = await links.appointment()
    moved = await links.appointment(
        lead_id=first.lead_id,
        appointment_id=uuid.uuid4(),
        created_at=first.created_at + timedelta(minutes=5),
    )
    old = await links.http.get(links.url(first, LinkPurpose.ANY))
    assert (old.status_code, "wurde verschoben" in old.text) == (410, True)
    assert (await links.http.get(links.url(moved, LinkPurpose.ANY))).status_code == 200
    past = datetime.now(UTC) - timedelta(hours=1)
    begun = await links.appointment(start=past, end=past + timedelta(hours=1))
    expired = await links.http.post(links.url(begun, LinkPurpose.CANCEL), data={"action": "cancel"})
    assert (expired.status_code, "bereits begonnen" in expired.text) == (410, True)
    unknown = await links.http.get(
        links.url(appointment(ConfirmationChannel.EMAIL), LinkPurpose.ANY)
    )
    assert (unknown.status_code, "noch eingetragen" in unknown.text) == (503, True)
    assert unknown.headers["Retry-After"] == "60"
    token = customer_links.sign(SECRET, moved.appointment_id, LinkPurpose.CONFIRM)
    forged = f"/termin/{token[:-3]}abc"
    for response in (
        await links.http.get(forged),
        await links.http.post(forged, data={"action": "confirm"}),
    ):
        assert (response.status_code, "Dieser Link ist ungültig" in response.text) == (404, True)
    assert links.tail.matching(lambda r: r.key == str(begun.lead_id).encode()) == []


async def offered(links: Links, respond_in: timedelta = timedelta(days=1)) -> AppointmentOffered:
    """A counter-offer of two times, published as lead-manager does, once the page knows it."""
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    made = appointment(ConfirmationChannel.EMAIL)
    offer = AppointmentOffered(
        lead_id=made.lead_id,
        offer_id=uuid.uuid4(),
        booking_id=made.booking_id,
        branch_id=made.branch_id,
        times=tuple(
            OfferedTime(start=first + timedelta(days=d), end=first + timedelta(days=d, hours=1))
            for d in (0, 1)
        ),
        respond_by=datetime.now(UTC) + respond_in,
        channel=Channel.EMAIL,
        recipient="kunde@example.de",
        customer=made.customer,
        offered_by="anna",
        offered_at=datetime.now(UTC),
    )
    await publish(
        links.bus, offer, topic=LEAD_EVENTS, key=str(offer.lead_id), source="/osb/lead-manager"
    )
    token = customer_links.sign(SECRET, offer.offer_id, LinkPurpose.OFFER)
    async with asyncio.timeout(30):
        while (await links.http.get(f"/termin/{token}")).status_code == 503:
            await asyncio.sleep(0.05)
    return offer


def offer_url(offer: AppointmentOffered, purpose: LinkPurpose) -> str:
    return f"/termin/{customer_links.sign(SECRET, offer.offer_id, purpose)}"


async def test_a_time_of_an_offer_is_taken_once_by_its_link(links: Links) -> None:
    offer = await offered(links)
    second = offer.times[1].start.astimezone(BERLIN)
    shown = await links.http.get(offer_url(offer, LinkPurpose.TAKE_2))
    assert shown.status_code == 200
    assert f"{second:%d.%m.%Y} um {second:%H:%M} Uhr wählen" in shown.text
    assert shown.text.count("wählen</button>") == 1  # the second time's link: that time
    assert (await links.http.get(offer_url(offer, LinkPurpose.OFFER))).text.count(
        "wählen</button>"
    ) == 2
    assert (await links.http.get(offer_url(offer, LinkPurpose.TAKE_3))).status_code == 400
    wrong = await links.http.post(offer_url(offer, LinkPurpose.TAKE_2), data={"index": "0"})
    assert wrong.status_code == 400  # the second time's link takes the second time only
    done = await links.http.post(offer_url(offer, LinkPurpose.TAKE_2), data={"index": "1"})
    assert (done.status_code, "Termin gewählt" in done.text) == (200, True)
    key = str(offer.lead_id).encode()
    (record,) = await links.tail.wait_for(lambda r: r.topic == LEAD_REQUESTS.name and r.key == key)
    request = decode(record.headers, record.value, record.key).message
    assert isinstance(request, OfferTaken)
    assert (request.offer_id, request.time_index) == (offer.offer_id, 1)
    again = await links.http.post(offer_url(offer, LinkPurpose.OFFER), data={"index": "0"})
    assert again.status_code == 409
    assert f"{second:%d.%m.%Y} um {second:%H:%M} Uhr" in again.text


async def test_a_lapsed_or_decided_offer_says_so(links: Links) -> None:
    lapsed = await offered(links, respond_in=timedelta(seconds=-1))
    gone = await links.http.get(offer_url(lapsed, LinkPurpose.OFFER))
    assert (gone.status_code, "ist abgelaufen" in gone.text) == (410, True)
    decided = await offered(links)
    rejected = LeadRejected(
        lead_id=decided.lead_id,
        booking_id=decided.booking_id,
        branch_id=decided.branch_id,
        rejected_by="anna",
        rejected_at=datetime.now(UTC),
        channel=Channel.EMAIL,
        recipient="kunde@example.de",
        text="Leider nicht.",
        customer=decided.customer,
    )
    await publish(
        links.bus, rejected, topic=LEAD_EVENTS, key=str(rejected.lead_id), source="/osb/lm"
    )
    async with asyncio.timeout(30):
        while (await links.http.get(offer_url(decided, LinkPurpose.OFFER))).status_code == 200:
            await asyncio.sleep(0.05)
    closed = await links.http.post(offer_url(decided, LinkPurpose.TAKE_1), data={"index": "0"})
    assert (closed.status_code, "gilt nicht mehr" in closed.text) == (410, True)
