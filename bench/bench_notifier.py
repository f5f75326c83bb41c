"""make bench-notifier: mails per second from the lead events topic to a local SMTP server.

Side by side in one run, against the same aiosmtpd server on loopback:
- baseline: a raw aiosmtplib loop sending the same MIME messages over one connection;
- notifier: the service as a process, from LeadRejected events on osb.lead.events.v1 to
  mails accepted by the server, with its records, leases, marks and outcome events.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosmtplib
from aiokafka import AIOKafkaProducer
from notifier.adapters.email import build_message
from notifier.domain.plan import BranchChannels, plan
from osb_contracts import Envelope, encode
from osb_contracts.topics import LEAD_EVENTS
from osb_testing.factories import rejection
from osb_testing.infrastructure import TestInfrastructure, provide
from osb_testing.mail import Smtp
from osb_testing.system import notifier_process

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench" / "notifier.json"


async def wait_for_mails(smtp: Smtp, count: int, timeout: float = 600) -> float:
    """When the server has accepted ``count`` mails (cheap polling: the server shares the GIL)."""
    async with asyncio.timeout(timeout):
        while len(smtp.sink.messages) < count:
            await asyncio.sleep(0.01)
    return time.perf_counter()


async def baseline(smtp: Smtp, n: int) -> dict[str, Any]:
    branch = BranchChannels(
        "Autohaus Hansa Hamburg", "service@hansa.example", "werkstatt@hansa.example"
    )
    messages = []
    for i in range(n):
        event = rejection(recipient=f"base-{i}-{uuid.uuid4().hex[:6]}@example.de")
        (draft,) = plan(
            Envelope(str(uuid.uuid4()), "t", "/b", datetime.now(UTC), "c", None, None, event),
            {"HH-01": branch},
        )
        messages.append(build_message(draft, sender_name=branch.name, now_utc=datetime.now(UTC)))
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.port)
    await client.connect()
    started = time.perf_counter()
    for message in messages:
        await client.send_message(message)
    seconds = time.perf_counter() - started
    await client.quit()
    return {
        "path": "baseline: aiosmtplib loop, one connection",
        "mails": n,
        "seconds": round(seconds, 3),
        "per_second": round(n / seconds, 1),
    }


async def service(infra: TestInfrastructure, smtp: Smtp, n: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    notifier = await notifier_process(
        run,
        bootstrap=infra.bootstrap_servers,
        database_url=infra.database_urls["notifier"],
        smtp_port=smtp.port,
    )
    await notifier.start()
    events = [rejection(recipient=f"svc-{run}-{i}@example.de") for i in range(n)]
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.bootstrap_servers, enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    already = len(smtp.sink.messages)
    try:
        started = time.perf_counter()
        for event in events:
            record = encode(event, key=str(event.lead_id), source="/bench/lead-manager")
            await producer.send(
                LEAD_EVENTS.name,
                record.value,
                key=record.key,
                headers=record.header_list,
            )
        await producer.flush()
        done = await wait_for_mails(smtp, already + n)
    finally:
        await producer.stop()
        notifier.stop()
    seconds = done - started
    return {
        "path": "notifier: topic to SMTP, as a process",
        "mails": n,
        "seconds": round(seconds, 3),
        "per_second": round(n / seconds, 1),
    }


async def measure(infra: TestInfrastructure, n: int) -> list[dict[str, Any]]:
    smtp = Smtp()
    try:
        return [await baseline(smtp, n), await service(infra, smtp, n)]
    finally:
        if smtp.controller is not None:
            smtp.controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=2000)
    args = parser.parse_args()
    with provide() as infra:
        results = asyncio.run(measure(infra, args.mails))
    ratio = results[1]["per_second"] / results[0]["per_second"]
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench-notifier",
        "results": results,
        "notifier_to_baseline": round(ratio, 3),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"{'path':45} {'mails':>7} {'seconds':>8} {'per s':>8}")
    for r in results:
        print(f"{r['path']:45} {r['mails']:>7} {r['seconds']:>8} {r['per_second']:>8}")
    print(f"notifier / baseline: {ratio:.2f}   (written to {OUT.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
