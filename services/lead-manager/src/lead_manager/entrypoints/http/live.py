"""The live stream of lead changes (Server-Sent Events) the advisor's page follows.

The page keeps one stream open per signed-in tab; a change of a lead in one of its branches
arrives as an ``event: lead`` whose data names the lead, its branch, what happened and the
new status (no personal data). ``event: reload`` says changes were missed (the browser was
away longer than the instance remembers): refetch everything. Each event's id is a position
in the topic; the browser sends the last one back as ``Last-Event-ID`` when it reconnects.
A stream ends after ``STREAM_SECONDS`` so the token is checked again on the reconnect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from osb_contracts.topics import LEAD_EVENTS
from osb_platform.http import error_responses
from prometheus_client import Gauge
from sse_starlette import EventSourceResponse, ServerSentEvent

from lead_manager.entrypoints.auth import StreamActor
from lead_manager.entrypoints.http.deps import Changes
from lead_manager.service.live import ChangeLog, Subscription, parse_position, position_text
from lead_manager.service.queries import watch_changes

router = APIRouter(prefix="/api/v1", tags=["leads"], responses=error_responses(401, 403))

STREAM_SECONDS = 600.0
RETRY_MS = 2000  # the browser's pause before it reconnects
PING_SECONDS = 15  # a comment now and then keeps proxies from closing an idle stream
STREAMS = Gauge("osb_lead_manager_live_streams", "Pages following the live lead changes")

Position = Annotated[str | None, Query(max_length=400)]


@router.get(
    "/lead-events",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The stream"}},
)
async def lead_events(
    changes: Changes,
    actor: StreamActor,
    branch_id: Annotated[list[str] | None, Query(max_length=50)] = None,
    since: Position = None,
    last_event_id: Annotated[str | None, Header(max_length=400)] = None,
) -> EventSourceResponse:
    """The lead changes of the branches (every branch the token works in when none is
    named), from now, or after ``Last-Event-ID`` (or ``since``) when it is a position this
    topic can have. The token may come as ``access_token`` in the query string."""
    after = parse_position(last_event_id or since, LEAD_EVENTS.partitions)
    subscription = watch_changes(changes, actor, branch_id, after)
    first = None if after else position_text(tuple(subscription.position))
    return EventSourceResponse(
        _events(changes, subscription, first),
        ping=PING_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(
    changes: ChangeLog, subscription: Subscription, first: str | None
) -> AsyncIterator[ServerSentEvent]:
    STREAMS.inc()
    try:
        yield ServerSentEvent("{}", event="ready", id=first, retry=RETRY_MS)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_SECONDS
        while not subscription.closed and (left := deadline - loop.time()) > 0:
            pushed = await subscription.next(left)
            if pushed is None:
                continue
            if pushed.change is None:
                yield ServerSentEvent("{}", event="reload", id=pushed.id)
                continue
            change = pushed.change
            data = {
                "lead_id": change.lead_id,
                "branch_id": change.branch_id,
                "kind": change.kind,
                "status": change.status,
            }
            yield ServerSentEvent(json.dumps(data), event="lead", id=pushed.id)
    finally:
        STREAMS.dec()
        changes.unsubscribe(subscription)
