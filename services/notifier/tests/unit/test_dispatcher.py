"""The dispatcher outlives a database that fails while outcomes are stored."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from notifier.domain.notification import Claimed, RetryPolicy, SendFailedError
from notifier.domain.plan import BranchChannels, plan
from notifier.service.dispatch import Dispatcher
from notifier.service.ports import NotificationQueue
from osb_contracts import Envelope
from osb_contracts.values import Channel
from osb_testing.factories import rejection

BRANCHES = {"HH-01": BranchChannels("Autohaus Hansa Hamburg", "service@hansa.example")}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class FlakyStore:
    """Hands out one notification until it is marked sent; the first mark fails."""

    def __init__(self, claimed: Claimed) -> None:
        self.claimed = claimed
        self.marks = 0
        self.sent_at: datetime | None = None

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]:
        return [] if self.sent_at else [self.claimed]

    async def sent(self, claimed: Claimed) -> None:
        self.marks += 1
        if self.marks == 1:
            raise ConnectionError("the database went away")
        self.sent_at = NOW

    async def retry_later(
        self, claimed: Claimed, error: SendFailedError, next_attempt_at: datetime
    ) -> None:
        raise AssertionError(f"not a send failure: {error}")

    async def failed(self, claimed: Claimed, error: SendFailedError) -> None:
        raise AssertionError(f"not a send failure: {error}")

    async def opted_out(self, phone: str) -> bool:
        return False


class Outbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.messages.append(message)


class NoSms:
    async def send(self, *, to: str, text: str, sender: str | None, reference: str) -> None:
        raise AssertionError("these are e-mails")


def dispatching(store: NotificationQueue, mail: Outbox) -> Dispatcher:
    return Dispatcher(
        store,
        email=mail,
        sms=NoSms(),
        branches=BRANCHES,
        policy=RetryPolicy(3, 0.01, 0.01),
        clock=lambda: NOW,
        idle_sleep=0.01,
        rng=random.Random(1),
    )


async def test_a_failure_to_store_an_outcome_does_not_end_the_dispatcher() -> None:
    (draft,) = plan(Envelope("evt-1", "t", "/t", NOW, "c", None, None, rejection()), BRANCHES)
    store = FlakyStore(Claimed(draft.id, draft, attempts=0))
    mail = Outbox()
    dispatcher = dispatching(store, mail)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    async with asyncio.timeout(10):
        while store.sent_at is None:
            assert not running.done(), running
            await asyncio.sleep(0.01)
    stop.set()
    await running
    # Sent, not marked, sent again (the crash window of one send), then marked.
    assert store.marks == 2
    assert len(mail.messages) == 2


class RecordingStore:
    """Hands out one notification until an outcome is stored; keeps the outcomes."""

    def __init__(self, claimed: Claimed, opted_out: frozenset[str] = frozenset()) -> None:
        self.claimed = claimed
        self.outcomes: list[tuple[str, Any]] = []
        self.stopped = opted_out  # numbers that answered STOP

    async def opted_out(self, phone: str) -> bool:
        return phone in self.stopped

    async def claim(self, limit: int, lease: timedelta) -> list[Claimed]:
        return [] if self.outcomes else [self.claimed]

    async def sent(self, claimed: Claimed) -> None:
        self.outcomes.append(("sent", None))

    async def failed(self, claimed: Claimed, error: SendFailedError) -> None:
        self.outcomes.append(("failed", error))

    async def retry_later(
        self, claimed: Claimed, error: SendFailedError, next_attempt_at: datetime
    ) -> None:
        self.outcomes.append(("retry", error))


async def test_a_message_that_cannot_be_built_fails_for_good_at_once() -> None:
    (draft,) = plan(Envelope("evt-2", "t", "/t", NOW, "c", None, None, rejection()), BRANCHES)
    # stored before subjects were held to one line: the header cannot carry it
    broken = replace(draft, subject="Ihr Termin\r\nBcc: alle@example.de")
    store = RecordingStore(Claimed(broken.id, broken, attempts=0))
    mail = Outbox()
    dispatcher = dispatching(store, mail)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    async with asyncio.timeout(10):
        while not store.outcomes:
            await asyncio.sleep(0.01)
    stop.set()
    await running
    ((outcome, error),) = store.outcomes
    assert outcome == "failed"
    assert (error.code, error.permanent) == ("MESSAGE_INVALID", True)
    assert mail.messages == []


class SmsGateway:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, *, to: str, text: str, sender: str | None, reference: str) -> None:
        self.sent.append(to)


async def _dispatch_one(store: RecordingStore, sms: SmsGateway) -> tuple[str, Any]:
    dispatcher = Dispatcher(
        store,
        email=Outbox(),
        sms=sms,
        branches=BRANCHES,
        policy=RetryPolicy(3, 0.01, 0.01),
        clock=lambda: NOW,
        idle_sleep=0.01,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    async with asyncio.timeout(10):
        while not store.outcomes:
            await asyncio.sleep(0.01)
    stop.set()
    await running
    (outcome,) = store.outcomes
    return outcome


async def test_no_sms_to_a_number_that_answered_stop() -> None:
    branches = {"HH-01": BranchChannels("Autohaus Hansa", "s@h.example", sms_enabled=True)}
    event = rejection(channel=Channel.SMS, recipient="+4917612345678")
    (draft,) = plan(Envelope("evt-3", "t", "/t", NOW, "c", None, None, event), branches)
    claimed = Claimed(draft.id, draft, attempts=0)
    sms = SmsGateway()
    outcome, error = await _dispatch_one(
        RecordingStore(claimed, opted_out=frozenset({"+4917612345678"})), sms
    )
    assert outcome == "failed"
    assert (error.code, error.permanent) == ("SMS_OPTED_OUT", True)
    assert sms.sent == []
    outcome, _ = await _dispatch_one(RecordingStore(claimed, frozenset({"+4915112345678"})), sms)
    assert outcome == "sent"
    assert sms.sent == ["+4917612345678"]
