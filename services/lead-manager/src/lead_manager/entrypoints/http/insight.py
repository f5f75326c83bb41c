"""The branch's figures (Auswertung) as JSON and as CSV."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from osb_platform.http import error_responses

from lead_manager.entrypoints.auth import CurrentActor
from lead_manager.entrypoints.http.deps import Clock, Insight
from lead_manager.entrypoints.labels import INSIGHT_COLUMNS
from lead_manager.service.insight import Figures, branch_figures, figures_csv
from lead_manager.service.texts import DISPLAY_ZONE

router = APIRouter(
    prefix="/api/v1", responses=error_responses(401, 403, 422, 503), tags=["insight"]
)
DEFAULT_DAYS = 30


async def figures(
    reads: Insight,
    clock: Clock,
    actor: CurrentActor,
    branch_id: str,
    day_from: date | None = None,
    day_to: date | None = None,
) -> Figures:
    """The figures' question as the API and the page ask it: the leads received from
    ``day_from`` to ``day_to`` (both included); the last 30 days up to today by default."""
    last = day_to or clock().astimezone(DISPLAY_ZONE).date()
    first = day_from or last - timedelta(days=DEFAULT_DAYS - 1)
    return await branch_figures(reads, actor, branch_id, first, last)


BranchFigures = Annotated[Figures, Depends(figures)]


@router.get("/branches/{branch_id}/insight", response_model=Figures)
async def insight(f: BranchFigures) -> Figures:
    """Per day and for the period: leads received, what became of them (now), overdue
    leads, failed notifications, the time to the first decision in opening time (median
    and 90th percentile, minutes), rejections per reason, appointments per customer choice."""
    return f


@router.get(
    "/branches/{branch_id}/insight.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def insight_csv(f: BranchFigures) -> Response:
    """The figures per day as CSV (semicolons, German headings, hours with decimal commas)."""
    name = f"auswertung-{f.branch_id}-{f.first_day}-{f.last_day}.csv"
    return Response(
        figures_csv(f, INSIGHT_COLUMNS),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
