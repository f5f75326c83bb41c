"""The advisor's reads and the settings command, on fakes of their ports: nothing about a
lead or a branch is revealed to someone without its permission, the closed-lead rule is the
domain's, and the settings go through the repository port."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from lead_manager.domain.branch import Acceptor, BranchSettings
from lead_manager.domain.model import AccessDeniedError, Lead, RuleViolationError
from lead_manager.domain.permissions import SYSTEM_DMS, Actor, Permission
from lead_manager.service import queries
from lead_manager.service.commands import LeadNotFoundError, save_settings
from lead_manager.service.ports import (
    CalendarEntry,
    ConcurrencyError,
    LeadFilter,
    Page,
    Scheduled,
)
from osb_contracts.leads import LeadRequested, VehicleCase
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADVISOR = Actor("anna", "Anna", {"HH-01": frozenset({Permission.LEAD_MANAGER})})
STRANGER = Actor("otto", "Otto", {"B-02": frozenset({Permission.LEAD_MANAGER})})
ADMIN = Actor("ada", "Ada", {"HH-01": frozenset({Permission.OSB_ADMIN})})


def lead() -> Lead:
    request = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id="B-9",
        branch_id="HH-01",
        received_at=NOW,
        requested_start=NOW + timedelta(days=2),
        customer=Customer(first_name="Karla", last_name="Krüger", email="karla@example.de"),
        vehicle=Vehicle(),
    )
    return Lead.create(request, actor=SYSTEM_DMS, at=NOW)


class FakeReads:
    def __init__(
        self,
        *leads: Lead,
        settings: BranchSettings | None = None,
        appointments: Sequence[Scheduled] = (),
    ) -> None:
        self.leads = {lead.id: lead for lead in leads}
        self.settings = settings
        self.appointments = {a.id: a for a in appointments}
        self.pages: list[LeadFilter] = []
        self.entries: list[CalendarEntry] = []
        self.asked: list[tuple[str, datetime, datetime, bool]] = []

    async def calendar(
        self, branch_id: str, start: datetime, end: datetime, *, new_leads: bool
    ) -> list[CalendarEntry]:
        self.asked.append((branch_id, start, end, new_leads))
        return [e for e in self.entries if new_leads or e.appointment_id]

    async def appointment(self, appointment_id: UUID) -> Scheduled | None:
        return self.appointments.get(appointment_id)

    async def offer_of(self, lead_id: UUID) -> None:
        return None

    async def get(self, lead_id: UUID) -> tuple[Lead, list[Any]] | None:
        found = self.leads.get(lead_id)
        return None if found is None else (found, [])

    async def with_settings(self, lead_id: UUID) -> tuple[Lead, BranchSettings | None] | None:
        found = self.leads.get(lead_id)
        return None if found is None else (found, self.settings)

    async def page(
        self, where: LeadFilter, *, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        if cursor == "forged":
            raise ValueError("not a cursor of this list")
        self.pages.append(where)
        return Page(list(self.leads.values())[:limit], None)

    async def open_count(self, branch_ids: Sequence[str]) -> int:
        return 12

    async def settings_of(self, branch_ids: Sequence[str]) -> list[BranchSettings]:
        return [s for s in [self.settings] if s is not None and s.branch_id in branch_ids]


async def test_a_scheduled_lead_s_detail_says_when_with_whom_and_for_which_customer() -> None:
    mine, waiting = lead(), lead()
    mine.appointment_id = uuid.uuid4()
    start = NOW + timedelta(days=2)
    made = Scheduled(
        mine.appointment_id,
        start,
        start + timedelta(hours=1),
        "anna",
        "K100",
        VehicleCase.OWNED_BY_CUSTOMER,
    )
    reads = FakeReads(mine, waiting, appointments=[made])
    detail = await queries.lead_detail(reads, ADVISOR, mine.id, now=NOW)
    assert detail.appointment == queries.ScheduledView(
        id=made.id,
        start=start,
        end=start + timedelta(hours=1),
        acceptor="anna",
        customer_number="K100",
        vehicle_case=VehicleCase.OWNED_BY_CUSTOMER,
        deleted_at=None,
    )
    assert (await queries.lead_detail(reads, ADVISOR, waiting.id, now=NOW)).appointment is None


async def test_a_lead_is_shown_only_to_its_branch_s_advisors() -> None:
    mine = lead()
    reads = FakeReads(mine)
    detail = await queries.lead_detail(reads, ADVISOR, mine.id, now=NOW)
    assert (detail.id, detail.status, detail.read_only) == (mine.id, LeadStatus.NEW, False)
    with pytest.raises(AccessDeniedError, match="LEAD_MANAGER"):
        await queries.lead_detail(reads, STRANGER, mine.id, now=NOW)
    with pytest.raises(LeadNotFoundError):
        await queries.lead_detail(reads, ADVISOR, uuid.uuid4(), now=NOW)
    with pytest.raises(AccessDeniedError):
        await queries.rejection_draft(reads, STRANGER, mine.id)


async def test_a_closed_lead_is_read_only_without_the_permission_to_edit_closed_ones() -> None:
    closed = lead()
    closed.reject(
        actor=ADVISOR,
        channel=Channel.EMAIL,
        recipient="karla@example.de",
        text="Leider ausgebucht.",
        subject=None,
        at=NOW,
    )
    editor = Actor(
        "eva", "Eva", {"HH-01": frozenset({Permission.LEAD_MANAGER, Permission.EDIT_CANCELLED})}
    )
    reads = FakeReads(closed)
    assert (await queries.lead_detail(reads, ADVISOR, closed.id, now=NOW)).read_only
    assert not (await queries.lead_detail(reads, editor, closed.id, now=NOW)).read_only


async def test_the_list_and_the_counter_cover_the_advisor_s_branches_and_no_other() -> None:
    reads = FakeReads(lead())
    page = await queries.lead_page(reads, ADVISOR, LeadFilter([]), limit=50, cursor=None, now=NOW)
    assert len(page.items) == 1
    assert list(reads.pages[-1].branch_ids) == ["HH-01"]  # none asked for: the advisor's
    with pytest.raises(AccessDeniedError):
        await queries.lead_page(
            reads, ADVISOR, LeadFilter(["B-02"]), limit=50, cursor=None, now=NOW
        )
    with pytest.raises(AccessDeniedError, match="at least one branch"):
        await queries.open_count(reads, ADMIN, None)  # an administrator, no advisor
    with pytest.raises(RuleViolationError, match="not a cursor"):
        await queries.lead_page(reads, ADVISOR, LeadFilter([]), limit=50, cursor="forged", now=NOW)
    assert (await queries.open_count(reads, ADVISOR, None)).display == "9+"


async def test_the_rejection_draft_offers_sms_only_where_it_is_licensed() -> None:
    mine = lead()
    reads = FakeReads(mine, settings=BranchSettings(branch_id="HH-01", name="Autohaus Hansa"))
    draft = await queries.rejection_draft(reads, ADVISOR, mine.id)
    assert (draft.channel, draft.channels) == (Channel.EMAIL, [Channel.EMAIL])
    assert draft.subject is not None
    with pytest.raises(RuleViolationError, match="SMS is not enabled"):
        await queries.rejection_draft(reads, ADVISOR, mine.id, Channel.SMS)


async def test_a_rejection_offers_the_branch_s_rejection_texts_only() -> None:
    mine = lead()
    reads = FakeReads(mine, settings=BranchSettings(branch_id="HH-01", name="Autohaus Hansa"))
    draft = await queries.rejection_draft(reads, ADVISOR, mine.id)
    assert draft.templates == ["rejection_email", "rejection_sms"]
    with pytest.raises(RuleViolationError) as refused:
        await queries.rejection_draft(reads, ADVISOR, mine.id, template="confirmation_email")
    assert refused.value.code == "TEMPLATE_UNKNOWN"


async def test_settings_are_saved_by_administrators_through_the_repository_port(
    fake_uow: Any,
) -> None:
    uow = fake_uow
    settings = BranchSettings(branch_id="HH-01", name="Autohaus Hansa")
    with pytest.raises(AccessDeniedError, match="OSB_ADMIN"):
        await save_settings(uow, settings, actor=ADVISOR, expected_version=None)
    stored = await save_settings(uow, settings, actor=ADMIN, expected_version=None)
    assert (stored.version, uow.commits) == (1, 1)
    with pytest.raises(ConcurrencyError):
        await save_settings(uow, settings, actor=ADMIN, expected_version=5)
    # both the branch's advisors and its administrators read them; nobody else
    assert (await queries.branch_settings(uow, ADVISOR, "HH-01")).name == "Autohaus Hansa"
    assert (await queries.branch_settings(uow, ADMIN, "HH-01")).version == 1
    with pytest.raises(AccessDeniedError):
        await queries.branch_settings(uow, STRANGER, "HH-01")


async def test_the_servicetermin_manager_s_week_columns_and_tentative_entries(
    fake_uow: Any,
) -> None:
    """A week runs Monday to Sunday on the branch's clock; the columns are the active
    acceptors, then one no longer active or no longer in the settings that still has an
    appointment; a new lead without an end is shown for an hour."""
    acceptors = (
        Acceptor("anna", "Anna"),
        Acceptor("gone", "Gerd", active=False),
        Acceptor("idle", "Ida", active=False),
    )
    settings = BranchSettings(branch_id="HH-01", name="Hansa", acceptors=acceptors)
    await save_settings(fake_uow, settings, actor=ADMIN, expected_version=None)
    reads = FakeReads()
    wednesday = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def entry(acceptor: str | None, end: datetime | None = None) -> CalendarEntry:
        return CalendarEntry(
            lead_id=uuid.uuid4(),
            status=LeadStatus.SCHEDULED if acceptor else LeadStatus.NEW,
            start=wednesday,
            end=end,
            acceptor=acceptor,
            first_name="Karla",
            last_name="Krüger",
            licence_plate=None,
            appointment_id=uuid.uuid4() if acceptor else None,
        )

    reads.entries = [
        entry("gone", wednesday + timedelta(hours=1)),
        entry("left-the-branch", wednesday + timedelta(hours=1)),
        entry(None),
    ]
    week = await queries.appointment_overview(
        reads, fake_uow, ADVISOR, "HH-01", day=wednesday.date(), week=True, new_leads=True
    )
    assert (week.first_day.isoformat(), week.days) == ("2026-11-30", 7)
    _, start, end, _ = reads.asked[-1]
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-30T00:00:00+01:00",
        "2026-12-07T00:00:00+01:00",
    )
    assert [(c.id, c.active) for c in week.acceptors] == [
        ("anna", True),
        ("gone", False),
        ("left-the-branch", False),
    ]
    tentative = [e for e in week.entries if e.tentative]
    assert [(e.name, e.end - e.start) for e in tentative] == [("Karla Krüger", timedelta(hours=1))]

    day = await queries.appointment_overview(
        reads, fake_uow, ADVISOR, "HH-01", day=wednesday.date(), week=False, new_leads=False
    )
    assert (day.first_day, day.days, len(day.entries)) == (wednesday.date(), 1, 2)
    with pytest.raises(AccessDeniedError):
        await queries.appointment_overview(
            reads, fake_uow, STRANGER, "HH-01", day=wednesday.date(), week=False, new_leads=False
        )
