"""One booking followed through one trace id: the portal's HTTP request to lead-intake, the
lead request on Kafka to lead-manager, an advisor's rejection, the LeadRejected event to the
notifier and the e-mail in the SMTP server. The services run as processes exporting their
spans over OTLP/HTTP to a receiver in the test."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from osb_contracts.leads import LeadRejected, LeadRequested
from osb_contracts.portal import BookingSubmitted, PortalCustomer, PortalVehicle
from osb_testing.mail import Smtp, serving_sms_sink
from osb_testing.otlp import ReceivedSpan, SpanSink, serving_otlp
from osb_testing.system import lead_system, notifier_process

pytestmark = pytest.mark.e2e

SECRET = "e2e-tracing-secret-of-at-least-32-chars"


async def test_one_booking_is_one_trace_from_the_http_request_to_the_customer_s_e_mail(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> None:
    run = uuid.uuid4().hex[:6]
    branch = f"T{run.upper()}"
    smtp = Smtp()
    with serving_otlp() as (spans, endpoint):
        # export at once rather than every 5 s
        tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        async with serving_sms_sink() as (_, sms_url):
            system = await lead_system(
                run,
                bootstrap=kafka_bootstrap_servers,
                database_urls=database_urls,
                jwt_secret=SECRET,
                extra_env={
                    **tracing,
                    "LEAD_INTAKE_BRANCHES": json.dumps({branch: {"country": "DE"}}),
                },
            )
            channels = {branch: {"name": "Autohaus Spur", "sender": "service@spur.example"}}
            notifier = await notifier_process(
                run,
                bootstrap=kafka_bootstrap_servers,
                database_url=database_urls["notifier"],
                smtp_port=smtp.port,
                sms_gateway_url=sms_url,
                lead_manager=system.manager,
                extra_env={**tracing, "NOTIFIER_BRANCHES": json.dumps(channels)},
            )
            processes = [system.intake, system.manager, notifier]
            try:
                await asyncio.gather(*(p.start() for p in processes))
                await follow_one_booking(system.intake.url, system.manager.url, branch, smtp)
                trace_id = await the_booking_s_trace(spans)
                hops = [
                    ("lead-manager", f"receive {LeadRequested.cloudevents_type()}"),
                    ("lead-manager", "reject lead"),
                    ("notifier", f"receive {LeadRejected.cloudevents_type()}"),
                    ("notifier", "send email"),
                ]
                for hop in hops:
                    await spans.wait_for(
                        partial(in_trace, hop, trace_id), f"{hop} in the booking's trace"
                    )
                # the advisor's request is a trace of its own, linked from the decision
                [decision] = spans.matching(lambda s: s.name == "reject lead")
                [request] = spans.matching(
                    lambda s: s.name == "POST /api/v1/leads/{lead_id}/reject"
                )
                assert request.trace_id != trace_id
                assert decision.linked_trace_ids == (request.trace_id,)
            finally:
                for p in processes:
                    p.stop()
                if smtp.controller is not None:
                    smtp.controller.stop()
    # the trace id in the log lines made on the way: each request's access line
    intake = read_log(system.intake.logs / f"{system.intake.name}.log")
    [booked] = [r for r in intake if "POST /api/v1/bookings" in r["event"]]
    assert booked["trace_id"] == trace_id
    manager = read_log(system.manager.logs / f"{system.manager.name}.log")
    [rejected] = [r for r in manager if "/reject HTTP" in r["event"]]
    assert rejected["trace_id"] == request.trace_id


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def follow_one_booking(intake: str, manager: str, branch: str, smtp: Smtp) -> None:
    """The booking over HTTP, its lead rejected by an advisor, the e-mail received."""
    now = datetime.now(UTC)
    email = f"spur-{uuid.uuid4().hex[:6]}@example.de"
    booking = BookingSubmitted(
        booking_id=f"TR-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        submitted_at=now,
        requested_start=now + timedelta(days=5),
        customer=PortalCustomer(first_name="Till", last_name="Spur", email=email),
        vehicle=PortalVehicle(licence_plate="HH-TS 1"),
    )
    token = issue_token(
        SECRET, user="anna", name="Anna", branches={branch: [Permission.LEAD_MANAGER]}
    )
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{intake}/api/v1/bookings", json=booking.model_dump(mode="json"))
        assert r.status_code == 202, r.text
        lead_id = r.json()["lead_id"]
        async with asyncio.timeout(30):
            while (
                await http.get(f"{manager}/api/v1/leads/{lead_id}", headers=auth)
            ).status_code != 200:
                await asyncio.sleep(0.1)
        r = await http.post(
            f"{manager}/api/v1/leads/{lead_id}/reject",
            json={"channel": "EMAIL", "text": "Leider ist die Werkstatt belegt."},
            headers=auth,
        )
        assert r.status_code == 200, r.text
    async with asyncio.timeout(30):
        while not any(m["To"] == email for m in smtp.sink.messages):
            await asyncio.sleep(0.1)


async def the_booking_s_trace(spans: SpanSink) -> str:
    """The trace id of lead-intake's span for the booking's HTTP request."""
    [request] = await spans.wait_for(
        lambda s: (s.service, s.name) == ("lead-intake", "POST /api/v1/bookings"),
        "of lead-intake's booking request",
    )
    return request.trace_id


def in_trace(hop: tuple[str, str], trace_id: str, span: ReceivedSpan) -> bool:
    return (span.service, span.name, span.trace_id) == (*hop, trace_id)
