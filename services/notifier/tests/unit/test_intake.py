"""Recording what lead events ask for, and resend requests, over the NotificationBook port."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from notifier.domain.notification import Draft
from notifier.domain.plan import BranchChannels
from notifier.service.intake import record_notifications, resend_notifications
from osb_contracts import Envelope, Message
from osb_contracts.notifications import NotificationResendRequested
from osb_testing.factories import rejection

BRANCHES = {"HH-01": BranchChannels("Autohaus Hansa Hamburg", "service@hansa.example")}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def env(message: Message, event_id: str) -> Envelope[Message]:
    return Envelope(event_id, "t", "/t", NOW, "c", None, None, message)


class FakeBook:
    """A book that records each draft once and each resend event once, as the store does."""

    def __init__(self) -> None:
        self.drafts: dict[UUID, Draft] = {}
        self.calls = 0
        self.seen: set[str] = set()
        self.due: list[UUID] = []

    async def record(self, drafts: Sequence[Draft]) -> list[UUID]:
        self.calls += 1
        new = [d.id for d in drafts if d.id not in self.drafts]
        self.drafts |= {d.id: d for d in drafts}
        return new

    async def resend_requested(self, requests: Sequence[tuple[str, UUID]]) -> int:
        fresh = [(e, n) for e, n in requests if e not in self.seen]
        self.seen |= {e for e, _ in requests}
        self.due += [n for _, n in fresh]
        return len(fresh)


async def test_a_batch_is_recorded_once_and_counts_only_what_is_new() -> None:
    book = FakeBook()
    batch = [env(rejection(), "evt-1"), env(rejection(), "evt-2")]
    assert await record_notifications(book, batch, BRANCHES) == 2
    assert await record_notifications(book, batch, BRANCHES) == 0  # redelivered
    assert (len(book.drafts), book.calls) == (2, 2)


async def test_a_batch_that_asks_for_nothing_does_not_touch_the_book() -> None:
    book = FakeBook()
    resend = NotificationResendRequested(
        notification_id=uuid.uuid4(),
        lead_id=uuid.uuid4(),
        branch_id="HH-01",
        requested_by="anna",
        requested_at=NOW,
    )
    assert await record_notifications(book, [env(resend, "evt-1")], BRANCHES) == 0
    assert book.calls == 0


async def test_each_resend_request_makes_its_notification_due_once() -> None:
    book = FakeBook()
    target = uuid.uuid4()
    request = NotificationResendRequested(
        notification_id=target,
        lead_id=uuid.uuid4(),
        branch_id="HH-01",
        requested_by="anna",
        requested_at=NOW,
    )
    assert await resend_notifications(book, [env(request, "evt-9")]) == 1
    assert await resend_notifications(book, [env(request, "evt-9")]) == 0  # redelivered
    assert book.due == [target]
