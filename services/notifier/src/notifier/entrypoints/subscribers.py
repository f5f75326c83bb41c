"""Subscribers: the lead events that ask for a notification, and the operators' resend
requests; each batch recorded before it is committed, the dispatcher woken after."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from osb_contracts import Envelope
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    LeadOverdue,
    LeadRejected,
    LeadReminderDue,
)
from osb_contracts.topics import LEAD_EVENTS, NOTIFICATION_COMMANDS
from osb_platform.keys import Keyring
from osb_platform.subscriber import Subscribers

from notifier import SERVICE
from notifier.domain.plan import BranchChannels
from notifier.domain.texts import CustomerLinks
from notifier.service.intake import record_notifications, resend_notifications
from notifier.service.ports import NotificationBook

WANTED = {
    LeadRejected.cloudevents_type(),
    LeadReminderDue.cloudevents_type(),
    AppointmentCreated.cloudevents_type(),
    LeadOverdue.cloudevents_type(),  # the branch's escalation e-mail
    AppointmentOffered.cloudevents_type(),  # a counter-offer with the times' links
}


@dataclass(frozen=True)
class Consuming:
    book: NotificationBook
    branches: Mapping[str, BranchChannels]
    wake: asyncio.Event  # the dispatcher's: there is something to send
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    links: CustomerLinks | None = None  # the customer's links in confirmations and reminders
    # opens the lead events' sealed personal fields (the keys asked of lead-manager)
    keyring: Keyring = field(default_factory=lambda: Keyring(None, None))


log = logging.getLogger(__name__)
subscribers: Subscribers[Consuming] = Subscribers(SERVICE)


@subscribers.batch(LEAD_EVENTS, only=WANTED)  # other lead events are not ours
async def lead_events(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    opened = await c.keyring.open(envelopes)
    readable = [e for e in opened if e.sealed is None]
    if len(readable) < len(opened):  # an erased lead's: there is no one to write to
        log.info(
            "lead events of erased leads skipped", extra={"count": len(opened) - len(readable)}
        )
    if await record_notifications(c.book, readable, c.branches, now=c.clock(), links=c.links):
        c.wake.set()


@subscribers.batch(NOTIFICATION_COMMANDS, group=".commands", max_records=100)
async def resend_requests(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    if await resend_notifications(c.book, envelopes):
        c.wake.set()
