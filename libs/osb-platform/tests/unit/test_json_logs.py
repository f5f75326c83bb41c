"""The services' logs: one JSON object per line, with the correlation id of what is handled."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import osb_platform.observability as o
import pytest

PROBE = """
import logging
from osb_platform.observability import configure_logging, handling
configure_logging("lead-manager")
with handling("osb.lead.requests.v1", "corr-1", partition=3):
    logging.getLogger("lead_manager.service").info("lead %s created", "L-1")
logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
logging.getLogger("faststream.osb").info("Received", extra={"message_id": "m-1"})
logging.getLogger("uvicorn.access").info(
    '%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", "/api/v1/leads?q=M%C3%BCller", "1.1", 200
)
"""


def test_every_record_is_a_json_line_with_service_and_context() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    handled, uvicorn, faststream, access = (json.loads(line) for line in out.splitlines())
    assert access["event"] == '10.0.0.1:5000 - "GET /api/v1/leads HTTP/1.1" 200'  # no query
    assert handled["event"] == "lead L-1 created"
    assert (handled["topic"], handled["correlation_id"], handled["partition"]) == (
        "osb.lead.requests.v1",
        "corr-1",
        3,
    )
    assert {handled["service"], uvicorn["service"], faststream["service"]} == {"lead-manager"}
    assert "correlation_id" not in uvicorn, "the context ends with the batch"
    assert uvicorn["event"] == "Started server process [42]"
    assert faststream["message_id"] == "m-1"
    assert handled["level"] == "info"
    assert handled["timestamp"].endswith("Z")


FLOOD = """
import logging
import osb_platform.observability as o
o.configure_logging("notifier")
now = [0.0]
for f in logging.getLogger().handlers[0].filters:
    if isinstance(f, o.Repeats):
        f.clock = lambda: now[0]
kafka = logging.getLogger("aiokafka.conn")
for node in range(3000):  # a broker away: every try of every node
    kafka.error("Unable connect to node with id %s: %s", node % 3, "Connect call failed")
logging.getLogger("notifier.dispatch").warning("sent %s", "N-1")
logging.getLogger("notifier.dispatch").warning("sent %s", "N-2")  # ours: never held back
now[0] = 61.0
kafka.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
kafka.warning("Got error %s", "NodeNotReadyError")  # another kind of line: its own first
print(o.SUPPRESSED.labels("aiokafka.conn")._value.get())
"""


def test_a_kafka_client_s_repeated_lines_are_held_back_and_counted() -> None:
    out = subprocess.run(
        [sys.executable, "-c", FLOOD], capture_output=True, text=True, check=True
    ).stdout
    *lines, count = out.splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["logger"], e["event"], e.get("suppressed")) for e in events] == [
        ("aiokafka.conn", "Unable connect to node with id 0: Connect call failed", None),
        ("notifier.dispatch", "sent N-1", None),
        ("notifier.dispatch", "sent N-2", None),
        ("aiokafka.conn", "Unable connect to node with id 1: Connect call failed", 2999),
        ("aiokafka.conn", "Got error NodeNotReadyError", None),
    ]
    assert float(count) == 2999


async def test_kafka_away_is_said_once_and_its_return_once_with_how_long(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    answers: list[bool | Exception] = [True, ConnectionError("refused"), False, False, True, True]

    async def ask() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    watch = o.BrokerWatch(ask, clock=lambda: now[0])
    reachable = []
    with caplog.at_level(logging.INFO, logger="osb_platform.kafka"):
        for _ in range(6):
            await watch.check()
            reachable.append(o.KAFKA_REACHABLE._value.get())
            now[0] += 2.0
    assert reachable == [1, 0, 0, 0, 1, 1]
    said = [
        (r.getMessage(), getattr(r, "problem", None), getattr(r, "away_s", None))
        for r in caplog.records
    ]
    assert said == [
        ("Kafka unreachable", "ConnectionError('refused')", None),
        ("Kafka reachable again", None, 6.0),
    ]
