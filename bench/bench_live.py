"""make bench-live: how soon the advisors' pages show a lead the DMS cancelled.

lead-manager runs as a process on a fresh database; 50 pages of the Servicetermin
Leadmanager are open in Chromium (each in its own browser context, as 50 advisors' browsers
would be), signed in to one branch, their polling set to an hour so only the live stream
can bring the change. For each of the branch's scheduled leads in turn the DMS deletes the
appointment (``AppointmentDeleted`` on ``osb.dms.appointments.v1``); each page notes when
its row first reads "Storniert". The figure is the time from the DMS's record to the page
showing it, over every page and deletion. Beside it, from the same run, the backend's share
alone: the time from the same record to lead-manager's ``LeadCancelled`` read back from
``osb.lead.events.v1``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

SECRET = secrets.token_urlsafe(32)  # this run's tokens only
PAGES = int(os.environ.get("OSB_BENCH_PAGES", "50"))
DELETIONS = int(os.environ.get("OSB_BENCH_DELETIONS", "20"))
AIM_MS = 2000


def _q(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": round(q[49]),
        "p95": round(q[94]),
        "p99": round(q[98]),
        "max": round(max(values)),
    }


async def run(infra: Any) -> dict[str, Any]:
    from lead_manager.domain.permissions import Permission
    from lead_manager.entrypoints.auth import issue_token
    from osb_local_infra.postgres import database_url, ensure_databases
    from osb_platform import make_broker
    from osb_testing.browser import chromium
    from osb_testing.system import lead_system

    run_id = uuid.uuid4().hex[:6]
    urls = {"lead-manager": database_url(infra.database_urls["lead-manager"], "bench_live_lm")}
    await ensure_databases(urls)
    system = await lead_system(
        run_id,
        bootstrap=infra.bootstrap_servers,
        database_urls={**infra.database_urls, **urls},
        jwt_secret=SECRET,
    )
    branch = f"L{run_id}"
    token = issue_token(SECRET, user="anna", name="Anna", branches={branch: list(Permission)})
    headers = {"Authorization": f"Bearer {token}"}
    bus = make_broker(infra.bootstrap_servers, client_id="bench-live")
    try:
        await system.manager.start()
        await bus.start()
        async with httpx.AsyncClient(
            base_url=system.manager.url, headers=headers, timeout=30
        ) as http:
            appointments = await _scheduled(http, bus, branch, DELETIONS)
            async with chromium() as browser, _LeadEvents(infra.bootstrap_servers) as events:
                pages = [await _page(browser, system.manager.url, token) for _ in range(PAGES)]
                page_ms, list_ms, backend_ms = [], [], []
                for lead_id, appointment_id in appointments:
                    sent = await _delete(bus, branch, appointment_id)
                    seen = await _seen_everywhere(pages, lead_id)
                    page_ms += [badge - sent for badge, _ in seen]
                    list_ms += [listed - sent for _, listed in seen]
                    backend_ms.append(await events.cancelled(lead_id) - sent)
        return {
            "pages": PAGES,
            "deletions": DELETIONS,
            "dms_to_page_ms": _q(page_ms),
            "dms_to_list_refetched_ms": _q(list_ms),
            "dms_to_lead_event_ms_baseline": _q(backend_ms),
            "aim_p95_ms": AIM_MS,
        }
    finally:
        await bus.stop()
        system.manager.stop()


async def _scheduled(
    http: httpx.AsyncClient, bus: Any, branch: str, n: int
) -> list[tuple[str, str]]:
    """``n`` leads of the branch scheduled (cash sale): (lead id, appointment id)."""
    from osb_contracts.leads import LeadRequested
    from osb_contracts.topics import LEAD_REQUESTS
    from osb_contracts.values import Customer
    from osb_platform import publish

    settings = {
        "name": "Autohaus Live",
        "acceptors": [{"id": "anna", "name": "Anna Albers"}],
        "cash_sale_customer_number": "BAR-LIVE",
    }
    r = await http.put(f"/api/v1/branches/{branch}/settings", json=settings)
    assert r.status_code == 200, r.text
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    done = []
    for i in range(n):
        lead = LeadRequested(
            lead_id=uuid.uuid4(),
            booking_id=f"LIVE-{branch}-{i:03d}",
            branch_id=branch,
            received_at=datetime.now(UTC),
            requested_start=start,
            customer=Customer(first_name="Kunde", last_name=f"Nummer {i:03d}"),
        )
        await publish(bus, lead, topic=LEAD_REQUESTS, key=str(lead.lead_id), source="/bench")
        async with asyncio.timeout(30):
            while (await http.get(f"/api/v1/leads/{lead.lead_id}")).status_code != 200:
                await asyncio.sleep(0.05)
        body = {
            "start": (start + timedelta(hours=i)).isoformat(),
            "end": (start + timedelta(hours=i, minutes=30)).isoformat(),
            "acceptor": "anna",
            "confirmation": "NONE",
            "customer": {"choice": "CASH_SALE"},
        }
        r = await http.post(f"/api/v1/leads/{lead.lead_id}/schedule", json=body)
        assert r.status_code == 200, r.text
        done.append((str(lead.lead_id), r.json()["appointment_id"]))
    return done


async def _page(browser: Any, url: str, token: str) -> Any:
    """A page signed in, its polling set to an hour, noting when each row is cancelled."""
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    await page.goto(url)
    local = {"refresh": 3600, "showNewInOverview": False, "panelWidth": 480}
    await page.evaluate(
        "(local) => localStorage.setItem('osb.local.anna', JSON.stringify(local))", local
    )
    await page.goto(f"{url}/#token={token}")
    await page.wait_for_selector("#live[data-live=on]", timeout=30_000)
    await page.wait_for_selector("#rows tr[data-lead]", timeout=30_000)
    await page.evaluate(
        """() => {
          window.cancelledAt = {};
          window.listsAt = [];  // when each list fetch finished
          const fetching = window.fetch;
          window.fetch = async (...args) => {
            const response = await fetching(...args);
            if (String(args[0]).startsWith("/ui/leads?")) {
              await response.clone().text();
              window.listsAt.push(Date.now());
            }
            return response;
          };
          const note = () => {
            for (const row of document.querySelectorAll("#rows tr[data-lead]")) {
              const id = row.dataset.lead;
              if (!(id in window.cancelledAt) && row.querySelector(".badge-cancelled")) {
                window.cancelledAt[id] = Date.now();
              }
            }
          };
          new MutationObserver(note).observe(
            document.getElementById("rows"), { childList: true, subtree: true });
        }"""
    )
    return page


async def _delete(bus: Any, branch: str, appointment_id: str) -> float:
    from osb_contracts.dms import AppointmentDeleted
    from osb_contracts.topics import DMS_APPOINTMENTS
    from osb_platform import publish

    deleted = AppointmentDeleted(
        appointment_id=uuid.UUID(appointment_id), branch_id=branch, deleted_at=datetime.now(UTC)
    )
    sent = time.time() * 1000
    await publish(bus, deleted, topic=DMS_APPOINTMENTS, key=appointment_id, source="/dms")
    return sent


async def _seen_everywhere(pages: list[Any], lead_id: str) -> list[tuple[float, float]]:
    """Per page: when the row read "Storniert", when the list fetched after it came."""
    script = """(id) => {
      const at = window.cancelledAt[id];
      const list = at === undefined ? undefined : window.listsAt.find((t) => t >= at);
      return list === undefined ? null : [at, list];
    }"""
    async with asyncio.timeout(60):
        while True:
            seen = [await p.evaluate(script, lead_id) for p in pages]
            if all(s is not None for s in seen):
                return [(float(s[0]), float(s[1])) for s in seen]
            await asyncio.sleep(0.2)


class _LeadEvents:
    """When this process read each lead's ``LeadCancelled`` (epoch ms)."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._at: dict[str, float] = {}

    async def __aenter__(self) -> _LeadEvents:
        from osb_contracts.topics import LEAD_EVENTS
        from osb_platform.kafka import groupless_reader

        self._consumer = await groupless_reader(self._bootstrap, LEAD_EVENTS)
        await self._consumer.seek_to_end()
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        from osb_platform.kafka import stop_reader

        await stop_reader(self._task, self._consumer)

    async def _read(self) -> None:
        from osb_contracts.leads import LeadCancelled

        kind = LeadCancelled.cloudevents_type().encode()
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            now = time.time() * 1000
            for records in batches.values():
                for r in records:
                    if ("ce_type", kind) in r.headers:
                        self._at[(r.key or b"").decode()] = now

    async def cancelled(self, lead_id: str) -> float:
        async with asyncio.timeout(30):
            while lead_id not in self._at:
                await asyncio.sleep(0.01)
        return self._at[lead_id]


def main() -> None:
    from osb_testing.infrastructure import provide

    with provide() as infra:
        report = asyncio.run(run(infra))
    print(json.dumps(report, indent=2))
    rows = (
        ("DMS -> page shows Storniert", report["dms_to_page_ms"]),
        ("DMS -> list fetched again", report["dms_to_list_refetched_ms"]),
        ("DMS -> LeadCancelled (baseline)", report["dms_to_lead_event_ms_baseline"]),
    )
    print(f"\n{'ms':<34}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for name, q in rows:
        print(f"{name:<34}{q['p50']:>8}{q['p95']:>8}{q['p99']:>8}{q['max']:>8}")
    print(f"{PAGES} pages, {DELETIONS} deletions; aim: p95 <= {AIM_MS} ms")
    out = Path(__file__).resolve().parents[1] / ".bench" / "live.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
