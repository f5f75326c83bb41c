"""make chaos: the pipeline under faults, its promises checked from the outside.

The four services run as processes on the local Kafka and PostgreSQL, on fresh databases and
consumer groups of their own, the notifier against a real SMTP server and the SMS gateway
sink. For ``CHAOS_SECONDS`` a steady load runs: bookings over HTTP (lead-intake, with an
``Idempotency-Key``, retried until accepted) and over Kafka (the portal topic), an advisor
rejecting (by e-mail, some by SMS) and scheduling (cash sale, confirmation by e-mail) every
new lead through lead-manager's API (retried with the same request id), the DMS deleting
some of the appointments, and master changes for customer-matching's replica. Meanwhile a
fault schedule drawn from ``CHAOS_SEED``: SIGKILL of each service (restarted), the broker
(the first node of a local cluster, ``OSB_KAFKA_BROKERS=3``, whose last node is also killed
for good) SIGKILLed and restarted, frozen with SIGSTOP, the PostgreSQL postmaster SIGKILLed and
restarted, the SMTP server gone and the SMS gateway refusing for a while. With
``CHAOS_INSTANCES=2`` every service runs twice in the same consumer groups and on the same
database (the load spread over the instances, a kill hitting the first), and one more fault
stops the second instance of every service for good: its partitions move to the first.

Then, after the pipeline has settled, the invariants: every accepted booking exactly one
lead; every lead exactly one ``LeadCreated`` event id (the same id twice on the topic is
counted: delivery is at least once); every rejection and appointment the API accepted
exactly one message to the customer (duplicates reported; a failure beyond the notifier's
documented window of one claimed batch per notifier kill); every DMS deletion a cancelled
lead; nothing in any dead-letter topic; every service ready; how long each fault took to
recover. A table on stdout, everything in ``.bench/chaos.json``; the exit code is 1 when an
invariant is broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import secrets
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

SEED = int(os.environ.get("CHAOS_SEED", "1"))
INSTANCES = int(os.environ.get("CHAOS_INSTANCES", "1"))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "240"))
SETTLE_SECONDS = 240.0
SECRET = secrets.token_urlsafe(32)
NOTIFIER_BATCH = 50  # NOTIFIER_DISPATCH_BATCH: the documented duplicate window per kill


@dataclass
class Fault:
    name: str
    at: float  # seconds into the load
    hold: float  # how long the fault lasts before it is undone
    started: float = 0.0
    ended: float = 0.0
    recovered_s: float | None = None
    error: str | None = None


@dataclass
class Ledger:
    """What the outside world saw accepted."""

    http_bookings: set[str] = field(default_factory=set)
    kafka_bookings: set[str] = field(default_factory=set)
    http_retries: int = 0
    rejected: dict[str, str] = field(default_factory=dict)  # lead id -> channel
    scheduled: dict[str, str] = field(default_factory=dict)  # lead id -> appointment id
    deleted: set[str] = field(default_factory=set)  # lead ids whose appointment the DMS deleted
    advisor_retries: int = 0
    masters: int = 0


def schedule(rng: random.Random, seconds: float, instances: int, brokers: int) -> list[Fault]:
    """Every kind of fault once, at seeded times, one after another with room between."""
    kinds = [("stop the second instances for good", 0.0)] if instances > 1 else []
    kinds += [("kill a broker for good", 0.0)] if brokers > 1 else []
    kinds += [
        ("kill lead-intake", 3.0),
        ("kill lead-manager", 3.0),
        ("kill customer-matching", 3.0),
        ("kill notifier", 3.0),
        ("kill broker", 12.0),
        ("freeze broker", 15.0),
        ("kill postgresql", 10.0),
        ("smtp down", 20.0),
        ("sms gateway refusing", 20.0),
    ]
    rng.shuffle(kinds)
    slot = seconds / len(kinds)
    return [
        Fault(name, at=i * slot + rng.uniform(0.1, 0.4) * slot, hold=hold)
        for i, (name, hold) in enumerate(kinds)
    ]


class Chaos:
    def __init__(self, infra: Any, run_id: str) -> None:
        self.infra = infra
        self.run_id = run_id
        self.branch = f"C{run_id.upper()}"
        self.rng = random.Random(SEED)
        self.ledger = Ledger()
        self.stop = asyncio.Event()
        self.processes: dict[str, list[Any]] = {}  # the instances of each service
        self.gone: list[Any] = []  # instances stopped for good
        self.turn = itertools.count()
        from osb_local_infra.kafka import cluster
        from osb_local_infra.settings import InfraSettings

        self.brokers = cluster(InfraSettings())
        self.planned = schedule(random.Random(SEED), SECONDS * 0.85, INSTANCES, len(self.brokers))
        self.stack = contextlib.AsyncExitStack()  # everything started, stopped in reverse

    # -- the system ---------------------------------------------------------------------

    async def start(self) -> None:
        from osb_local_infra.postgres import database_url, ensure_databases
        from osb_platform import make_broker
        from osb_testing.mail import Smtp, serving_sms_sink
        from osb_testing.system import lead_system, matching_process, notifier_process

        server = self.infra.database_urls
        self.urls = {
            service: database_url(server[service], f"chaos_{self.run_id}_{short}")
            for service, short in (
                ("lead-intake", "li"),
                ("lead-manager", "lm"),
                ("customer-matching", "cm"),
                ("notifier", "nt"),
            )
        }
        await ensure_databases(self.urls)
        # the run's databases go last: nothing else uses them
        self.stack.push_async_callback(_drop_databases, server["lead-manager"], self.urls)
        self.smtp = Smtp()
        self.stack.callback(lambda: self.smtp.controller and self.smtp.controller.stop())
        self.sms, sms_url = await self.stack.enter_async_context(serving_sms_sink())
        bootstrap = self.infra.bootstrap_servers
        system = await lead_system(
            self.run_id,
            bootstrap=bootstrap,
            database_urls={**server, **self.urls},
            jwt_secret=SECRET,
            extra_env={"LEAD_INTAKE_BRANCHES": json.dumps({self.branch: {"country": "DE"}})},
        )
        matching = await matching_process(
            self.run_id,
            bootstrap=bootstrap,
            database_url=self.urls["customer-matching"],
            extra_env={"CUSTOMER_MATCHING_NUMBER_PREFIX": f"X{self.run_id.upper()}"},
        )
        notifier = await notifier_process(
            self.run_id,
            bootstrap=bootstrap,
            database_url=self.urls["notifier"],
            smtp_port=self.smtp.port,
            sms_gateway_url=sms_url,
            lead_manager=system.manager,
            extra_env={
                "NOTIFIER_RETRY_MAX_DELAY_S": "8",
                "NOTIFIER_RETRY_MAX_ATTEMPTS": "30",
                "NOTIFIER_BRANCHES": json.dumps(
                    {
                        self.branch: {
                            "name": "Autohaus Chaos",
                            "sender": "service@chaos.example",
                            "sms_enabled": True,
                        }
                    }
                ),
            },
        )
        first = {
            "lead-intake": system.intake,
            "lead-manager": system.manager,
            "customer-matching": matching,
            "notifier": notifier,
        }
        self.processes = {
            service: [process] + [process.another(i) for i in range(2, INSTANCES + 1)]
            for service, process in first.items()
        }
        for process in self.living():
            self.stack.callback(process.stop)
        await asyncio.gather(*(p.start(timeout=120) for p in self.living()))
        self.bus = make_broker(bootstrap, client_id=f"chaos-{self.run_id}")
        await self.bus.start()
        self.stack.push_async_callback(self.bus.stop)
        from lead_manager.domain.permissions import Permission
        from lead_manager.entrypoints.auth import issue_token

        token = issue_token(
            SECRET, user="chaos", name="Chaos Advisor", branches={self.branch: list(Permission)}
        )
        self.manager = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10)
        self.intake = httpx.AsyncClient(timeout=10)
        self.stack.push_async_callback(self.manager.aclose)
        self.stack.push_async_callback(self.intake.aclose)
        settings = {
            "name": "Autohaus Chaos",
            "acceptors": [{"id": "chaos", "name": "Chaos Advisor"}],
            "sms_enabled": True,
            "cash_sale_customer_number": "BAR-CHAOS",
            "sender_email": "service@chaos.example",
        }
        r = await self.manager.put(
            self.at("lead-manager", f"/api/v1/branches/{self.branch}/settings"), json=settings
        )
        assert r.status_code == 200, r.text
        self.offsets = await _end_offsets(bootstrap)

    async def close(self) -> None:
        await self.stack.aclose()

    def living(self) -> list[Any]:
        return [p for ps in self.processes.values() for p in ps if p not in self.gone]

    def at(self, service: str, path: str) -> str:
        """``path`` on one of the service's instances not stopped for good, each in turn (one
        killed a moment ago is tried too: its clients retry, as behind a load balancer)."""
        instances = [p for p in self.processes[service] if p not in self.gone]
        return instances[next(self.turn) % len(instances)].url + path

    async def all_ready(self, timeout: float = 180) -> float:
        """Seconds until every instance answers /health/ready with 200."""
        t0 = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(timeout):
            for process in self.living():
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{process.url}/health/ready")).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
        return time.monotonic() - t0

    # -- the load -----------------------------------------------------------------------

    def booking(self, prefix: str) -> Any:
        from osb_contracts.portal import BookingSubmitted, PortalCustomer, PortalVehicle

        booking_id = f"{prefix}-{self.run_id}-{uuid.uuid4().hex[:10]}"
        now = datetime.now(UTC)
        return BookingSubmitted(
            booking_id=booking_id,
            branch_id=self.branch,
            submitted_at=now,
            requested_start=now + timedelta(days=self.rng.randint(2, 20)),
            services=("Inspektion",),
            customer=PortalCustomer(
                first_name="Kim",
                last_name=f"Chaos {booking_id[-6:]}",
                email=f"{booking_id.lower()}@chaos.example",
                mobile="+4915112345678",
            ),
            vehicle=PortalVehicle(licence_plate="HH-CH 1"),
        )

    async def http_bookings(self, per_second: float) -> None:
        while not self.stop.is_set():
            booking = self.booking("H")
            body = booking.model_dump(mode="json")
            while True:  # until accepted: what a portal with an Idempotency-Key does
                try:
                    r = await self.intake.post(
                        self.at("lead-intake", "/api/v1/bookings"),
                        json=body,
                        headers={"Idempotency-Key": booking.booking_id},
                    )
                    if r.status_code == 202:
                        self.ledger.http_bookings.add(booking.booking_id)
                        break
                    assert r.status_code >= 500, r.text
                except httpx.HTTPError:
                    pass
                self.ledger.http_retries += 1
                await asyncio.sleep(0.5)
            await asyncio.sleep(1 / per_second)

    async def send(self, message: Any, topic: Any, key: str, source: str) -> None:
        """Publish until the broker acknowledges it (the same record again after a timeout:
        the consumers deduplicate)."""
        from osb_platform import publish

        while True:
            try:
                async with asyncio.timeout(15):
                    await publish(self.bus, message, topic=topic, key=key, source=source)
                return
            except Exception:  # the broker away
                await asyncio.sleep(0.5)

    async def kafka_bookings(self, per_second: float) -> None:
        from osb_contracts.topics import PORTAL_BOOKINGS

        while not self.stop.is_set():
            booking = self.booking("K")
            await self.send(booking, PORTAL_BOOKINGS, booking.booking_id, "/chaos/portal")
            self.ledger.kafka_bookings.add(booking.booking_id)
            await asyncio.sleep(1 / per_second)

    async def advisor(self) -> None:
        """Every new lead rejected (a third, some by SMS) or scheduled, retried until the
        API has answered; every other appointment then deleted by the DMS."""
        while not self.stop.is_set():
            try:
                r = await self.manager.get(
                    self.at("lead-manager", "/api/v1/leads"),
                    params={"branch_id": self.branch, "status": "NEW", "limit": 50},
                )
                leads = r.json()["items"] if r.status_code == 200 else []
            except httpx.HTTPError:
                leads = []
            for lead in leads:
                if self.stop.is_set():
                    break
                await self.decide(lead)
            await asyncio.sleep(0.5)

    async def decide(self, lead: dict[str, Any]) -> None:
        lead_id = lead["id"]
        pick = uuid.UUID(lead_id).int % 6
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, lead_id))
        start = datetime.fromisoformat(lead["requested_start"]).replace(second=0, microsecond=0)
        for _ in range(60):
            try:
                if pick < 2:
                    channel = "SMS" if pick == 0 else "EMAIL"
                    body = {
                        "channel": channel,
                        "text": f"Leider ausgebucht ({lead['booking_id']}).",
                        "subject": "Ihr Terminwunsch",
                        "expected_version": lead["version"],
                    }
                    r = await self.manager.post(
                        self.at("lead-manager", f"/api/v1/leads/{lead_id}/reject"), json=body
                    )
                    if r.status_code == 200:
                        self.ledger.rejected[lead_id] = channel
                        return
                else:
                    body = {
                        "start": start.isoformat(),
                        "end": (start + timedelta(hours=1)).isoformat(),
                        "acceptor": "chaos",
                        "confirmation": "EMAIL",
                        "customer": {"choice": "CASH_SALE"},
                        "request_id": request_id,
                    }
                    r = await self.manager.post(
                        self.at("lead-manager", f"/api/v1/leads/{lead_id}/schedule"), json=body
                    )
                    if r.status_code == 200:
                        appointment = r.json()["appointment_id"]
                        self.ledger.scheduled[lead_id] = appointment
                        if pick == 5:
                            await self.dms_delete(lead_id, appointment)
                        return
                if r.status_code == 409 and await self.decided_meanwhile(lead_id, pick):
                    return  # answered before the connection broke: the lead says so
                if r.status_code < 500 and r.status_code != 409:
                    raise AssertionError(f"{r.status_code} {r.text}")
            except httpx.HTTPError:
                pass
            self.ledger.advisor_retries += 1
            await asyncio.sleep(1)

    async def decided_meanwhile(self, lead_id: str, pick: int) -> bool:
        r = await self.manager.get(self.at("lead-manager", f"/api/v1/leads/{lead_id}"))
        if r.status_code != 200:
            return False
        detail = r.json()
        if detail["status"] == "REJECTED" and pick < 2:
            self.ledger.rejected[lead_id] = "SMS" if pick == 0 else "EMAIL"
            return True
        if detail["status"] == "SCHEDULED" and detail.get("appointment_id"):
            self.ledger.scheduled[lead_id] = detail["appointment_id"]
            return True
        return False

    async def dms_delete(self, lead_id: str, appointment_id: str) -> None:
        from osb_contracts.dms import AppointmentDeleted
        from osb_contracts.topics import DMS_APPOINTMENTS

        deleted = AppointmentDeleted(
            appointment_id=uuid.UUID(appointment_id),
            branch_id=self.branch,
            deleted_at=datetime.now(UTC),
        )
        await self.send(deleted, DMS_APPOINTMENTS, appointment_id, "/chaos/dms")
        self.ledger.deleted.add(lead_id)

    async def masters(self) -> None:
        from osb_testing.dms import master_customer, publish_customer

        while not self.stop.is_set():
            number = f"M{self.run_id.upper()}{self.ledger.masters:05d}"
            with contextlib.suppress(Exception):
                async with asyncio.timeout(15):
                    await publish_customer(self.bus, master_customer(number, "Stammkunde"))
                self.ledger.masters += 1
            await asyncio.sleep(1)

    # -- the faults -----------------------------------------------------------------------

    async def faults(self, planned: list[Fault], t0: float) -> None:
        from osb_local_infra.postgres import LocalPostgres
        from osb_local_infra.settings import InfraSettings

        kafka, pg = self.brokers[0], LocalPostgres(InfraSettings())
        for fault in planned:
            await asyncio.sleep(max(0.0, t0 + fault.at - time.monotonic()))
            fault.started = time.monotonic() - t0
            print(f"{fault.started:6.1f} s  {fault.name} for {fault.hold:.0f} s", flush=True)
            try:
                undone = await self.inflict(fault, kafka, pg)
                await self.all_ready()
                fault.ended = time.monotonic() - t0
                fault.recovered_s = round(time.monotonic() - undone, 1)
            except Exception as exc:
                fault.error = repr(exc)
                print(f"         {fault.name}: {exc!r}", flush=True)

    async def inflict(self, fault: Fault, kafka: Any, pg: Any) -> float:
        """Cause the fault, hold it, begin undoing it; when the undoing began."""
        name = fault.name
        if name.startswith("kill ") and name[5:] in self.processes:
            process = self.processes[name[5:]][0]
            process.kill()
            await asyncio.sleep(fault.hold)
            undone = time.monotonic()
            await process.start(timeout=180)
            return undone
        elif name.endswith(" for good"):
            self.for_good(name)
            return time.monotonic()
        elif name == "kill broker":
            os.kill(_pid(kafka.pid()), signal.SIGKILL)
            await asyncio.sleep(fault.hold)
            undone = time.monotonic()
            await asyncio.to_thread(kafka.start)
            return undone
        elif name == "freeze broker":
            pid = _pid(kafka.pid())
            os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(fault.hold)
            finally:
                os.kill(pid, signal.SIGCONT)
            return time.monotonic()
        elif name == "kill postgresql":
            postmaster = int((pg.pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(postmaster, signal.SIGKILL)
            await asyncio.sleep(fault.hold)
            undone = time.monotonic()
            await _until(lambda: asyncio.to_thread(_start_postgres, pg), "PostgreSQL back", 60)
            return undone
        elif name in ("smtp down", "sms gateway refusing"):
            self.outage(name, on=True)
            try:
                await asyncio.sleep(fault.hold)
            finally:
                self.outage(name, on=False)
            return time.monotonic()
        raise ValueError(name)

    def for_good(self, name: str) -> None:
        """SIGKILL, never restarted: the second instance of every service, or the cluster's
        last broker (the first is the one the broker faults kill and restart)."""
        if name == "kill a broker for good":
            os.kill(_pid(self.brokers[-1].pid()), signal.SIGKILL)
            return
        for instances in self.processes.values():
            instances[1].kill()
            self.gone.append(instances[1])

    def outage(self, name: str, *, on: bool) -> None:
        if name == "smtp down" and on:
            self.smtp.down()
        elif name == "smtp down":
            self.smtp.up()
        else:
            self.sms.fail_with = 503 if on else None

    # -- the invariants --------------------------------------------------------------------

    async def settle(self) -> dict[str, Any]:
        """The invariants, checked until they hold or ``SETTLE_SECONDS`` have passed."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            report = await self.check()
            if not report["broken"] or time.monotonic() > deadline:
                return report
            await asyncio.sleep(5)

    async def check(self) -> dict[str, Any]:
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn(self.urls["lead-manager"]))
        try:
            rows = await conn.fetch(
                "SELECT id::text, booking_id, status FROM leads WHERE branch_id = $1",
                self.branch,
            )
        finally:
            await conn.close()
        per_booking = Counter(r["booking_id"] for r in rows)
        status = {r["id"]: r["status"] for r in rows}
        email_of = {r["id"]: f"{r['booking_id'].lower()}@chaos.example" for r in rows}
        accepted = self.ledger.http_bookings | self.ledger.kafka_bookings
        created, dead_letters = await _read_topics(self.infra.bootstrap_servers, self.offsets)
        created_ids = {lead: ids for lead, ids in created.items() if lead in status}
        mails = Counter(
            str(m["To"]).lower() for m in list(self.smtp.sink.messages) if m["To"] is not None
        )
        sms = Counter(m["text"] for m in list(self.sms.messages))
        rejected_mail = [
            email_of[lead] for lead, ch in self.ledger.rejected.items() if ch == "EMAIL"
        ]
        rejected_sms = [lead for lead, ch in self.ledger.rejected.items() if ch == "SMS"]
        scheduled_mail = [email_of[lead] for lead in self.ledger.scheduled]
        booking_of = {r["id"]: r["booking_id"] for r in rows}
        sms_sent = [sms[f"Leider ausgebucht ({booking_of[lead]})."] for lead in rejected_sms]
        kills = sum(1 for f in self.planned if f.name == "kill notifier")
        messages = [mails[a] for a in rejected_mail + scheduled_mail] + sms_sent
        duplicate_messages = sum(n - 1 for n in messages if n > 1)
        counts = {
            "bookings_accepted_http": len(self.ledger.http_bookings),
            "bookings_accepted_kafka": len(self.ledger.kafka_bookings),
            "http_retries": self.ledger.http_retries,
            "leads": len(rows),
            "bookings_without_lead": len(accepted - set(per_booking)),
            "bookings_with_several_leads": sum(1 for n in per_booking.values() if n > 1),
            "leads_without_lead_created": len(set(status) - set(created_ids)),
            "leads_created_under_two_event_ids": sum(
                1 for ids in created_ids.values() if len(set(ids)) > 1
            ),
            "lead_created_duplicates_same_id": sum(
                len(ids) - len(set(ids)) for ids in created_ids.values()
            ),
            "rejections": len(self.ledger.rejected),
            "appointments": len(self.ledger.scheduled),
            "advisor_retries": self.ledger.advisor_retries,
            "messages_missing": sum(1 for n in messages if n == 0),
            "messages_duplicated": duplicate_messages,
            "duplicate_window": kills * NOTIFIER_BATCH,
            "dms_deletions": len(self.ledger.deleted),
            "dms_deletions_not_cancelled": sum(
                1 for lead in self.ledger.deleted if status.get(lead) != "CANCELLED"
            ),
            "decisions_not_on_the_lead": sum(
                1 for lead in self.ledger.rejected if status.get(lead) != "REJECTED"
            )
            + sum(
                1
                for lead in self.ledger.scheduled
                if status.get(lead) not in ("SCHEDULED", "CANCELLED")
            ),
            "dead_letters": dead_letters,
            "master_changes": self.ledger.masters,
        }
        broken = [
            name
            for name in (
                "bookings_without_lead",
                "bookings_with_several_leads",
                "leads_without_lead_created",
                "leads_created_under_two_event_ids",
                "messages_missing",
                "dms_deletions_not_cancelled",
                "decisions_not_on_the_lead",
                "dead_letters",
            )
            if counts[name]
        ]
        if duplicate_messages > counts["duplicate_window"]:
            broken.append("messages_duplicated")
        return {"counts": counts, "broken": broken}


def _pid(pid: int | None) -> int:
    if pid is None:
        raise RuntimeError("the local broker is not running")
    return pid


def _start_postgres(pg: Any) -> bool:
    pg.start()
    return bool(pg.is_running())


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await check():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(1)


async def _drop_databases(server_url: str, urls: dict[str, str]) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        for url in urls.values():
            name = make_url(url).database
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _end_offsets(bootstrap: str) -> dict[Any, int]:
    """Where the run starts in the lead events and in every dead-letter topic."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from osb_contracts.topics import DLQ_PARTITIONS, LEAD_EVENTS, TOPICS

    partitions = [TopicPartition(LEAD_EVENTS.name, p) for p in range(LEAD_EVENTS.partitions)]
    partitions += [
        TopicPartition(t.dlq, p) for t in TOPICS if t.has_dlq for p in range(DLQ_PARTITIONS)
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def _read_topics(bootstrap: str, start: dict[Any, int]) -> tuple[dict[str, list[str]], int]:
    """``LeadCreated`` event ids per lead, and how many dead letters, since ``start``."""
    from aiokafka import AIOKafkaConsumer
    from osb_contracts.leads import LeadCreated
    from osb_contracts.topics import LEAD_EVENTS

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    created: dict[str, list[str]] = {}
    dead = 0
    kind = LeadCreated.cloudevents_type().encode()
    try:
        consumer.assign(list(start))
        end = await consumer.end_offsets(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        left = {tp for tp in start if end[tp] > start[tp]}
        while left:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                for r in records:
                    if tp.topic != LEAD_EVENTS.name:
                        dead += 1
                    elif ("ce_type", kind) in r.headers:
                        event_id = dict(r.headers)["ce_id"].decode()
                        created.setdefault((r.key or b"").decode(), []).append(event_id)
                    if r.offset + 1 >= end[tp]:
                        left.discard(tp)
    finally:
        await consumer.stop()
    return created, dead


async def run(infra: Any) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    chaos = Chaos(infra, run_id)
    try:
        await chaos.start()
        t0 = time.monotonic()
        load = [
            asyncio.create_task(chaos.http_bookings(4)),
            asyncio.create_task(chaos.kafka_bookings(2)),
            asyncio.create_task(chaos.advisor()),
            asyncio.create_task(chaos.masters()),
        ]
        faults = asyncio.create_task(chaos.faults(chaos.planned, t0))
        await asyncio.sleep(SECONDS)
        await faults  # the last fault undone before the load stops
        chaos.stop.set()
        await asyncio.gather(*load)
        ready_s = await chaos.all_ready()
        report = await chaos.settle()
        report["counts"]["ready_at_the_end_s"] = round(ready_s, 1)
        report["broken"] += [f"fault {f.name}: {f.error}" for f in chaos.planned if f.error]
        report["faults"] = [
            {
                "fault": f.name,
                "at_s": round(f.started, 1),
                "held_s": f.hold,
                "recovered_s": f.recovered_s,
                "error": f.error,
            }
            for f in chaos.planned
        ]
        report["seed"] = SEED
        report["instances"] = INSTANCES
        report["brokers"] = len(chaos.brokers)
        report["load_seconds"] = SECONDS
        return report
    finally:
        await chaos.close()


def main() -> None:
    from osb_testing.infrastructure import provide

    # the run's own clients complain about every refused connection while the broker is
    # away; the services' logs say it once (BrokerWatch)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    with provide() as infra:
        report = asyncio.run(run(infra))
    out = Path(__file__).resolve().parents[1] / ".bench" / "chaos.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(
        f"\nseed {report['seed']}, {report['brokers']} broker(s), "
        f"{report['instances']} instance(s) of each service, "
        f"{report['load_seconds']:.0f} s of load\n"
    )
    print(f"{'fault':<36}{'at s':>8}{'held s':>8}{'ready again after s':>22}")
    for f in report["faults"]:
        recovered = f["recovered_s"] if f["error"] is None else "FAILED"
        print(f"{f['fault']:<36}{f['at_s']:>8}{f['held_s']:>8}{recovered!s:>22}")
    print()
    for name, value in report["counts"].items():
        mark = "  <- broken" if name in report["broken"] else ""
        print(f"{name:<38}{value!s:>10}{mark}")
    print(
        f"\n{'invariants hold' if not report['broken'] else 'BROKEN: ' + ', '.join(report['broken'])}"
    )
    print(f"written to {out}")
    sys.exit(1 if report["broken"] else 0)


if __name__ == "__main__":
    main()
