"""The advisor's web page (Servicetermin Leadmanager), served beside the API.

The page is one Jinja2 shell; its parts are HTML fragments rendered here from the same
functions the JSON API answers with, fetched by a small script that carries the bearer token
and sends the advisor's actions to the JSON API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from osb_contracts.matching import DuplicateCriterion
from osb_contracts.values import Channel, LeadStatus

from lead_manager.domain.branch import DEFAULT_TEMPLATES
from lead_manager.domain.identification import NOT_OWNED
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints import labels
from lead_manager.entrypoints.auth import CurrentActor
from lead_manager.entrypoints.http.branches import Overview
from lead_manager.entrypoints.http.deps import Clock, Matching, Reads, Work
from lead_manager.entrypoints.http.insight import BranchFigures
from lead_manager.entrypoints.http.schemas import settings_view
from lead_manager.service import queries
from lead_manager.service.ports import LeadFilter
from lead_manager.service.texts import DISPLAY_ZONE

WEB = Path(__file__).resolve().parents[1] / "web"
templates = Jinja2Templates(directory=WEB / "templates")
static = StaticFiles(directory=WEB / "static")
router = APIRouter(include_in_schema=False)


def local(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return value.astimezone(DISPLAY_ZONE).strftime(fmt) if value else ""


def _input_value(value: datetime) -> str:
    """As the advisor types it, whatever the browser's locale: 03.12.2026 09:00."""
    return local(value, "%d.%m.%Y %H:%M")


def field_value(value: str | None, field: str) -> str:
    """A compared field's value as the advisor reads it: dates German (07.11.2001)."""
    if not value:
        return "–"
    if field.endswith("date"):
        try:
            return date.fromisoformat(value).strftime("%d.%m.%Y")
        except ValueError:
            return value
    return value


def hours_text(interval: Any) -> str:
    """An opening interval as the settings show it: 08:00–18:00."""
    return f"{interval.opens}–{interval.closes}"


def hours_of_minutes(minutes: int) -> str:
    """120 -> "2", 90 -> "1,5": the response time in working hours, German decimals."""
    return f"{minutes / 60:g}".replace(".", ",")


def deadline_text(deadline: Any) -> str:
    """A new lead's deadline as the list shows it: "noch 1:20 Std.", "überfällig seit 0:35 Std."
    (opening time)."""
    hours, minutes = divmod(max(0, deadline.minutes), 60)
    span = f"{hours}:{minutes:02d} Std."
    return f"überfällig seit {span}" if deadline.overdue else f"noch {span}"


def work_hours(minutes: float | None) -> str:
    """Minutes of opening time as the Auswertung shows them: "1,5 Std." ("–" for none)."""
    if minutes is None:
        return "–"
    return f"{minutes / 60:.1f} Std.".replace(".", ",", 1)


def percent_of(count: int, whole: int) -> int:
    return round(100 * count / whole) if whole else 0


def figure(value: float | int | None) -> str:
    """A cell of the table per day: a count, or minutes of opening time in hours."""
    if isinstance(value, float) or value is None:
        return work_hours(value).removesuffix(" Std.")
    return str(value)


def deadline_state(deadline: Any) -> str:
    """The mark in the list and the detail: overdue, near (its last quarter) or running."""
    return "overdue" if deadline.overdue else "near" if deadline.near else "running"


templates.env.filters["deadline_state"] = deadline_state
templates.env.filters["work_hours"] = work_hours
templates.env.filters["percent_of"] = percent_of
templates.env.filters["figure"] = figure
templates.env.filters["day"] = lambda d: d.strftime("%d.%m.%Y")
templates.env.filters["deadline_text"] = deadline_text
templates.env.filters["hours_text"] = hours_text
templates.env.filters["hours_of_minutes"] = hours_of_minutes
templates.env.filters["local"] = local
templates.env.filters["field_value"] = field_value
templates.env.filters["field_label"] = lambda name: labels.FIELD_LABELS.get(name, name)
templates.env.globals.update(
    {name: value for name, value in vars(labels).items() if name.endswith("_LABELS")},
    PAGE_TEXTS=labels.page_texts(),
    ZONE=DISPLAY_ZONE.key,
    INSIGHT_COLUMNS=labels.INSIGHT_COLUMNS,
    failure_text=labels.failure_text,
    LeadStatus=LeadStatus,
    NOT_OWNED=NOT_OWNED,
    Channel=Channel,
    DuplicateCriterion=DuplicateCriterion,
)


def _fragment(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


@router.get("/", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    """The page shell; it signs in with a bearer token kept in the browser's session."""
    return _fragment(request, "page.html", statuses=list(LeadStatus))


def _day_start(day: date | None, *, end: bool = False) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=DISPLAY_ZONE)


# -- the Servicetermin Manager -------------------------------------------------------------

SLOT_MINUTES = 15
DAY_HOURS = (7, 19)  # shown at least; longer when an entry is earlier or later


@dataclass(frozen=True)
class Placed:
    entry: queries.CalendarItem
    column: int  # 0: the first acceptor; len(acceptors): the new leads
    row: int  # the first slot, from the first hour shown
    span: int


def _wall_minutes(at: datetime, day: date) -> int:
    """Minutes from ``day``'s midnight on the branch's clock, clipped to the day."""
    local = at.astimezone(DISPLAY_ZONE)
    if local.date() != day:
        return 0 if local.date() < day else 24 * 60
    return local.hour * 60 + local.minute


def _column_of(o: queries.AppointmentOverview) -> Callable[[queries.CalendarItem], int]:
    """An entry's column: its acceptor's, or after them all the new leads'."""
    columns = {a.id: n for n, a in enumerate(o.acceptors)}
    return lambda entry: columns.get(entry.acceptor or "", len(o.acceptors))


def day_grid(o: queries.AppointmentOverview) -> dict[str, Any]:
    """The day as a grid: a column per acceptor (then one for new leads), a row per slot."""
    spans = []
    for e in o.entries:
        start = _wall_minutes(e.start, o.first_day)
        spans.append((e, start, max(_wall_minutes(e.end, o.first_day), start + SLOT_MINUTES)))
    first = min([DAY_HOURS[0] * 60, *(a for _, a, _ in spans)]) // 60
    last = min(24, -(-max([DAY_HOURS[1] * 60, *(b for _, _, b in spans)]) // 60))
    column = _column_of(o)
    placed = [
        Placed(
            e,
            column(e),
            (a - first * 60) // SLOT_MINUTES,
            -(-(b - a) // SLOT_MINUTES),
        )
        for e, a, b in spans
    ]
    slots = (last - first) * 60 // SLOT_MINUTES
    return {"hours": list(range(first, last)), "slots": slots, "placed": placed}


def week_grid(o: queries.AppointmentOverview) -> list[list[list[queries.CalendarItem]]]:
    """Per acceptor (and the new leads last), per day: the entries starting that day."""
    column = _column_of(o)
    cells: list[list[list[queries.CalendarItem]]] = [
        [[] for _ in range(o.days)] for _ in range(len(o.acceptors) + 1)
    ]
    for entry in o.entries:
        day = (entry.start.astimezone(DISPLAY_ZONE).date() - o.first_day).days
        if 0 <= day < o.days:
            cells[column(entry)][day].append(entry)
    return cells


@router.get("/ui/branches/{branch_id}/overview", response_class=HTMLResponse)
async def overview_panel(request: Request, o: Overview) -> HTMLResponse:
    week = o.days == 7
    days = [o.first_day + timedelta(days=n) for n in range(o.days)]
    return _fragment(
        request,
        "_overview.html",
        o=o,
        week=week,
        days=days,
        grid=week_grid(o) if week else day_grid(o),
        WEEKDAYS=labels.WEEKDAYS,
        WEEKDAYS_SHORT=labels.WEEKDAYS_SHORT,
    )


@router.get("/ui/leads", response_class=HTMLResponse)
async def lead_rows(
    request: Request,
    reads: Reads,
    clock: Clock,
    actor: CurrentActor,
    branch_id: Annotated[list[str] | None, Query(max_length=50)] = None,
    status: Annotated[list[LeadStatus] | None, Query()] = None,
    day_from: date | None = None,
    day_to: date | None = None,
    acceptor: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    where = LeadFilter(
        branch_id or [],
        status or (),
        _day_start(day_from),
        _day_start(day_to, end=True),
        acceptor or None,
        q or None,
    )
    leads = await queries.lead_page(reads, actor, where, limit=50, cursor=cursor, now=clock())
    return _fragment(request, "_rows.html", page=leads)


@router.get("/ui/leads/{lead_id}", response_class=HTMLResponse)
async def lead_panel(
    request: Request, reads: Reads, uow: Work, clock: Clock, actor: CurrentActor, lead_id: UUID
) -> HTMLResponse:
    lead = await queries.lead_detail(reads, actor, lead_id, now=clock())
    branch = await queries.branch_settings(uow, actor, lead.branch_id)
    return _fragment(
        request,
        "_detail.html",
        lead=lead,
        branch=settings_view(branch),
        acceptor_names={a.id: a.name for a in branch.acceptors},
    )


@router.get("/ui/leads/{lead_id}/reject", response_class=HTMLResponse)
async def reject_form(
    request: Request,
    reads: Reads,
    uow: Work,
    clock: Clock,
    actor: CurrentActor,
    lead_id: UUID,
    channel: Channel | None = None,
    template: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    lead = await queries.lead_detail(reads, actor, lead_id, now=clock())
    draft = await queries.rejection_draft(reads, actor, lead_id, channel, template)
    branch = await queries.branch_settings(uow, actor, lead.branch_id)
    return _fragment(
        request,
        "_reject.html",
        lead=lead,
        draft=draft,
        template=template,
        reasons=branch.rejection_reasons,
    )


@router.get("/ui/leads/{lead_id}/schedule", response_class=HTMLResponse)
async def schedule_form(
    request: Request,
    reads: Reads,
    clock: Clock,
    uow: Work,
    matching: Matching,
    actor: CurrentActor,
    lead_id: UUID,
) -> HTMLResponse:
    lead = await queries.lead_detail(reads, actor, lead_id, now=clock())
    branch = await queries.branch_settings(uow, actor, lead.branch_id)
    proposal = await queries.identification(reads, matching, actor, lead_id)
    end = lead.requested_end or lead.requested_start + timedelta(hours=1)
    return _fragment(
        request,
        "_schedule.html",
        lead=lead,
        branch=settings_view(branch),
        proposal=proposal,
        start=_input_value(lead.requested_start),
        end=_input_value(end),
        zone=DISPLAY_ZONE.key,
    )


@router.get("/ui/leads/{lead_id}/offer", response_class=HTMLResponse)
async def offer_form(
    request: Request, reads: Reads, clock: Clock, uow: Work, actor: CurrentActor, lead_id: UUID
) -> HTMLResponse:
    """Ablehnen mit Terminvorschlag: up to three times, the channel, who the appointment is
    for when the customer takes one."""
    lead = await queries.lead_detail(reads, actor, lead_id, now=clock())
    branch = await queries.branch_settings(uow, actor, lead.branch_id)
    return _fragment(
        request,
        "_offer.html",
        lead=lead,
        branch=settings_view(branch),
        channels=branch.rejection_channels(),
        zone=DISPLAY_ZONE.key,
    )


@router.get("/ui/branches/{branch_id}/settings", response_class=HTMLResponse)
async def settings_form(
    request: Request, uow: Work, actor: CurrentActor, branch_id: str
) -> HTMLResponse:
    branch = await queries.branch_settings(uow, actor, branch_id)
    editable = actor.may(Permission.OSB_ADMIN, branch_id)
    # every template to edit, those added since the branch's settings were saved too
    templates = {**DEFAULT_TEMPLATES, **branch.templates}
    view = settings_view(replace(branch, templates=templates))
    return _fragment(request, "_settings.html", branch=view, editable=editable)


@router.get("/ui/branches/{branch_id}/insight", response_class=HTMLResponse)
async def insight_panel(
    request: Request, uow: Work, actor: CurrentActor, f: BranchFigures
) -> HTMLResponse:
    branch = await queries.branch_settings(uow, actor, f.branch_id)
    return _fragment(request, "_insight.html", f=f, branch_name=branch.name)
