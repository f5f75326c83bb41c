"""lead-manager's live stream of lead changes (Server-Sent Events), read as a browser does:
from the running process, on the real broker and database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from faststream.kafka import KafkaBroker
from httpx_sse import ServerSentEvent, aconnect_sse
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from osb_contracts.leads import LeadRequested
from osb_contracts.topics import LEAD_REQUESTS
from osb_contracts.values import Customer
from osb_platform import make_broker, publish
from osb_testing.system import LeadSystem

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


SECRET = "e2e-secret-of-at-least-32-characters!!"  # the ``system`` fixture's


def token(*branches: str, permission: Permission = Permission.LEAD_MANAGER) -> str:
    return issue_token(
        SECRET, user="anna", name="Anna", branches={b: [permission] for b in branches}
    )


class Stream:
    def __init__(self, events: AsyncIterator[ServerSentEvent]) -> None:
        self._events = events

    async def next(self, event: str | None = None) -> ServerSentEvent:
        """The next event (of kind ``event``), pings and other kinds skipped."""
        async with asyncio.timeout(30):
            async for sse in self._events:
                if event in (None, sse.event):
                    return sse
        raise AssertionError("the stream ended")


@asynccontextmanager
async def stream(
    http: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str] | None = None
) -> AsyncIterator[Stream]:
    async with aconnect_sse(
        http, "GET", "/api/v1/lead-events", params=params, headers=headers or {}
    ) as source:
        assert source.response.status_code == 200, await source.response.aread()
        yield Stream(source.aiter_sse())


async def new_lead(bus: KafkaBroker, branch: str) -> LeadRequested:
    now = datetime.now(UTC)
    request = LeadRequested(
        lead_id=uuid.uuid4(),
        booking_id=f"SSE-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        received_at=now,
        requested_start=now + timedelta(days=2),
        customer=Customer(last_name="Streamtest", email="stream@example.de"),
    )
    await publish(bus, request, topic=LEAD_REQUESTS, key=str(request.lead_id), source="/test")
    return request


@pytest.fixture
async def http(system: LeadSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.manager.url, timeout=30) as client:
        yield client


@pytest.fixture
async def bus(kafka_bootstrap_servers: str) -> AsyncIterator[KafkaBroker]:
    broker = make_broker(kafka_bootstrap_servers, client_id="test-sse")
    await broker.start()
    yield broker
    await broker.stop()


async def test_a_reconnect_with_last_event_id_gets_what_was_missed_and_only_its_branches(
    http: httpx.AsyncClient, bus: KafkaBroker
) -> None:
    mine, other = f"S{uuid.uuid4().hex[:6]}", f"T{uuid.uuid4().hex[:6]}"
    params = {"access_token": token(mine), "branch_id": mine}  # as the page's EventSource
    async with stream(http, params) as live:
        ready = await live.next()
        assert ready.event == "ready"
        assert ready.id  # where a reconnect would start
        first = await new_lead(bus, mine)
        change = await live.next("lead")
        assert json.loads(change.data) == {
            "lead_id": str(first.lead_id),
            "branch_id": mine,
            "kind": "LeadCreated",
            "status": "NEW",
        }
        seen = change.id

    # away: a lead of another branch, then one of ours
    await new_lead(bus, other)
    missed = await new_lead(bus, mine)
    async with stream(http, params, headers={"Last-Event-ID": seen}) as live:
        assert (await live.next()).event == "ready"
        again = await live.next("lead")
        assert json.loads(again.data)["lead_id"] == str(missed.lead_id)
        later = await new_lead(bus, mine)
        assert json.loads((await live.next("lead")).data)["lead_id"] == str(later.lead_id)


async def test_the_stream_is_refused_without_a_token_or_the_permission(
    http: httpx.AsyncClient,
) -> None:
    branch = f"S{uuid.uuid4().hex[:6]}"
    unsigned = await http.get("/api/v1/lead-events", params={"branch_id": branch})
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "NOT_SIGNED_IN"
    admin_only = token(branch, permission=Permission.OSB_ADMIN)
    refused = await http.get(
        "/api/v1/lead-events", params={"branch_id": branch, "access_token": admin_only}
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "PERMISSION_MISSING"
    foreign = await http.get(
        "/api/v1/lead-events",
        params={"branch_id": "XX-99"},
        headers={"Authorization": f"Bearer {token(branch)}"},
    )
    assert foreign.status_code == 403
    bad = await http.get("/api/v1/lead-events", params={"access_token": "not-a-token"})
    assert bad.status_code == 401
    assert bad.json()["code"] == "TOKEN_INVALID"


async def test_a_last_event_id_this_topic_cannot_have_starts_from_now(
    http: httpx.AsyncClient,
) -> None:
    branch = f"S{uuid.uuid4().hex[:6]}"
    for garbage in ("1.2", "x", "0.0.0.0.0.99999999999999999999"):
        async with stream(
            http, {"access_token": token(branch)}, headers={"Last-Event-ID": garbage}
        ) as live:
            ready = await live.next()
            assert (ready.event, len(ready.id.split("."))) == ("ready", 6)
