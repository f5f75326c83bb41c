"""The HTTP APIs fuzzed from the services' own OpenAPI documents (lead-intake's and
lead-manager's /api/v1, customer-matching's /index and /model; the notifier has only health).

The three run as processes on the real broker and database. Schemathesis generates valid
and invalid requests for every operation; each answer must be no 5xx, one of the documented
status codes, with the documented content type and schema, and an invalid request must be
refused (4xx). ``OSB_FUZZ_EXAMPLES`` sets the examples per operation and
mode: a few, reproducibly, in ``make test``; many, at random, in ``make fuzz``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from osb_contracts.leads import LeadRequested
from osb_contracts.topics import LEAD_REQUESTS
from osb_contracts.values import Customer, Vehicle
from osb_platform import make_broker, publish
from osb_testing.system import lead_system, matching_process
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

SECRET = "fuzzing-secret-of-at-least-32-characters"
EXAMPLES = int(os.environ.get("OSB_FUZZ_EXAMPLES", "8"))
RANDOM = os.environ.get("OSB_FUZZ_RANDOM") == "1"
CHECKED = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def fuzz(
    base_url: str,
    headers: dict[str, str],
    paths: dict[str, str],
    prefixes: tuple[str, ...] = ("/api/v1",),
) -> list[str]:
    """Every operation under the prefixes, in both modes; the failures as text (none: [])."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema: {result.err()}")
            continue
        operation = result.ok()
        if not operation.path.startswith(prefixes):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=not RANDOM,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                if mode is GenerationMode.NEGATIVE:  # noqa: B023 - run() is called at once
                    # as generated: an override could make the invalid part valid again
                    case.call_and_validate(base_url=base_url, checks=CHECKED)
                    return
                # path parameters that name something: this run's branch and lead
                for name, value in paths.items():
                    if case.path_parameters and name in case.path_parameters:
                        case.path_parameters[name] = value
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKED)

            try:
                run()
            except Unsatisfiable:
                if mode is not GenerationMode.NEGATIVE:
                    raise
                # an operation without parameters or body has no invalid request
            except (Exception, BaseExceptionGroup) as exc:  # reported together below
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return failures


async def test_the_apis_answer_every_request_as_documented(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> None:
    run_id = f"fuzz-{uuid.uuid4().hex[:8]}"
    branch = f"FZ-{uuid.uuid4().hex[:6]}"
    token = issue_token(SECRET, user="fuzzer", name="Fuzzer", branches={branch: list(Permission)})
    system = await lead_system(
        run_id,
        bootstrap=kafka_bootstrap_servers,
        database_urls=database_urls,
        jwt_secret=SECRET,
    )
    matching = await matching_process(
        run_id, bootstrap=kafka_bootstrap_servers, database_url=database_urls["customer-matching"]
    )
    bus = make_broker(kafka_bootstrap_servers, client_id="fuzz-bus")
    try:  # whatever started is stopped, also when a later one fails to start
        await matching.start()
        await system.intake.start()
        await system.manager.start()
        await bus.start()
        now = datetime.now(UTC)
        lead = LeadRequested(
            lead_id=uuid.uuid4(),
            booking_id=f"FZ-{uuid.uuid4().hex[:10]}",
            branch_id=branch,
            received_at=now,
            requested_start=now + timedelta(days=3),
            customer=Customer(last_name="Fuzz", email="fuzz@example.de"),
            vehicle=Vehicle(licence_plate="HH-FZ 1"),
        )
        await publish(bus, lead, topic=LEAD_REQUESTS, key=str(lead.lead_id), source="/test/fuzz")
        intake = await asyncio.to_thread(fuzz, system.intake.url, {}, {})
        # customer-matching's own HTTP API: its index and model figures
        intake += await asyncio.to_thread(fuzz, matching.url, {}, {}, ("/index", "/model"))
        manager = await asyncio.to_thread(
            fuzz,
            system.manager.url,
            {"Authorization": f"Bearer {token}"},
            {"branch_id": branch, "lead_id": str(lead.lead_id)},
        )
    finally:
        await bus.stop()
        system.manager.stop()
        system.intake.stop()
        matching.stop()
    assert intake + manager == [], "\n\n".join(intake + manager)
