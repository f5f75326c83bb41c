"""The branch routes: who the user is and where they work, a branch's configuration check,
OSB settings and appointments (the Servicetermin Manager)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from osb_platform.http import error_responses

from lead_manager.domain.branch import Acceptor, BranchSettings, default_branch
from lead_manager.domain.model import require
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import CurrentActor
from lead_manager.entrypoints.http.deps import Reads, Work
from lead_manager.entrypoints.http.schemas import (
    BranchAccess,
    BranchSettingsUpdate,
    BranchSettingsView,
    ConfigurationCheck,
    Me,
    opening_hours_of,
    settings_view,
)
from lead_manager.entrypoints.labels import CONFIGURATION_TEXTS
from lead_manager.service import queries
from lead_manager.service.commands import save_settings

router = APIRouter(
    prefix="/api/v1", responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503)
)


@router.get("/me", response_model=Me, tags=["users"])
async def me(uow: Work, actor: CurrentActor) -> Me:
    """The signed-in user and the branches they may work in (the page's branch choice)."""
    branches = []
    async with uow:
        for branch_id, perms in sorted(actor.branches.items()):
            branch = await uow.branches.get(branch_id) or default_branch(branch_id)
            branches.append(BranchAccess(id=branch_id, name=branch.name, permissions=sorted(perms)))
    return Me(id=actor.id, name=actor.name, branches=branches)


@router.get(
    "/branches/{branch_id}/configuration-check",
    response_model=ConfigurationCheck,
    tags=["branches"],
)
async def configuration_check(uow: Work, actor: CurrentActor, branch_id: str) -> ConfigurationCheck:
    """What the lead manager checks on opening: at least one active acceptor."""
    require(actor, Permission.LEAD_MANAGER, branch_id)
    problem = (await queries.branch_settings(uow, actor, branch_id)).configuration_problem()
    return ConfigurationCheck(
        ok=problem is None,
        code=problem,
        message=CONFIGURATION_TEXTS[problem] if problem else None,
    )


@router.get("/branches/{branch_id}/settings", response_model=BranchSettingsView, tags=["branches"])
async def read_settings(uow: Work, actor: CurrentActor, branch_id: str) -> BranchSettingsView:
    return settings_view(await queries.branch_settings(uow, actor, branch_id))


@router.put("/branches/{branch_id}/settings", response_model=BranchSettingsView, tags=["branches"])
async def write_settings(
    uow: Work, actor: CurrentActor, branch_id: str, body: BranchSettingsUpdate
) -> BranchSettingsView:
    """OSB settings of a branch; administrators only."""
    settings = BranchSettings(
        branch_id=branch_id,
        name=body.name,
        acceptors=tuple(Acceptor(a.id, a.name, a.active) for a in body.acceptors),
        sms_enabled=body.sms_enabled,
        templates=body.templates or default_branch(branch_id).templates,
        cash_sale_customer_number=body.cash_sale_customer_number,
        duplicate_criteria=tuple(body.duplicate_criteria),
        sender_email=body.sender_email,
        opening_hours=opening_hours_of(body.opening_hours),
        holiday_region=body.holiday_region,
        response_minutes=body.response_minutes,
        escalation_email=body.escalation_email,
        rejection_reasons=tuple(body.rejection_reasons),
        no_show_grace_minutes=body.no_show_grace_minutes,
        reminder_offsets=tuple(body.reminder_offsets),
        reminder_quiet=body.reminder_quiet,
        offer_response_hours=body.offer_response_hours,
        lead_retention_months=body.lead_retention_months,
    )
    stored = await save_settings(uow, settings, actor=actor, expected_version=body.expected_version)
    return settings_view(stored)


async def appointment_overview(
    reads: Reads,
    uow: Work,
    actor: CurrentActor,
    branch_id: str,
    day: date,
    view: Literal["day", "week"] = "day",
    new_leads: bool = False,
) -> queries.AppointmentOverview:
    """The Servicetermin Manager's question, as the API and the page ask it."""
    return await queries.appointment_overview(
        reads, uow, actor, branch_id, day=day, week=view == "week", new_leads=new_leads
    )


Overview = Annotated[queries.AppointmentOverview, Depends(appointment_overview)]


@router.get(
    "/branches/{branch_id}/appointments",
    response_model=queries.AppointmentOverview,
    tags=["branches"],
)
async def appointments(overview: Overview) -> queries.AppointmentOverview:
    """The Servicetermin Manager: the branch's appointments per acceptor on ``day``, or in
    its week (Monday to Sunday); with ``new_leads`` the new leads at their requested times
    as tentative entries."""
    return overview
