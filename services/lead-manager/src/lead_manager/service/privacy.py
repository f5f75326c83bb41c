"""A person's data from every service, for the privacy officer (GDPR Art. 15; issue 19).

lead-manager finds the person's leads in the branches the officer answers for, widens what
identifies them by what those leads say, and asks the other services for theirs. The topics
carry copies of the same records as events, each for as long as its retention says: the
document names them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from osb_contracts.topics import DAY_MS, DLQ_RETENTION_DAYS, TOPICS
from osb_platform.consumed import Cut
from osb_platform.privacy import ErasedCounts, Part, ServiceExport, Subject
from prometheus_client import Counter
from pydantic import BaseModel

from lead_manager.domain.permissions import Actor, Permission

log = logging.getLogger(__name__)


class Peer(Protocol):
    name: str

    async def export(self, subject: Subject) -> ServiceExport: ...

    async def erase(self, subject: Subject) -> ErasedCounts: ...


class TopicCopy(BaseModel):
    topic: str
    about: str
    kept: str  # how long a record stays


class PrivacyExport(BaseModel):
    subject: Subject  # as asked
    found_by: Subject  # as widened by the person's leads
    branches: list[str]
    exported_at: datetime
    exported_by: str
    services: list[ServiceExport]
    topics: list[TopicCopy]


class NotAllowedError(Exception):
    """The actor is privacy officer of no branch."""


class OpenLeadsError(Exception):
    """The person has leads still being worked on: decide them first."""

    def __init__(self, lead_ids: list[UUID]) -> None:
        super().__init__(f"{len(lead_ids)} open leads")
        self.lead_ids = lead_ids


OwnExport = Callable[[Subject, list[str]], Awaitable[tuple[list[Part], Subject]]]
# the subject widened by the person's leads (refused while one is open), and the erasure
Widen = Callable[[Subject, list[str], datetime], Awaitable[Subject]]
OwnErase = Callable[[Subject, list[str], datetime], Awaitable[dict[str, int]]]
# the person's dead letters gone from every dead-letter topic: how many per topic
DeadLetters = Callable[[Subject], Awaitable[dict[str, int]]]
# the work topics cut at what every group has read: records per topic, partitions unread
WorkTopics = Callable[[Subject], Awaitable[Cut]]


class PrivacyErasure(BaseModel):
    subject: Subject  # as asked
    found_by: Subject  # as widened by the person's leads
    branches: list[str]
    erased_at: datetime
    erased_by: str
    services: list[ErasedCounts]
    not_yet: list[str]  # what this erasure does not reach yet (issue 19)


# Said in an erasure's answer where the installation does not seal the lead events (no
# OSB_PRIVACY_TOKEN: lead-manager could not hand out the keys; docs/architecture.md).
UNSEALED = (
    "osb.lead.events.v1 keeps the person's lead events in readable form (kept for ever; "
    "their personal fields are sealed only where the installation has OSB_PRIVACY_TOKEN)"
)


async def export_person(
    actor: Actor,
    subject: Subject,
    *,
    own: OwnExport,
    peers: Sequence[Peer],
    now: datetime,
    service: str = "lead-manager",
) -> PrivacyExport:
    branches = actor.branches_with(Permission.PRIVACY_OFFICER)
    if not branches:
        raise NotAllowedError
    parts, widened = await own(subject, branches)
    others = await asyncio.gather(*(p.export(widened) for p in peers))
    return PrivacyExport(
        subject=subject,
        found_by=widened,
        branches=branches,
        exported_at=now,
        exported_by=actor.id,
        services=[ServiceExport(service=service, parts=parts), *others],
        topics=topic_copies(),
    )


# what each topic carries, for the person who receives the export (German, as the parts)
TOPIC_ABOUT = {
    "osb.portal.bookings.v1": "Buchungen aus dem Online-Portal, wie sie abgeschickt wurden.",
    "osb.lead.requests.v1": (
        "Geprüfte Buchungen, Stornierungen und Antworten des Kunden auf dem Weg zum Leadmanager."
    ),
    "osb.lead.events.v1": (
        "Jede Änderung eines Terminleads, dauerhaft gespeichert (die Auswertung wird daraus "
        "gebildet). Die persönlichen Angaben sind mit einem Schlüssel je Lead verschlüsselt; "
        "eine Löschung vernichtet den Schlüssel."
    ),
    "osb.dms.appointments.v1": "Terminänderungen aus dem DMS: Löschungen, Ankunft des Kunden.",
    "osb.dms.customers.v1": "Änderungen am Kundenstamm des DMS.",
    "osb.dms.vehicles.v1": "Änderungen am Fahrzeugstamm des DMS.",
    "osb.customer.events.v1": "Neue Kunden und Änderungswünsche am Kundenstamm für das DMS.",
    "osb.matching.requests.v1": (
        "Anfragen an die Kundenidentifikation: Dublettensuche, Kunden- und Fahrzeugsuche."
    ),
    "osb.matching.replies.v1": "Antworten der Kundenidentifikation.",
    "osb.notification.events.v1": "Das Ergebnis jeder E-Mail und SMS: versandt oder nicht.",
    "osb.notification.commands.v1": "Aufträge an den Versand, etwa erneut zu senden.",
    "osb.branch.settings.v1": "Die OSB-Einstellungen jeder Filiale (keine Kundendaten).",
}


def topic_copies() -> list[TopicCopy]:
    """Every topic with what it carries and how long it keeps a record, in German."""
    copies = []
    for topic in TOPICS:
        copies.append(
            TopicCopy(topic=topic.name, about=TOPIC_ABOUT[topic.name], kept=_kept(topic.config))
        )
        if topic.has_dlq:
            copies.append(
                TopicCopy(
                    topic=topic.dlq,
                    about=f"Datensätze aus {topic.name}, die nicht verarbeitet werden konnten.",
                    kept=_kept({"retention.ms": str(DLQ_RETENTION_DAYS * DAY_MS)}),
                )
            )
    return copies


def _kept(config: dict[str, Any]) -> str:
    if config.get("cleanup.policy") == "compact":
        return "der jeweils neueste Stand je Schlüssel, bis er gelöscht wird"
    retention = config.get("retention.ms")
    if retention == "-1":
        return "dauerhaft"
    if retention is None:
        return "so lange, wie der Kafka-Cluster Datensätze aufbewahrt (voreingestellt 7 Tage)"
    hours = int(retention) / 3_600_000
    if hours >= 48:
        return f"{hours / 24:g} Tage"
    return f"{hours:g} Stunde" if hours == 1 else f"{hours:g} Stunden"


async def erase_person(
    actor: Actor,
    subject: Subject,
    *,
    widen: Widen,
    own: OwnErase,
    peers: Sequence[Peer],
    dead_letters: DeadLetters,
    work_topics: WorkTopics,
    now: datetime,
    sealed: bool,
    one_at_a_time: Callable[[], AbstractAsyncContextManager[Any]] = nullcontext,
    service: str = "lead-manager",
) -> PrivacyErasure:
    """The other services, the dead letters and the work topics first, then lead-manager's
    own rows: each
    step can be asked again (nothing found twice is erased twice), and lead-manager still
    finds the person's leads for a second try until its own step has run."""
    branches = actor.branches_with(Permission.PRIVACY_OFFICER)
    if not branches:
        raise NotAllowedError
    widened = await widen(subject, branches, now)
    # one erasure at a time across the instances: two rewriting the same dead-letter
    # partition would append the others' dead letters twice
    async with one_at_a_time():
        others = await asyncio.gather(*(p.erase(widened) for p in peers))
        letters = await dead_letters(widened)
        cut = await work_topics(widened)
        counts = await own(widened, branches, now)
    return PrivacyErasure(
        subject=subject,
        found_by=widened,
        branches=branches,
        erased_at=now,
        erased_by=actor.id,
        services=[
            ErasedCounts(service=service, rows=counts),
            *others,
            ErasedCounts(service="kafka", rows=letters | cut.deleted),
        ],
        not_yet=([] if sealed else [UNSEALED])
        + [f"{p}: no consumer group of the installation reads it: not cut" for p in cut.unread],
    )


RETENTION = Counter(
    "osb_lead_manager_leads_anonymised_total",
    "Closed leads anonymised past their branch's retention (issue 19)",
)


async def expire_leads(
    find: Callable[[datetime], Awaitable[list[UUID]]],
    anonymise: Callable[[list[UUID], datetime], Awaitable[int]],
    peers: Sequence[Peer],
    now: datetime,
) -> int:
    """The closed leads past their branch's retention anonymised with the same guarantees as
    an erasure: the other services erase what they hold about those leads first (by the
    leads alone: the person's newer leads, their STOP and the DMS's masters stay), then
    lead-manager's rows. Batch after batch until none is left; how many."""
    total = 0
    while ids := await find(now):
        await asyncio.gather(*(p.erase(Subject(lead_ids=ids)) for p in peers))
        done = await anonymise(ids, now)
        RETENTION.inc(done)
        total += done
        if done == 0:  # every one taken by another instance meanwhile
            break
    return total


async def watch_retention(
    expire: Callable[[datetime], Awaitable[int]],
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    *,
    every: float,
) -> None:
    """Every ``every`` seconds until ``stop``: :func:`expire_leads`. A database or a service
    away is tried again next time (one line when it fails, one when it works again)."""
    failing = False
    while not stop.is_set():
        try:
            await expire(clock())
            if failing:
                log.info("the lead retention is applied again")
            failing = False
        except Exception as exc:  # the next round tries again
            if not failing:
                log.warning("the lead retention could not be applied: %s", type(exc).__name__)
            failing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
