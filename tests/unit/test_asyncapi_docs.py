"""docs/asyncapi/ stays what the services' brokers generate, and each service serves its own."""

from __future__ import annotations

import json

import httpx
import pytest
from lead_manager.entrypoints.app import create_app
from lead_manager.settings import Settings
from osb_contracts.topics import TOPICS
from osb_local_infra import asyncapi

BY_NAME = {t.name: t for t in TOPICS}


def test_the_checked_in_documents_are_current() -> None:
    assert asyncapi.stale() == [], "docs/asyncapi is stale: run `make asyncapi` and commit it"


@pytest.mark.parametrize("service", list(asyncapi.SERVICES))
def test_every_channel_carries_the_registrys_messages(service: str) -> None:
    document = asyncapi.document(service)
    assert document["asyncapi"] == "3.0.0"
    schemas = document["components"]["schemas"]
    for title, channel in document["channels"].items():
        name, _, action = title.rpartition(":")
        assert channel["address"] == name
        if name.endswith(".dlq"):
            continue
        topic = BY_NAME[name]
        (message,) = channel["messages"].values()
        ref = message["$ref"].rsplit("/", 1)[-1]
        payload = document["components"]["messages"][ref]["payload"]["$ref"].rsplit("/", 1)[-1]
        schema = schemas[payload]
        named = {r["$ref"].rsplit("/", 1)[-1] for r in schema.get("oneOf", schema.get("anyOf", []))}
        expected = {m.__name__ for m in topic.messages}
        assert (named or {schema.get("title")}) == expected, (title, action)


def test_lead_manager_documents_what_it_consumes_and_sends() -> None:
    channels = set(asyncapi.document("lead-manager")["channels"])
    assert {
        "osb.lead.requests.v1:receive",
        "osb.dms.appointments.v1:receive",
        "osb.notification.events.v1:receive",
        "osb.matching.replies.v1:receive",
        "osb.lead.events.v1:send",
        "osb.notification.commands.v1:send",
        "osb.matching.requests.v1:send",
        "osb.lead.requests.v1.dlq:send",
    } <= channels


async def test_a_service_serves_its_document() -> None:
    settings = Settings(jwt_secret="x" * 32, kafka_bootstrap_servers="localhost:9092")
    app = create_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://lm"
    ) as http:
        served = await http.get("/asyncapi.json")
        page = await http.get("/asyncapi")
    assert served.status_code == 200
    assert served.json() == json.loads(asyncapi.rendered("lead-manager"))
    assert page.status_code == 200
    assert "OSB lead-manager" in page.text
