"""`make run` (osb-infra run): everything comes up, the simulated portal's bookings become
leads, the page answers, and Ctrl-C stops every process cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from osb_contracts.topics import LEAD_EVENTS, LEAD_REQUESTS, PORTAL_BOOKINGS
from osb_testing.kafka import move_group_to_end

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

ROOT = Path(__file__).resolve().parents[2]


def free_base() -> int:
    """A port base whose ports +1 to +27 are free (make run's services sit there)."""
    for _ in range(50):
        # below Linux's ephemeral ports (32768-60999): a port found free there can be taken
        # by any outgoing connection before the service binds it (seen: the notifier's)
        base = random.randrange(20_000, 32_700, 100)
        try:
            with contextlib.ExitStack() as held:
                for offset in range(1, 28):
                    s = held.enter_context(socket.socket())
                    s.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise AssertionError("no free block of ports")


async def _until_up(http: httpx.AsyncClient, url: str) -> None:
    while True:
        try:
            if (await http.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.5)


async def test_make_run_brings_everything_up_and_ctrl_c_stops_it(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    out = tmp_path / "run.out"
    base, prefix = free_base(), f"SIM{uuid.uuid4().hex[:8].upper()}"
    manager = f"http://127.0.0.1:{base + 2}"
    ready = {
        "lead-intake": f"http://127.0.0.1:{base + 1}/health/ready",
        "lead-manager": f"{manager}/health/ready",
        "customer-matching": f"http://127.0.0.1:{base + 3}/health/ready",
        "notifier": f"http://127.0.0.1:{base + 4}/health/ready",
        "dms": f"http://127.0.0.1:{base + 27}/appointments",
    }
    # make run's services join their default consumer groups, which a newcomer's empty
    # topics start them on; here the topics hold everything the tests before wrote, so the
    # groups this test follows start at the end, as on a fresh installation
    await move_group_to_end(kafka_bootstrap_servers, "lead-intake", [PORTAL_BOOKINGS.name])
    events = "lead-intake.lead-events"  # the appointments for the customers' links
    await move_group_to_end(kafka_bootstrap_servers, events, [LEAD_EVENTS.name])
    requests = f"lead-manager.{LEAD_REQUESTS.name}"
    await move_group_to_end(kafka_bootstrap_servers, requests, [LEAD_REQUESTS.name])
    env = {
        **os.environ,
        "OSB_PORTAL_INTERVAL": "0.5",
        "OSB_RUN_PORT_BASE": str(base),
        "OSB_PORTAL_BOOKING_PREFIX": prefix,  # this run's bookings, not those of earlier runs
        "PYTHONUNBUFFERED": "1",
    }
    with out.open("wb") as sink:
        run = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [sys.executable, "-m", "osb_local_infra.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            async with asyncio.timeout(240):
                for url in ready.values():
                    await _until_up(http, url)
                while "Ctrl-C stops everything." not in out.read_text():
                    await asyncio.sleep(0.2)
            printed = out.read_text()
            for where in ("/asyncapi", "/metrics", "/docs", "mails (.eml)", "Logs"):
                assert where in printed, where
            link = re.search(rf"({re.escape(manager)}/#token=(\S+))", printed)
            assert link, printed
            token = link.group(2)
            page = await http.get(f"{manager}/")
            assert page.status_code == 200
            assert "Servicetermin Leadmanager" in page.text

            # The simulated portal's bookings arrive as leads in the demo branches.
            auth = {"Authorization": f"Bearer {token}"}
            async with asyncio.timeout(120):
                while True:
                    r = await http.get(
                        f"{manager}/api/v1/leads", params={"q": prefix}, headers=auth
                    )
                    assert r.status_code == 200, r.text
                    if r.json()["items"]:
                        break
                    await asyncio.sleep(1)
            assert all(i["booking_id"].startswith(f"{prefix}-") for i in r.json()["items"])

            # The simulated advisor answers some of them with a counter-offer, which the
            # notifier sends by e-mail with its links (into .local/mail)
            async with asyncio.timeout(120):
                while not await _an_offer_sent(http, manager, prefix, auth):
                    await asyncio.sleep(1)
    finally:
        run.send_signal(signal.SIGINT)
        try:
            code = run.wait(timeout=90)
        except subprocess.TimeoutExpired:
            run.kill()
            raise
    printed = out.read_text()
    assert code == 0, printed[-3000:]
    stopped = printed.rsplit("stopped:", 1)[1]
    for name in (
        "lead-intake",
        "lead-manager",
        "customer-matching",
        "notifier",
        "dms",
        "portal",
        "advisor",
    ):
        assert name in stopped
    async with httpx.AsyncClient(timeout=2) as http:
        for url in ready.values():
            with pytest.raises(httpx.TransportError):
                await http.get(url)
    # The infrastructure was up before (this test session's): make run leaves it running.
    assert "kafka" not in stopped
    assert "postgres" not in stopped
    await _kafka_answers(kafka_bootstrap_servers)


async def _an_offer_sent(
    http: httpx.AsyncClient, manager: str, prefix: str, auth: dict[str, str]
) -> bool:
    params = {"q": prefix, "status": "OFFERED"}
    offered = (await http.get(f"{manager}/api/v1/leads", params=params, headers=auth)).json()
    for lead in offered["items"]:
        detail = (await http.get(f"{manager}/api/v1/leads/{lead['id']}", headers=auth)).json()
        if any(n["status"] == "SENT" for n in detail["notifications"]):
            return True
    return False


async def _kafka_answers(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        assert PORTAL_BOOKINGS.name in await admin.list_topics()
    finally:
        await admin.close()
