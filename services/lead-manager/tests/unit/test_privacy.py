"""The privacy officer's export on fakes: only with the permission, only the officer's
branches, every other service asked with what the person's leads say about them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from lead_manager.domain.permissions import Actor, Permission
from lead_manager.service.privacy import (
    NotAllowedError,
    erase_person,
    export_person,
    topic_copies,
)
from osb_contracts.topics import (
    BRANCH_SETTINGS,
    LEAD_EVENTS,
    MATCHING_REPLIES,
    PORTAL_BOOKINGS,
    TOPICS,
)
from osb_platform.consumed import Cut
from osb_platform.privacy import ErasedCounts, Part, ServiceExport, Subject

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class Peer:
    def __init__(self, name: str) -> None:
        self.name = name
        self.asked: list[Subject] = []

    async def export(self, subject: Subject) -> ServiceExport:
        self.asked.append(subject)
        return ServiceExport(
            service=self.name, parts=[Part(source=f"{self.name}.t", about="x", records=[])]
        )

    async def erase(self, subject: Subject) -> ErasedCounts:
        self.asked.append(subject)
        return ErasedCounts(service=self.name, rows={f"{self.name}.t": 1})


def test_the_export_asks_every_service_with_what_the_person_s_leads_say() -> None:
    seen: list[tuple[Subject, list[str]]] = []

    async def own(subject: Subject, branches: list[str]) -> tuple[list[Part], Subject]:
        seen.append((subject, branches))
        widened = subject.model_copy(
            update={"customer_numbers": ["K-1"], "phones": ["+4915112345678"]}
        )
        return [
            Part(source="lead-manager.leads", about="Terminleads", records=[{"id": 1}])
        ], widened

    officer = Actor(
        "dora",
        "Dora",
        {
            "HH-01": frozenset({Permission.PRIVACY_OFFICER}),
            "M-01": frozenset({Permission.LEAD_MANAGER}),
        },
    )
    peers = [Peer("notifier"), Peer("customer-matching")]
    asked = Subject(emails=["kunde@example.de"])
    document = asyncio.run(export_person(officer, asked, own=own, peers=peers, now=NOW))

    assert seen == [(asked, ["HH-01"])]  # not M-01: no privacy permission there
    assert [p.asked for p in peers] == [[document.found_by]] * 2
    assert document.found_by.customer_numbers == ["K-1"]
    assert [s.service for s in document.services] == [
        "lead-manager",
        "notifier",
        "customer-matching",
    ]
    assert (document.exported_by, document.branches) == ("dora", ["HH-01"])
    kept = {t.topic: t.kept for t in document.topics}
    assert kept[LEAD_EVENTS.name] == "dauerhaft"
    assert LEAD_EVENTS.dlq in kept


def test_without_the_privacy_officer_s_permission_nothing_is_asked() -> None:
    async def own(subject: Subject, branches: list[str]) -> tuple[list[Part], Subject]:
        raise AssertionError("not asked")

    advisor = Actor(
        "anna", "Anna", {"HH-01": frozenset(set(Permission) - {Permission.PRIVACY_OFFICER})}
    )
    with pytest.raises(NotAllowedError):
        asyncio.run(export_person(advisor, Subject(emails=["a@b.de"]), own=own, peers=[], now=NOW))


def test_the_erasure_asks_the_other_services_before_it_erases_its_own_rows() -> None:
    """So that a second try, after another service did not answer, still finds the person's
    leads: lead-manager's own rows are the last step."""
    steps: list[str] = []
    widened = Subject(emails=["kunde@example.de"], customer_numbers=["K-1"])

    async def widen(subject: Subject, branches: list[str], now: datetime) -> Subject:
        steps.append(f"widen {branches}")
        return widened

    async def own(subject: Subject, branches: list[str], now: datetime) -> dict[str, int]:
        steps.append(f"own after {len(notifier.asked)} asked")
        assert subject == widened
        return {"lead-manager.leads": 2}

    async def dead_letters(subject: Subject) -> dict[str, int]:
        steps.append(f"dead letters after {len(notifier.asked)} asked")
        return {"osb.portal.bookings.v1.dlq": 1}

    async def work_topics(subject: Subject) -> Cut:
        steps.append("work topics")
        return Cut({"osb.lead.requests.v1": 7}, ["osb.customer.events.v1[0]"])

    @asynccontextmanager
    async def one_at_a_time() -> AsyncIterator[None]:
        steps.append("lock")
        yield
        steps.append("unlock")

    notifier = Peer("notifier")
    officer = Actor("dora", "Dora", {"HH-01": frozenset({Permission.PRIVACY_OFFICER})})
    done = asyncio.run(
        erase_person(
            officer,
            Subject(emails=["kunde@example.de"]),
            widen=widen,
            own=own,
            peers=[notifier],
            dead_letters=dead_letters,
            work_topics=work_topics,
            now=NOW,
            sealed=True,
            one_at_a_time=one_at_a_time,
        )
    )
    assert steps == [
        "widen ['HH-01']",
        "lock",  # another instance's erasure rewrites no partition meanwhile
        "dead letters after 1 asked",
        "work topics",
        "own after 1 asked",
        "unlock",
    ]
    assert notifier.asked == [widened]
    assert [(c.service, c.rows) for c in done.services] == [
        ("lead-manager", {"lead-manager.leads": 2}),
        ("notifier", {"notifier.t": 1}),
        ("kafka", {"osb.portal.bookings.v1.dlq": 1, "osb.lead.requests.v1": 7}),
    ]
    # what it does not reach is said, not hidden: here only the partition no group reads
    assert done.not_yet == [
        "osb.customer.events.v1[0]: no consumer group of the installation reads it: not cut"
    ]


def test_the_export_says_in_german_what_every_topic_carries_and_how_long() -> None:
    copies = {c.topic: c for c in topic_copies()}
    assert set(copies) == {t.name for t in TOPICS} | {t.dlq for t in TOPICS if t.has_dlq}
    assert copies[LEAD_EVENTS.name].kept == "dauerhaft"
    assert "Schlüssel" in copies[LEAD_EVENTS.name].about
    assert copies[MATCHING_REPLIES.name].kept == "1 Stunde"
    assert copies[LEAD_EVENTS.dlq].kept == "30 Tage"
    assert copies[PORTAL_BOOKINGS.name].kept.endswith("(voreingestellt 7 Tage)")
    assert copies[BRANCH_SETTINGS.name].kept.startswith("der jeweils neueste Stand")
