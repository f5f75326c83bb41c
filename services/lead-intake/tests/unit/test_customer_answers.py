"""What a customer's link may do with its appointment, and the answer taken once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from lead_intake.domain.appointments import (
    OFFERS,
    Action,
    Appointment,
    Refusal,
    State,
    check,
    offered,
)
from lead_intake.service.answers import take_answer
from osb_contracts import decode
from osb_contracts.leads import CustomerAnswer, CustomerAnswered, LeadCancellationRequested
from osb_contracts.topics import LEAD_REQUESTS
from osb_platform.customer_links import CustomerLink, LinkPurpose
from osb_platform.producer import Outgoing

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
APPOINTMENT = Appointment(
    id=uuid.uuid4(),
    lead_id=uuid.uuid4(),
    booking_id="B-1",
    branch_id="HH-01",
    start=NOW + timedelta(days=1),
    end=NOW + timedelta(days=1, hours=1),
    state=State.OPEN,
)


def test_each_purpose_offers_its_actions_while_the_appointment_is_open() -> None:
    assert offered(APPOINTMENT, LinkPurpose.CONFIRM, NOW) == (Action.CONFIRM,)
    assert offered(APPOINTMENT, LinkPurpose.CANCEL, NOW) == (Action.CANCEL,)
    assert offered(APPOINTMENT, LinkPurpose.ANY, NOW) == (
        Action.CONFIRM,
        Action.OTHER_TIME,
        Action.CANCEL,
    )
    assert check(APPOINTMENT, LinkPurpose.CONFIRM, Action.CANCEL, NOW) is Refusal.NOT_OFFERED


@pytest.mark.parametrize(
    ("state", "refusal"),
    [
        (State.MOVED, Refusal.MOVED),
        (State.CANCELLED, Refusal.CANCELLED),
        (State.CLOSED, Refusal.CLOSED),
    ],
)
def test_a_moved_cancelled_or_closed_appointment_takes_no_answer(
    state: State, refusal: Refusal
) -> None:
    gone = replace(APPOINTMENT, state=state)
    for purpose in OFFERS:  # the appointment's links
        assert offered(gone, purpose, NOW) is refusal


def test_a_link_expires_when_its_appointment_begins() -> None:
    assert offered(APPOINTMENT, LinkPurpose.ANY, APPOINTMENT.start) is Refusal.BEGUN
    assert offered(APPOINTMENT, LinkPurpose.ANY, APPOINTMENT.start - timedelta(seconds=1)) != (
        Refusal.BEGUN
    )


def test_a_confirmation_once_then_still_another_time_or_a_cancellation() -> None:
    confirmed = replace(APPOINTMENT, state=State.CONFIRMED)
    assert offered(confirmed, LinkPurpose.CONFIRM, NOW) is Refusal.CONFIRMED_ALREADY
    assert offered(confirmed, LinkPurpose.ANY, NOW) == (Action.OTHER_TIME, Action.CANCEL)
    assert check(confirmed, LinkPurpose.ANY, Action.CONFIRM, NOW) is Refusal.CONFIRMED_ALREADY


def test_after_asking_for_another_time_the_appointment_takes_no_answer() -> None:
    wanted = replace(APPOINTMENT, state=State.OTHER_TIME)  # the lead is new again
    for purpose in OFFERS:  # the appointment's links
        assert offered(wanted, purpose, NOW) is Refusal.OTHER_TIME_ALREADY


class Book:
    """One appointment, its answers taken as the SQL book takes them (locked, counted)."""

    def __init__(self, appointment: Appointment | None) -> None:
        self.appointment = appointment

    async def answer(
        self, appointment_id: uuid.UUID, act: Callable[[Appointment], Awaitable[State | None]]
    ) -> Appointment | None:
        if self.appointment is None or self.appointment.id != appointment_id:
            return None
        state = await act(self.appointment)
        if state is not None:
            self.appointment = replace(
                self.appointment, state=state, answers=self.appointment.answers + 1
            )
        return self.appointment


class Producer:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[Outgoing] = []
        self.fail = fail

    async def send_many(self, outgoing: list[Outgoing]) -> None:
        if self.fail:
            raise ConnectionError("the broker is away")
        self.sent.extend(outgoing)


def _request(outgoing: Outgoing) -> tuple[str, object]:
    envelope = decode(
        outgoing.record.headers,
        outgoing.record.value,
        outgoing.record.key,
        expect=LEAD_REQUESTS.messages,
    )
    return envelope.id, envelope.message


async def test_a_cancellation_goes_on_as_the_portals_with_the_appointment() -> None:
    book, producer = Book(APPOINTMENT), Producer()
    link = CustomerLink(APPOINTMENT.id, LinkPurpose.CANCEL)
    taken = await take_answer(book, producer, link, Action.CANCEL, "Auto verkauft", NOW)
    assert taken.refusal is None
    assert book.appointment is not None
    assert book.appointment.state is State.CANCELLED
    ((topic, _),) = [(o.topic, o) for o in producer.sent]
    assert topic == LEAD_REQUESTS.name
    _, message = _request(producer.sent[0])
    assert isinstance(message, LeadCancellationRequested)
    assert (message.lead_id, message.appointment_id, message.reason) == (
        APPOINTMENT.lead_id,
        APPOINTMENT.id,
        "Auto verkauft",
    )
    again = await take_answer(book, producer, link, Action.CANCEL, None, NOW)
    assert again.refusal is Refusal.CANCELLED
    assert len(producer.sent) == 1


async def test_answers_each_a_new_event_and_nothing_taken_when_the_broker_is_away() -> None:
    book = Book(APPOINTMENT)
    link = CustomerLink(APPOINTMENT.id, LinkPurpose.ANY)
    with pytest.raises(ConnectionError):
        await take_answer(book, Producer(fail=True), link, Action.CONFIRM, None, NOW)
    assert book.appointment == APPOINTMENT  # the customer may try again
    producer = Producer()
    await take_answer(book, producer, link, Action.CONFIRM, None, NOW)
    wish = NOW + timedelta(days=3)
    await take_answer(book, producer, link, Action.OTHER_TIME, "nachmittags", NOW, wish)
    late = await take_answer(book, producer, link, Action.CANCEL, None, NOW)
    assert late.refusal is Refusal.OTHER_TIME_ALREADY
    answers = [_request(o) for o in producer.sent]
    assert [(m.answer, m.requested_start, m.note) for _, m in answers] == [  # type: ignore[attr-defined]
        (CustomerAnswer.CONFIRMED, None, None),
        (CustomerAnswer.OTHER_TIME, wish, "nachmittags"),
    ]
    assert all(isinstance(m, CustomerAnswered) for _, m in answers)
    assert len({event_id for event_id, _ in answers}) == 2


async def test_an_appointment_not_known_yet_is_said_so() -> None:
    link = CustomerLink(uuid.uuid4(), LinkPurpose.ANY)
    taken = await take_answer(Book(APPOINTMENT), Producer(), link, Action.CONFIRM, None, NOW)
    assert (taken.appointment, taken.refusal) == (None, Refusal.NOT_YET)
