"""A person's export (issue 19, point 1), checked against a search of everything: the four
services run as processes; a person books, is identified as a DMS master customer, gets an
appointment confirmed by e-mail and answers an SMS with STOP; another person books too.
Then the privacy officer's export (lead-manager's API through ``osb privacy export``), and
``osb privacy scan`` over every table of the four databases and every topic from its
beginning: every table the person is found in is a part of the export, every topic they
are found in is named in it, and every value found is in it; nothing of the other person."""

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
from faststream.kafka import KafkaBroker
from lead_manager.adapters.privacy import REPLY_MARGIN
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from osb_cli.main import app as osb
from osb_cli.privacy import Traces, scan
from osb_cli.simulators import Dms, run_dms
from osb_contracts import decode, encode
from osb_contracts.dms import AppointmentDeleted, MasterChange
from osb_contracts.leads import LeadAnonymised
from osb_contracts.portal import BookingSubmitted, PortalAddress, PortalCustomer, PortalVehicle
from osb_contracts.topics import (
    DMS_APPOINTMENTS,
    DMS_CUSTOMERS,
    LEAD_EVENTS,
    LEAD_REQUESTS,
    MATCHING_REPLIES,
    PORTAL_BOOKINGS,
)
from osb_contracts.values import Address, Customer
from osb_platform import make_broker, publish
from osb_platform.keys import Keyring
from osb_testing.dms import a_vin, letters, publish_customer, publish_vehicle
from osb_testing.insight import wait_projected
from osb_testing.kafka import TopicTail
from osb_testing.mail import Smtp, serving_sms_sink
from osb_testing.system import lead_system, matching_process, notifier_process
from pydantic import SecretStr
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e

SECRET = "e2e-privacy-export-secret-of-32-chars!"
PRIVACY_TOKEN = "e2e-privacy-service-token-0123456789"
REPLY_TOKEN = "e2e-privacy-export-sms-gateway"
# lead-manager's matching timeout (3 s) and its margin, and a second to spare
REPLIES_WAITED = timedelta(seconds=3) + REPLY_MARGIN + timedelta(seconds=1)


async def test_the_export_holds_everything_a_search_of_every_table_and_topic_finds(
    kafka_bootstrap_servers: str, database_urls: dict[str, str], tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    dms_group = f"dms-{run}"
    branch = f"X{run.upper()}"
    last = "Wendehals" + letters(6)
    person = {
        "first": "Ottilie",
        "last": last.capitalize(),
        "email": f"{last.lower()}@example.de",
        "mobile": f"+49151{uuid.uuid4().int % 10**8:08d}",
        "vin": a_vin(),
        "number": f"X{uuid.uuid4().int % 10**8:08d}",
    }
    other_email = f"anders{letters(6)}@example.de"
    smtp = Smtp()
    async with serving_sms_sink() as (_, sms_url):
        matching = await matching_process(
            run,
            bootstrap=kafka_bootstrap_servers,
            database_url=database_urls["customer-matching"],
            extra_env={"OSB_PRIVACY_TOKEN": PRIVACY_TOKEN},
        )
        channels = {branch: {"name": "Autohaus Hell", "sender": "service@hell.example"}}
        notifier = await notifier_process(
            run,
            bootstrap=kafka_bootstrap_servers,
            database_url=database_urls["notifier"],
            smtp_port=smtp.port,
            sms_gateway_url=sms_url,
            extra_env={
                "NOTIFIER_BRANCHES": json.dumps(channels),
                "NOTIFIER_SMS_REPLY_TOKEN": REPLY_TOKEN,
                "OSB_PRIVACY_TOKEN": PRIVACY_TOKEN,
            },
        )
        system = await lead_system(
            run,
            bootstrap=kafka_bootstrap_servers,
            database_urls=database_urls,
            jwt_secret=SECRET,
            extra_env={
                "LEAD_INTAKE_BRANCHES": json.dumps({branch: {"country": "DE"}}),
                "OSB_PRIVACY_TOKEN": PRIVACY_TOKEN,
                # this run's groups are the installation's (the erasure cuts work topics
                # at what they have read)
                "LEAD_MANAGER_PRIVACY_GROUPS": json.dumps(
                    [f"intake-{run}", f"manager-{run}", f"cm-{run}", f"notifier-{run}", dms_group]
                ),
            },
        )
        # the notifier asks lead-manager for the keys of the lead events' sealed fields
        notifier.env["NOTIFIER_LEAD_MANAGER_URL"] = system.manager.url
        # lead-manager asks the other three (lead-intake's port is known only now)
        system.manager.env["LEAD_MANAGER_PRIVACY_PEERS"] = json.dumps(
            {
                "lead-intake": system.intake.url,
                "customer-matching": matching.url,
                "notifier": notifier.url,
            }
        )
        processes = [system.intake, system.manager, matching, notifier]
        bus = make_broker(kafka_bootstrap_servers, client_id=f"privacy-{run}")
        dms, stop, joined = Dms(), asyncio.Event(), asyncio.Event()
        keyring = Keyring(system.manager.url, SecretStr(PRIVACY_TOKEN))
        dms_running = None
        try:
            await asyncio.gather(*(p.start() for p in processes))
            await bus.start()
            # the DMS, taking the appointments with the keys of their sealed fields
            dms_running = asyncio.create_task(
                run_dms(
                    kafka_bootstrap_servers,
                    dms,
                    bus,
                    group=dms_group,
                    stop=stop,
                    ready=joined,
                    keyring=keyring,
                )
            )
            async with asyncio.timeout(60):
                await joined.wait()
            master = Customer(
                customer_number=person["number"],
                first_name=person["first"],
                last_name=person["last"],
                email=person["email"],
                mobile=person["mobile"],
                address=Address(street="Lindenallee", house_number="3", postcode="20095"),
            )
            await publish_customer(bus, master)
            await publish_vehicle(bus, person["vin"], person["number"])
            officer, booked = await book_and_decide(
                system.intake.url, system.manager.url, notifier.url, branch, person, other_email
            )
            export = await asyncio.to_thread(
                export_by_the_cli, system.manager.url, officer, person["email"], tmp_path
            )
            await check_the_export(
                export, person, other_email, kafka_bootstrap_servers, database_urls
            )
            assert dms.customers[person["number"]].last_name == person["last"]  # opened
            await check_the_erasure(
                system.manager.url,
                bus,
                branch,
                officer,
                booked,
                person,
                other_email,
                kafka_bootstrap_servers,
                database_urls,
            )
            assert person["number"] not in dms.customers  # the DMS erased its master
        finally:
            stop.set()
            if dms_running is not None:
                await asyncio.gather(dms_running, return_exceptions=True)
            await keyring.close()
            await bus.stop()
            for p in processes:
                p.stop()
            if smtp.controller is not None:
                smtp.controller.stop()


def traces_of(person: dict[str, str]) -> Traces:
    return Traces.of(
        email=person["email"], phone=person["mobile"], names=[person["last"]], vin=person["vin"]
    )


async def check_the_export(
    export: dict[str, Any],
    person: dict[str, str],
    other_email: str,
    bootstrap: str,
    database_urls: dict[str, str],
) -> None:
    traces = traces_of(person)
    found = await scan(traces, databases=database_urls, bootstrap=bootstrap)
    sources = {
        p["source"]: p["records"] for service in export["services"] for p in service["parts"]
    }
    named_topics = {t["topic"] for t in export["topics"]}
    text = json.dumps(export, ensure_ascii=False).lower()
    tables = [f for f in found if f.where.startswith("database ")]
    topics = [f for f in found if f.where.startswith("topic ")]
    assert {f.where for f in tables} >= {
        "database lead-manager, table leads",
        "database customer-matching, table customers",
        "database notifier, table notifications",
        "database notifier, table sms_opt_outs",
    }
    assert f"topic {LEAD_REQUESTS.name}" in {f.where for f in topics}
    # the lead events, kept for ever, carry the person sealed: readable with the key alone
    assert f"topic {LEAD_EVENTS.name}" not in {f.where for f in topics}
    for finding in tables:
        _, service, _, table = finding.where.replace(",", "").split(" ")
        assert sources.get(f"{service}.{table}"), f"{finding.where} is not in the export"
    for finding in topics:
        assert finding.where.removeprefix("topic ") in named_topics, finding.where
    for what in {w for f in found for w in f.found}:
        assert any(s in text for s in traces.values[what]), f"{what} is not in the export"
    assert other_email not in text
    # each part names where it came from; the widened subject names the master customer
    assert person["number"] in export["found_by"]["customer_numbers"]
    assert [r["customer_number"] for r in sources["customer-matching.customers"]] == [
        person["number"]
    ]
    assert [r["phone"] for r in sources["notifier.sms_opt_outs"]] == [person["mobile"]]
    assert {r["lead_id"] for r in sources["notifier.notifications"]} == {
        export["found_by"]["lead_ids"][0]
    }


async def check_the_erasure(
    manager: str,
    bus: KafkaBroker,
    branch: str,
    officer: str,
    booked: dict[str, Any],
    person: dict[str, str],
    other_email: str,
    bootstrap: str,
    database_urls: dict[str, str],
) -> None:
    """Refused while the appointment is to come; once the DMS deleted it, no table of any
    service and no dead-letter topic holds the person, the other person's lead, dead letter
    and the branch's figures are as they were, and the answer says what it does not reach
    yet (the lead events, the work topics)."""
    # a booking of each that lead-intake dead-letters (an e-mail address that is none)
    await dead_letter(bus, branch, f"{person['email']} <{person['last']}>", bootstrap)
    await dead_letter(bus, branch, f"{other_email} <Anders>", bootstrap)
    auth = {"Authorization": f"Bearer {officer}"}
    advisor = {"Authorization": f"Bearer {booked['advisor']}"}
    async with httpx.AsyncClient(base_url=manager, timeout=60) as http:
        erase = partial(http.post, "/api/v1/privacy/erase", params={"email": person["email"]})
        r = await http.post("/api/v1/privacy/erase", headers=auth)  # naming no one
        assert (r.status_code, r.json()["code"]) == (422, "SUBJECT_MISSING")
        r = await erase(headers=auth)
        assert (r.status_code, r.json()["code"]) == (409, "OPEN_LEADS")
        open_leads = r.json()["params"]["leads"]
        assert booked["lead_id"] in open_leads
        assert booked["second"] in open_leads
        assert booked["other"] not in open_leads  # only the cash sale's number in common

        for appointment in (booked["appointment_id"], booked["second_appointment_id"]):
            deleted = AppointmentDeleted(
                appointment_id=appointment, branch_id=branch, deleted_at=datetime.now(UTC)
            )
            await publish(bus, deleted, topic=DMS_APPOINTMENTS, key=str(appointment), source="/dms")
        lead = f"/api/v1/leads/{booked['lead_id']}"
        async with asyncio.timeout(30):
            for path in (lead, f"/api/v1/leads/{booked['second']}"):
                while (await http.get(path, headers=advisor)).json()["status"] != "CANCELLED":
                    await asyncio.sleep(0.2)
        await wait_projected(bootstrap, database_urls["lead-manager"])
        insight = f"/api/v1/branches/{branch}/insight"
        figures = (await http.get(insight, headers=advisor)).json()
        other_before = (await http.get(f"/api/v1/leads/{booked['other']}", headers=advisor)).json()

        # customer-matching's replies are cut where no one waits for them any more
        waited = booked["asked_at"] + REPLIES_WAITED - datetime.now(UTC)
        await asyncio.sleep(max(0.0, waited.total_seconds()))
        async with TopicTail(bootstrap, LEAD_EVENTS.name, DMS_CUSTOMERS.name) as told:
            r = await erase(headers=auth)
            assert r.status_code == 200, r.text
            done = r.json()
            # the pages and the DMS are told: each lead anonymised, the DMS's customer to go
            async with asyncio.timeout(60):
                while not dms_erased(told.records, person["number"]):
                    await asyncio.sleep(0.2)
        anonymised = [
            decode(r.headers, r.value or b"").message
            for r in told.records
            if r.topic == LEAD_EVENTS.name
        ]
        assert {str(m.lead_id) for m in anonymised} == {booked["lead_id"], booked["second"]}
        assert all(isinstance(m, LeadAnonymised) for m in anonymised)
        assert {n for m in anonymised for n in m.customer_numbers} == {person["number"]}
        erased = {k: v for c in done["services"] for k, v in c["rows"].items()}
        assert erased["lead-manager.leads"] == 2
        assert erased["lead-manager.lead_keys"] == 2
        assert erased["customer-matching.customers"] == 1
        assert erased["notifier.sms_opt_outs"] == 1
        assert erased[PORTAL_BOOKINGS.dlq] == 1
        assert erased[MATCHING_REPLIES.name] >= 1
        assert not [line for line in done["not_yet"] if LEAD_EVENTS.name in line]

        after = (await http.get(lead, headers=advisor)).json()
        customer = after["customer"]
        assert (after["status"], customer["last_name"]) == ("CANCELLED", "(gelöscht)")
        assert (customer["first_name"], customer["email"], customer["mobile"]) == (None,) * 3
        assert after["vehicle"]["vin"] is None
        assert (await http.get(insight, headers=advisor)).json() == figures
        other_after = (await http.get(f"/api/v1/leads/{booked['other']}", headers=advisor)).json()
        assert other_after == other_before
        # asked again: nothing left to find, nothing breaks
        r = await erase(headers=auth)
        assert r.status_code == 200, r.text

    # no table and no topic holds the person readably: the work topics cut at what every
    # group had read, the replies by time, the dead letters rewritten, the lead events'
    # personal fields sealed with keys that are gone
    found = await scan(traces_of(person), databases=database_urls, bootstrap=bootstrap)
    assert [f.where for f in found] == []
    others = await scan(Traces.of(email=other_email), databases=database_urls, bootstrap=bootstrap)
    assert {"database lead-manager, table leads", f"topic {PORTAL_BOOKINGS.dlq}"} <= {
        f.where for f in others
    }


def dms_erased(records: list[Any], number: str) -> bool:
    """Whether the DMS published the deletion of customer ``number``."""
    for r in records:
        if r.topic == DMS_CUSTOMERS.name and r.key == number.encode():
            message = decode(r.headers, r.value or b"").message
            if message.change is MasterChange.DELETE:
                return True
    return False


async def dead_letter(bus: KafkaBroker, branch: str, email: str, bootstrap: str) -> None:
    """A portal booking lead-intake refuses, holding ``email``; back once dead-lettered."""
    booking = BookingSubmitted(
        booking_id=f"PX-{uuid.uuid4().hex[:10]}",
        branch_id=branch,
        submitted_at=datetime.now(UTC),
        requested_start=datetime.now(UTC) + timedelta(days=3),
        customer=PortalCustomer(last_name="Anders", email="x@example.de"),
    )
    record = encode(booking, key=booking.booking_id, source="/e2e/portal")
    body = json.loads(record.value)
    body["branch_id"] = email  # not a branch id: refused
    async with TopicTail(bootstrap, PORTAL_BOOKINGS.dlq) as letters:
        await bus.publish(
            json.dumps(body).encode(),
            topic=PORTAL_BOOKINGS.name,
            key=record.key,
            headers=record.headers,
        )
        async with asyncio.timeout(30):
            while not any(r.key == record.key for r in letters.records):
                await asyncio.sleep(0.1)


async def book_and_decide(
    intake: str, manager: str, notifier: str, branch: str, person: dict[str, str], other: str
) -> tuple[str, dict[str, Any]]:
    """The person's booking identified as the master customer and scheduled with an e-mail
    confirmation, their STOP by SMS; another person's booking. The privacy officer's token,
    and what was booked (the leads, the appointment, the advisor's token)."""
    now = datetime.now(UTC).replace(microsecond=0)
    admin = issue_token(
        SECRET,
        user="anna",
        name="Anna",
        branches={branch: [Permission.LEAD_MANAGER, Permission.OSB_ADMIN]},
    )
    auth = {"Authorization": f"Bearer {admin}"}

    def booking(email: str, last: str) -> dict[str, Any]:
        return BookingSubmitted(
            booking_id=f"PX-{uuid.uuid4().hex[:10]}",
            branch_id=branch,
            submitted_at=now,
            requested_start=now + timedelta(days=4),
            customer=PortalCustomer(
                first_name=person["first"],
                last_name=last,
                email=email,
                mobile=person["mobile"] if last == person["last"] else None,
                address=PortalAddress(street="Lindenallee", house_number="3", postcode="20095"),
            ),
            vehicle=PortalVehicle(vin=person["vin"] if last == person["last"] else None),
        ).model_dump(mode="json")

    async with httpx.AsyncClient(timeout=30) as http:
        settings = {
            "name": "Autohaus Hell",
            "acceptors": [{"id": "anna", "name": "Anna Albers"}],
            "sms_enabled": True,
            "cash_sale_customer_number": f"BAR{branch}",
            "duplicate_criteria": ["ADDRESS", "EMAIL"],
        }
        r = await http.put(
            f"{manager}/api/v1/branches/{branch}/settings", json=settings, headers=auth
        )
        assert r.status_code == 200, r.text
        leads = []
        for email, last in ((person["email"], person["last"]), (other, "Anders")):
            r = await http.post(f"{intake}/api/v1/bookings", json=booking(email, last))
            assert r.status_code == 202, r.text
            leads.append(r.json()["lead_id"])
        for lead in leads:
            async with asyncio.timeout(30):
                while (
                    await http.get(f"{manager}/api/v1/leads/{lead}", headers=auth)
                ).status_code != 200:
                    await asyncio.sleep(0.1)
        async with asyncio.timeout(60):
            while True:  # the replica has the master customer once it is among the candidates
                r = await http.get(
                    f"{manager}/api/v1/leads/{leads[0]}/identification", headers=auth
                )
                assert r.status_code == 200, r.text
                if person["number"] in r.text:
                    break
                await asyncio.sleep(0.5)
        start = (now + timedelta(days=4)).replace(hour=9, minute=0, second=0)
        r = await http.post(
            f"{manager}/api/v1/leads/{leads[0]}/schedule",
            json={
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "acceptor": "anna",
                "confirmation": "EMAIL",
                "customer": {"choice": "EXISTING", "customer_number": person["number"]},
            },
            headers=auth,
        )
        assert r.status_code == 200, r.text
        appointment_id = r.json()["appointment_id"]
        # a second booking of the person and the other person's, both paid cash: the cash
        # sale's customer number is the branch's and must not lead from one to the other
        r = await http.post(
            f"{intake}/api/v1/bookings", json=booking(person["email"], person["last"])
        )
        assert r.status_code == 202, r.text
        second = r.json()["lead_id"]
        async with asyncio.timeout(30):
            while (
                await http.get(f"{manager}/api/v1/leads/{second}", headers=auth)
            ).status_code != 200:
                await asyncio.sleep(0.1)
        cash = {}
        for lead in (second, leads[1]):
            r = await http.post(
                f"{manager}/api/v1/leads/{lead}/schedule",
                json={
                    "start": (start + timedelta(hours=2)).isoformat(),
                    "end": (start + timedelta(hours=3)).isoformat(),
                    "acceptor": "anna",
                    "customer": {"choice": "CASH_SALE"},
                },
                headers=auth,
            )
            assert r.status_code == 200, r.text
            cash[lead] = r.json()["appointment_id"]
        async with asyncio.timeout(60):
            while not (await http.get(f"{manager}/api/v1/leads/{leads[0]}", headers=auth)).json()[
                "notifications"
            ]:
                await asyncio.sleep(0.2)
        r = await http.post(
            f"{notifier}/api/v1/sms/replies",
            json={"from": person["mobile"], "text": "STOP"},
            headers={"Authorization": f"Bearer {REPLY_TOKEN}"},
        )
        assert r.status_code == 200, r.text

        # without the privacy officer's permission: refused
        r = await http.get(
            f"{manager}/api/v1/privacy/export", params={"email": person["email"]}, headers=auth
        )
        assert (r.status_code, r.json()["code"]) == (403, "PERMISSION_MISSING")
    officer = issue_token(
        SECRET,
        user="dora",
        name="Dora Datenschutz",
        branches={branch: [Permission.PRIVACY_OFFICER]},
    )
    booked = {
        "asked_at": datetime.now(UTC),  # customer-matching's last reply is older
        "lead_id": leads[0],
        "other": leads[1],
        "appointment_id": appointment_id,
        "second": second,
        "second_appointment_id": cash[second],
        "advisor": admin,
    }
    return officer, booked


def export_by_the_cli(manager: str, token: str, email: str, folder: Path) -> dict[str, Any]:
    out = folder / "export.json"
    result = CliRunner().invoke(
        osb,
        [
            "privacy",
            "export",
            "--email",
            email,
            "--url",
            manager,
            "--token",
            token,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return document
