"""The advisor's web page in a real headless Chromium against the running services.

lead-intake, lead-manager, customer-matching and the notifier run as processes on the real
broker and database; e-mail goes to a real SMTP server, SMS to the local gateway. Each test
works in branches of its own, so the counts it sees are its own. With OSB_SCREENSHOTS set to a
folder, the main screens are saved there (``make screenshots`` writes docs/screenshots).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from faststream.kafka import KafkaBroker
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from lead_manager.service.deadlines import lapse_all_offers, send_all_reminders
from osb_contracts import decode
from osb_contracts.customers import CustomerMasterUpdateRequested, CustomerRegistered
from osb_contracts.dms import AppointmentDeleted, CustomerArrived
from osb_contracts.leads import (
    AppointmentCreated,
    LeadCancelledByCustomer,
    LeadOverdue,
    LeadRejected,
    LeadRequested,
    LeadRescheduleRequested,
    VehicleCase,
)
from osb_contracts.portal import BookingSubmitted, PortalCustomer, PortalVehicle
from osb_contracts.topics import (
    CUSTOMER_EVENTS,
    DMS_APPOINTMENTS,
    LEAD_EVENTS,
    LEAD_REQUESTS,
    PORTAL_BOOKINGS,
)
from osb_contracts.values import Address, Customer, Vehicle
from osb_local_infra.mailsink import MailSink
from osb_local_infra.smssink import SmsSink
from osb_platform import make_broker, publish
from osb_platform.db import make_engine
from osb_platform.keys import Keyring
from osb_platform.service import utc_now
from osb_testing.browser import chromium
from osb_testing.dms import a_vin, letters, master_customer, publish_customer, publish_vehicle
from osb_testing.insight import publish_history, seeded_history, wait_projected
from osb_testing.kafka import TopicTail, header
from osb_testing.mail import Smtp, serving_sms_sink
from osb_testing.processes import ServiceProcess
from osb_testing.system import PRIVACY_TOKEN, lead_system, matching_process, notifier_process
from playwright.async_api import Browser, Locator, Page, expect
from pydantic import SecretStr
from sqlalchemy import text as sql

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
SECRET = "web-page-test-secret-of-32-characters!"
WAIT_MS = 20_000
MAX_BRANCHES = 40
SMS_REPLY_TOKEN = "e2e-sms-gateway"
SHOTS = os.environ.get("OSB_SCREENSHOTS")


@dataclass
class Web:
    url: str
    run: str
    http: httpx.AsyncClient
    bus: KafkaBroker
    tail: TopicTail
    mail: MailSink
    sms: SmsSink
    browser: Browser
    portal_branch: str
    notifier: str  # the notifier's URL (the SMS gateway's replies)
    branches: int = 0
    pages: list[Page] = field(default_factory=list)

    def token(self, branch: str, *permissions: Permission, user: str = "anna") -> str:
        perms = permissions or (Permission.LEAD_MANAGER, Permission.OSB_ADMIN)
        return issue_token(SECRET, user=user, name="Anna Albers", branches={branch: list(perms)})

    def auth(self, branch: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(branch)}"}

    async def branch(
        self,
        *,
        sms: bool = False,
        acceptors: list[dict[str, Any]] | None = None,
        branch_id: str | None = None,
        escalation: str | None = None,
    ) -> str:
        """OSB settings for a new branch of this run (or ``branch_id``); its id."""
        self.branches += 1
        assert self.branches <= MAX_BRANCHES
        branch = branch_id or f"W{self.run}{self.branches}"
        settings = {
            "name": f"Autohaus Test {self.branches}",
            "acceptors": [{"id": "anna", "name": "Anna Albers"}]
            if acceptors is None
            else acceptors,
            "sms_enabled": sms,
            "cash_sale_customer_number": f"BAR{self.run}",
            "duplicate_criteria": ["ADDRESS", "EMAIL"],
            "escalation_email": escalation,
        }
        r = await self.http.put(
            f"/api/v1/branches/{branch}/settings", json=settings, headers=self.auth(branch)
        )
        assert r.status_code == 200, r.text
        return branch

    async def lead(
        self,
        branch: str,
        last: str | None = None,
        *,
        number: str | None = None,
        vin: str | None = None,
        address: Address | None = None,
        mobile: str | None = "+4915112345678",
        birth_date: date | None = None,
        start: datetime | None = None,
        received: datetime | None = None,
    ) -> LeadRequested:
        last = last or "Zq" + letters()
        now = datetime.now(UTC)
        request = LeadRequested(
            lead_id=uuid.uuid4(),
            booking_id=f"WEB-{uuid.uuid4().hex[:8]}",
            branch_id=branch,
            received_at=received or now,
            requested_start=start or now + timedelta(days=3),
            services=("Inspektion",),
            customer=Customer(
                customer_number=number,
                salutation="Herr",
                first_name="Juergen",
                last_name=last,
                email=f"{last.lower().translate(ASCII)}@neu.example.de",
                mobile=mobile,
                birth_date=birth_date,
                address=address or Address(street="Hauptstr.", house_number="5", postcode="20095"),
            ),
            vehicle=Vehicle(vin=vin, licence_plate="HH-NEU 7", make="Skoda", model="Octavia"),
        )
        await publish(
            self.bus, request, topic=LEAD_REQUESTS, key=str(request.lead_id), source="/lead-intake"
        )
        async with asyncio.timeout(30):
            while (
                await self.http.get(f"/api/v1/leads/{request.lead_id}", headers=self.auth(branch))
            ).status_code != 200:
                await asyncio.sleep(0.05)
        return request

    async def master(self, branch: str) -> tuple[str, str, Customer]:
        """A master customer the matching index knows: (number, surname, master data)."""
        last = "Zq" + letters()
        number = f"K{uuid.uuid4().hex[:7].upper()}"
        master = master_customer(number, last)
        await publish_customer(self.bus, master)
        probe = await self.lead(branch, last)
        async with asyncio.timeout(30):
            while True:
                r = await self.http.get(
                    f"/api/v1/leads/{probe.lead_id}/identification", headers=self.auth(branch)
                )
                assert r.status_code == 200, r.text
                if any(c["customer_number"] == number for c in r.json()["candidates"]):
                    return number, last, master
                await asyncio.sleep(0.1)

    async def schedule_cash_sale(
        self,
        branch: str,
        lead: LeadRequested,
        start: datetime | None = None,
        acceptor: str = "anna",
        confirmation: str = "NONE",
    ) -> dict[str, Any]:
        """The lead as an appointment, by another advisor through the API."""
        start = start or datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
        body = {
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "acceptor": acceptor,
            "confirmation": confirmation,
            "customer": {"choice": "CASH_SALE"},
        }
        r = await self.http.post(
            f"/api/v1/leads/{lead.lead_id}/schedule", json=body, headers=self.auth(branch)
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def vehicle(self, vin: str, owner: str) -> None:
        await publish_vehicle(self.bus, vin, owner)

    async def open(self, token: str, page: Page | None = None, *, locale: str = "de-DE") -> Page:
        """The page signed in with ``token`` (in a new browser unless ``page`` is given)."""
        if page is None:
            context = await self.browser.new_context(
                viewport={"width": 1366, "height": 768},
                locale=locale,
                timezone_id="Europe/Berlin",
            )
            page = await context.new_page()
            self.pages.append(page)
        await page.goto(f"{self.url}/#token={token}")
        await expect(page.locator("#app")).to_be_visible(timeout=WAIT_MS)
        await expect(page.locator("#list-status")).not_to_be_empty(timeout=WAIT_MS)
        return page

    async def event(self, topic: str, key: str, kind: type[Any]) -> Any:
        """The last ``kind`` event on ``topic`` under ``key``."""
        records = await self.tail.wait_for(
            lambda r: (
                r.topic == topic
                and r.key == key.encode()
                and header(r, "ce_type") == kind.cloudevents_type()
            ),
            timeout=30,
        )
        envelope = decode(records[-1].headers, records[-1].value, records[-1].key)
        # a lead event's personal fields are sealed: opened with the lead's key, as the
        # notifier and the DMS open them
        keyring = Keyring(self.url, SecretStr(PRIVACY_TOKEN))
        try:
            (opened,) = await keyring.open([envelope])
        finally:
            await keyring.close()
        assert opened.sealed is None
        return opened.message

    async def confirmed_by_mail(
        self, *, days: int
    ) -> tuple[str, LeadRequested, dict[str, Any], Any]:
        """A new branch's lead scheduled ``days`` ahead with an e-mail confirmation:
        (branch, lead, appointment, the confirmation as received)."""
        branch = await self.branch()
        lead = await self.lead(branch)
        start = datetime.now(UTC).replace(microsecond=0, second=0) + timedelta(days=days)
        booked = await self.schedule_cash_sale(branch, lead, start, confirmation="EMAIL")
        mail = await self.mail_to(lead.customer.email or "", "Ihr Werkstatttermin am")
        return branch, lead, booked, mail

    async def mail_to(self, address: str, subject: str) -> Any:
        """The e-mail to ``address`` whose subject has ``subject``, once it is there."""

        def found() -> list[Any]:
            return [
                m
                for m in self.mail.messages
                if m["To"] == address and subject in (m["Subject"] or "")
            ]

        await self.until(lambda: bool(found()), f"the mail {subject!r} to {address}")
        return found()[-1]

    async def mail_in_browser(self, mail: Any) -> Page:
        """The e-mail's HTML part as a mail program shows it, for its links to be clicked."""
        html = mail.get_body(("html",))
        assert html is not None
        context = await self.browser.new_context(locale="de-DE", timezone_id="Europe/Berlin")
        page = await context.new_page()
        self.pages.append(page)
        await page.set_content(html.get_content())
        return page

    async def until(self, check: Callable[[], bool], what: str, timeout: float = 30) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not check():
                    await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"waited {timeout} s for {what}") from None


async def submit(page: Page, form: Locator, button: str, success: str) -> None:
    """Click ``button``; wait for ``success`` in the notice, failing with the form's error."""
    await form.get_by_role("button", name=button).click()
    notice, error = page.locator("#notice"), form.locator(".error")
    try:
        async with asyncio.timeout(WAIT_MS / 1000):
            while success not in "".join(await notice.all_text_contents()):
                # all_text_contents does not wait: the form goes away when it succeeds.
                if problem := "".join(await error.all_text_contents()):
                    raise AssertionError(f"the form says: {problem}")
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"no {success!r}; the notice: {await notice.text_content()}") from None


async def shot(page: Page, name: str) -> None:
    if SHOTS:  # Playwright makes the folder
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.fixture(scope="module")
async def web(kafka_bootstrap_servers: str, database_urls: dict[str, str]) -> AsyncIterator[Web]:
    run = uuid.uuid4().hex[:6].upper()
    portal_branch = f"P{run}"
    smtp = Smtp()
    processes: list[ServiceProcess] = []
    async with serving_sms_sink() as (sms, sms_url):
        system = await lead_system(
            run.lower(),
            bootstrap=kafka_bootstrap_servers,
            database_urls=database_urls,
            jwt_secret=SECRET,
            extra_env={
                "LEAD_INTAKE_BRANCHES": json.dumps({portal_branch: {"country": "DE"}}),
                "LEAD_MANAGER_OVERDUE_SCAN_S": "1",  # overdue leads reported within a second
            },
        )
        matching = await matching_process(
            run.lower(),
            bootstrap=kafka_bootstrap_servers,
            database_url=database_urls["customer-matching"],
            extra_env={"CUSTOMER_MATCHING_NUMBER_PREFIX": f"N{run}"},
        )
        # The notifier's own channel settings for the branches the tests will create.
        channels = {
            f"W{run}{n}": {
                "name": f"Autohaus Test {n}",
                "sender": f"service@w{n}.example",
                "sms_enabled": True,
            }
            for n in range(1, MAX_BRANCHES + 1)
        }
        notifier = await notifier_process(
            run.lower(),
            bootstrap=kafka_bootstrap_servers,
            database_url=database_urls["notifier"],
            smtp_port=smtp.port,
            sms_gateway_url=sms_url,
            lead_manager=system.manager,
            extra_env={
                "NOTIFIER_BRANCHES": json.dumps(channels),
                # the customers' links lead to this run's lead-intake
                "NOTIFIER_CUSTOMER_LINK_BASE_URL": system.intake.url,
                "NOTIFIER_SMS_REPLY_TOKEN": SMS_REPLY_TOKEN,
            },
        )
        processes = [system.intake, system.manager, matching, notifier]
        bus = make_broker(kafka_bootstrap_servers, client_id="test-web")
        try:
            await asyncio.gather(*(p.start() for p in processes))
            await bus.start()
            async with (
                httpx.AsyncClient(base_url=system.manager.url, timeout=30) as http,
                TopicTail(kafka_bootstrap_servers, LEAD_EVENTS.name, CUSTOMER_EVENTS.name) as tail,
                chromium() as browser,
            ):
                yield Web(
                    system.manager.url,
                    run,
                    http,
                    bus,
                    tail,
                    smtp.sink,
                    sms,
                    browser,
                    portal_branch,
                    notifier.url,
                )
        finally:
            await bus.stop()
            for p in processes:
                p.stop()
            if smtp.controller is not None:
                smtp.controller.stop()


async def test_a_portal_booking_appears_in_the_list_without_a_reload(web: Web) -> None:
    branch = await web.branch(branch_id=web.portal_branch)
    page = await web.open(web.token(branch))
    await expect(page.locator("#rows")).to_contain_text("Keine Terminleads")
    await expect(page.locator("#counter")).to_have_text("0")

    # The refresh interval is a local setting: two seconds here.
    await local_refresh(page, 2)
    await page.evaluate("window.loadedOnce = true")

    now = datetime.now(UTC)
    booking = BookingSubmitted(
        booking_id=f"WEB-{uuid.uuid4().hex[:8]}",
        branch_id=branch,
        submitted_at=now,
        requested_start=now + timedelta(days=4),
        services=("Ölwechsel",),
        customer=PortalCustomer(
            first_name="Lena", last_name="Portalkundin", email="lena.portal@example.de"
        ),
        vehicle=PortalVehicle(licence_plate="hh-lp 12"),
    )
    await publish(web.bus, booking, topic=PORTAL_BOOKINGS, key=booking.booking_id, source="/portal")

    row = page.locator("#rows tr[data-lead]", has_text=booking.booking_id)
    await expect(row).to_be_visible(timeout=WAIT_MS)
    await expect(row).to_contain_text("Lena Portalkundin")
    await expect(row.locator(".badge")).to_have_text("Neu")
    await expect(page.locator("#counter")).to_have_text("1")
    assert await page.evaluate("window.loadedOnce") is True, "the page was reloaded"


async def local_refresh(page: Page, seconds: int) -> None:
    await page.get_by_role("button", name="Lokale Einstellungen").click()
    await page.get_by_label("Aktualisierung alle").fill(str(seconds))
    await page.get_by_role("button", name="Speichern").click()


async def test_changes_by_others_and_the_dms_show_at_once_with_a_notice(web: Web) -> None:
    """Pushed, not polled: the refresh interval is an hour. Another advisor schedules the
    open lead, then the DMS deletes the appointment; the row, the open detail, the counter
    and the heading follow together, and the deletion is said in a notice."""
    branch = await web.branch()
    lead = await web.lead(branch)
    name = f"Juergen {lead.customer.last_name}"
    page = await web.open(web.token(branch))
    await local_refresh(page, 3600)
    await expect(page.locator("#live")).to_have_attribute("data-live", "on", timeout=WAIT_MS)
    await page.get_by_role("button", name=name).click()
    row = page.locator(f'#rows tr[data-lead="{lead.lead_id}"]')
    title = page.locator("#detail-title")
    await expect(title.locator(".badge")).to_have_text("Neu")
    await expect(page.locator("#counter")).to_have_text("1")

    appointment = await web.schedule_cash_sale(branch, lead)
    await expect(row.locator(".badge")).to_have_text("Geplant", timeout=5000)
    await expect(title.locator(".badge")).to_have_text("Geplant")
    await expect(page.locator("#counter")).to_have_text("0")

    deleted = AppointmentDeleted(
        appointment_id=appointment["appointment_id"], branch_id=branch, deleted_at=datetime.now(UTC)
    )
    await publish(
        web.bus, deleted, topic=DMS_APPOINTMENTS, key=str(deleted.appointment_id), source="/dms"
    )
    await expect(row.locator(".badge")).to_have_text("Storniert", timeout=5000)
    await expect(title.locator(".badge")).to_have_text("Storniert")
    await expect(page.locator("#list-status")).to_have_text("(1)")
    alert = page.locator("#alerts li")
    await expect(alert).to_have_text(
        re.compile(f"Termin im DMS gelöscht: Der Lead von {name} ist jetzt storniert.")
    )
    await shot(page, "live-notice")
    await alert.get_by_role("button", name="Lead öffnen").click()
    await expect(alert).to_have_count(0)
    await expect(title).to_contain_text(name)


async def test_without_the_live_stream_aktualisieren_refreshes_list_detail_and_heading(
    web: Web,
) -> None:
    """The fallback: no stream (refused here), so the page polls and "Aktualisieren" brings
    the list, the open detail and the heading up to date together."""
    branch = await web.branch()
    lead = await web.lead(branch)
    context = await web.browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    web.pages.append(page)
    await page.route("**/api/v1/lead-events*", lambda route: route.abort())
    await web.open(web.token(branch), page)
    await expect(page.locator("#live")).to_have_attribute("data-live", "off")
    await local_refresh(page, 3600)
    await page.locator("#filters [name=status]").select_option("NEW")
    await expect(page.locator("#list-status")).to_have_text("(1)")
    await page.get_by_role("button", name=f"Juergen {lead.customer.last_name}").click()

    rejected = await web.http.post(
        f"/api/v1/leads/{lead.lead_id}/reject",
        json={"channel": "EMAIL", "text": "Leider ausgebucht.", "subject": "Ihr Termin"},
        headers=web.auth(branch),
    )
    assert rejected.status_code == 200, rejected.text
    await page.get_by_role("button", name="Aktualisieren").click()
    await expect(page.locator("#rows")).to_contain_text("Keine Terminleads")
    await expect(page.locator("#list-status")).to_have_text("(0)")
    await expect(page.locator("#detail-title .badge")).to_have_text("Abgelehnt")
    await expect(page.locator("#counter")).to_have_text("0")


async def test_the_servicetermin_manager_shows_the_day_and_week_per_acceptor(web: Web) -> None:
    """Appointments per acceptor in a day and a week; new leads as tentative entries only
    with the local setting; an entry opens its lead beside it, in the panel's width; a DMS
    deletion takes the appointment off at once."""
    acceptors = [{"id": "anna", "name": "Anna Albers"}, {"id": "bernd", "name": "Bernd Brandt"}]
    branch = await web.branch(acceptors=acceptors)
    berlin = ZoneInfo("Europe/Berlin")
    day = (datetime.now(berlin) + timedelta(days=8)).date()

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), berlin)

    annas, bernds = await web.lead(branch), await web.lead(branch)
    new = await web.lead(branch, start=at(14))
    booked = await web.schedule_cash_sale(branch, annas, at(9), "anna")
    await web.schedule_cash_sale(branch, bernds, at(11, 30), "bernd")
    page = await web.open(web.token(branch))

    await page.get_by_role("button", name="Servicetermin Manager", exact=True).click()
    overview = page.locator("#overview")
    await overview.get_by_label("Datum").fill(day.strftime("%d.%m.%Y"))
    await overview.get_by_label("Datum").press("Enter")
    await expect(page.locator("#overview-title")).to_contain_text(day.strftime("%d.%m.%Y"))
    heads = page.locator("#overview-body .column-head")
    await expect(heads).to_have_text(["Anna Albers", "Bernd Brandt"])
    annas_entry = page.locator(f'#overview-body [data-open="{annas.lead_id}"]')
    await expect(annas_entry).to_contain_text(f"09:00–10:00 Juergen {annas.customer.last_name}")
    assert "grid-column: 2" in (await annas_entry.get_attribute("style") or "")
    bernds_entry = page.locator(f'#overview-body [data-open="{bernds.lead_id}"]')
    await expect(bernds_entry).to_contain_text("11:30–12:30")
    assert "grid-column: 3" in (await bernds_entry.get_attribute("style") or "")
    new_entry = page.locator(f'#overview-body [data-open="{new.lead_id}"]')
    await expect(new_entry).to_have_count(0)  # the local setting is off

    await overview.get_by_label("Neue Leads anzeigen").check()
    await expect(new_entry).to_contain_text("14:00–15:00")
    await expect(new_entry).to_contain_text("vorläufig: Neu")
    await expect(heads.last).to_have_text("Neue Leads")
    await shot(page, "servicetermin-manager-day")

    await overview.get_by_label("Woche").check()
    weekday = day.weekday() + 2  # the acceptor's name, then Monday
    annas_row = page.locator('#overview-body tr[data-acceptor="anna"]')
    await expect(annas_row.locator(f"td:nth-child({weekday})")).to_contain_text(
        annas.customer.last_name
    )
    await expect(page.locator('#overview-body tr[data-acceptor=""]')).to_contain_text(
        new.customer.last_name
    )
    await shot(page, "servicetermin-manager-week")

    # the panel's width is the local setting, here too
    await page.get_by_role("button", name="Lokale Einstellungen").click()
    await page.locator("[name=panelWidth]").evaluate("(input) => { input.value = 640; }")
    await page.get_by_role("button", name="Speichern").click()
    await page.locator(f'#overview-body [data-open="{new.lead_id}"]').click()
    await expect(page.locator("#detail-title")).to_contain_text(new.customer.last_name)
    await expect(page.locator("#detail [data-action=schedule]")).to_be_visible()
    box = await page.locator("#detail").bounding_box()
    assert box is not None
    assert round(box["width"]) == 640

    await overview.get_by_label("Tag").check()
    deleted = AppointmentDeleted(
        appointment_id=booked["appointment_id"], branch_id=branch, deleted_at=datetime.now(UTC)
    )
    await publish(
        web.bus, deleted, topic=DMS_APPOINTMENTS, key=str(deleted.appointment_id), source="/dms"
    )
    await expect(annas_entry).to_have_count(0, timeout=5000)
    await expect(bernds_entry).to_be_visible()


async def test_ten_open_leads_read_9_plus_and_the_live_search_narrows_the_list(web: Web) -> None:
    branch = await web.branch()
    leads = [await web.lead(branch) for _ in range(9)]
    page = await web.open(web.token(branch))
    await expect(page.locator("#counter")).to_have_text("9")
    await expect(page.locator("#rows tr[data-lead]")).to_have_count(9)

    tenth = await web.lead(branch)
    await page.get_by_role("button", name="Aktualisieren").click()
    await expect(page.locator("#counter")).to_have_text("9+")
    await expect(page.locator("#rows tr[data-lead]")).to_have_count(10)
    await page.locator(f"button[data-open='{leads[0].lead_id}']").click()
    await expect(page.locator("#detail h2")).to_contain_text(leads[0].customer.last_name)
    await shot(page, "lead-list")

    # The live search as one types: part of the surname, then the booking reference.
    search = page.get_by_label("Suche")
    await search.press_sequentially(tenth.customer.last_name[:7].lower(), delay=20)
    await expect(page.locator("#rows tr[data-lead]")).to_have_count(1)
    await expect(page.locator("#rows")).to_contain_text(tenth.booking_id)
    await search.fill(leads[3].booking_id)
    await expect(page.locator("#rows tr[data-lead]")).to_have_count(1)
    await expect(page.locator("#rows")).to_contain_text(leads[3].customer.last_name)

    # The status criterion: no rejected leads here.
    await search.fill("")
    await page.get_by_label("Status").select_option(label="Abgelehnt")
    await expect(page.locator("#rows")).to_contain_text("Keine Terminleads")


async def test_the_search_finds_names_without_umlauts_and_phones_typed_nationally(
    web: Web,
) -> None:
    branch = await web.branch()
    unique = letters()
    baehr = await web.lead(branch, f"Bähr{unique}")
    mueller = await web.lead(branch, f"Müller{unique}", mobile="+4915163428001")
    await web.lead(branch)  # one found by neither
    page = await web.open(web.token(branch))
    search, rows = page.get_by_label("Suche"), page.locator("#rows tr[data-lead]")
    await expect(rows).to_have_count(3)
    for typed, found in (
        (f"Baehr{unique}", baehr),
        (f"Bahr{unique}", baehr),
        (f"Mueller{unique}", mueller),
        (f"Muller{unique}", mueller),
        (f"MÜLLER{unique}", mueller),
        ("0151 63428001", mueller),  # stored as +4915163428001
        ("0151/634 280 01", mueller),
        ("+49 151 63428001", mueller),
    ):
        await search.fill(typed)
        await expect(rows).to_have_count(1)
        await expect(page.locator("#rows")).to_contain_text(found.booking_id)


async def test_reject_through_the_sms_submenu_when_sms_is_enabled(web: Web) -> None:
    branch = await web.branch(sms=True)
    mobile = f"+49151{uuid.uuid4().int % 10**8:08d}"  # its own: the customer answers STOP
    lead = await web.lead(branch, mobile=mobile)
    page = await web.open(web.token(branch))
    await page.get_by_role("button", name="Lokale Einstellungen").click()
    await page.get_by_label("Aktualisierung alle").fill("2")
    await page.get_by_role("button", name="Speichern").click()
    await page.locator(f"button[data-open='{lead.lead_id}']").click()

    reject = page.get_by_role("button", name="Ablehnen", exact=True)
    await expect(reject).to_have_attribute("aria-haspopup", "menu")
    await reject.click()
    await expect(page.get_by_role("menuitem", name="mit E-Mail-Bestätigung")).to_be_visible()
    await page.get_by_role("menuitem", name="mit SMS-Bestätigung").click()

    text = page.get_by_role("textbox", name="Text", exact=True)
    await expect(text).to_have_value(re.compile(f"^Autohaus Test {web.branches}: Ihr Terminwunsch"))
    await shot(page, "reject-sms")
    final = f"Autohaus Test: leider ausgebucht ({lead.booking_id})."
    await text.fill(final)
    await page.get_by_role("button", name="Ablehnen und senden").click()

    await expect(page.locator("#detail h2 .badge")).to_have_text("Abgelehnt", timeout=WAIT_MS)
    await web.until(
        lambda: any(m["text"] == final for m in web.sms.messages), "the SMS at the gateway"
    )
    (sent,) = [m for m in web.sms.messages if m["text"] == final]
    assert sent["to"] == mobile
    # The delivery status shows up in the open lead's detail, refreshed at the user's
    # interval, once the notifier has reported it.
    await page.locator("#search").focus()  # the refresh leaves a detail being worked in alone
    row = page.locator("table.notifications tbody tr")
    await expect(row).to_contain_text("SMS", timeout=WAIT_MS)
    await expect(row).to_contain_text("zugestellt")

    # Erneut senden: the notifier sends the same text once more.
    await row.get_by_role("button", name="Erneut senden").click()
    await expect(page.locator("#notice")).to_contain_text("Erneuter Versand angefordert")
    await web.until(
        lambda: sum(m["text"] == final for m in web.sms.messages) == 2, "the SMS sent again"
    )

    # The customer answers STOP: sent again, the SMS is refused, and the page says why.
    r = await web.http.post(
        f"{web.notifier}/api/v1/sms/replies",
        json={"from": mobile, "text": "Stop"},
        headers={"Authorization": f"Bearer {SMS_REPLY_TOKEN}"},
    )
    assert r.json() == {"outcome": "OPTED_OUT"}, r.text
    await row.get_by_role("button", name="Erneut senden").click()
    await expect(row).to_contain_text(
        "fehlgeschlagen: Kunde hat SMS abbestellt (STOP).", timeout=WAIT_MS
    )
    await expect(page.locator("#detail .history li").first).to_contain_text(
        "Benachrichtigung fehlgeschlagen"
    )
    await expect(page.locator("#detail .history li").first.locator(".reason")).to_have_text(
        "Kunde hat SMS abbestellt (STOP)."
    )
    assert sum(m["text"] == final for m in web.sms.messages) == 2


async def reject_straight_by_e_mail(page: Page, lead: LeadRequested) -> Locator:
    """Open the lead and its reject dialog: "Ablehnen" is a button without a submenu and
    the dialog rejects by e-mail; the dialog."""
    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    reject = page.get_by_role("button", name="Ablehnen", exact=True)
    await expect(reject).not_to_have_attribute("aria-haspopup", "menu")
    await reject.click()
    await expect(page.get_by_role("menuitem")).to_have_count(0)
    dialog = page.locator("#reject-form")
    await expect(dialog.get_by_role("heading")).to_have_text("Ablehnen mit E-Mail-Bestätigung")
    return dialog


async def test_reject_goes_straight_to_e_mail_without_sms_and_the_mail_arrives(web: Web) -> None:
    branch = await web.branch(sms=False)
    lead = await web.lead(branch)
    page = await web.open(web.token(branch))
    await local_refresh(page, 3600)
    dialog = await reject_straight_by_e_mail(page, lead)
    text = dialog.get_by_role("textbox", name="Text", exact=True)
    await expect(text).to_have_value(re.compile("^Guten Tag Herr Juergen"))

    # Only rejection texts are offered; swapping one is free until the text is edited.
    options = dialog.get_by_label("Textbaustein").locator("option")
    await expect(options).to_have_text(["Ablehnung per E-Mail", "Ablehnung per SMS"])
    await dialog.get_by_label("Textbaustein").select_option("rejection_sms")
    text = page.locator("#reject-form").get_by_role("textbox", name="Text", exact=True)
    await expect(text).to_have_value(re.compile("ist leider nicht möglich"))
    await text.fill("Mein eigener Text")
    asked: list[str] = []

    async def decline(dialog: Any) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", decline)
    await page.locator("#reject-form").get_by_label("Textbaustein").select_option("rejection_email")
    await expect(text).to_have_value("Mein eigener Text")  # kept
    assert asked == ["Ihr geänderter Text geht verloren. Textbaustein trotzdem wechseln?"]
    await expect(page.locator("#reject-form").get_by_label("Textbaustein")).to_have_value(
        "rejection_sms"
    )

    async def accept(dialog: Any) -> None:
        await dialog.accept()

    page.once("dialog", accept)
    await page.locator("#reject-form").get_by_label("Textbaustein").select_option("rejection_email")
    text = page.locator("#reject-form").get_by_role("textbox", name="Text", exact=True)
    await expect(text).to_have_value(re.compile("leider können wir"))
    await shot(page, "reject-email")
    final = f"Guten Tag, leider ist die Werkstatt belegt. Ihre Buchung {lead.booking_id}."
    await text.fill(final)
    # the reason, from the branch's list, for the branch's figures (not for the customer)
    reason = page.locator("#reject-form").get_by_label("Ablehnungsgrund")
    await expect(reason.locator("option")).to_have_count(6)  # "ohne Angabe" and five
    await reason.select_option("Kein freier Termin")
    await page.get_by_role("button", name="Ablehnen und senden").click()
    await expect(page.locator("#notice")).to_contain_text("per E-Mail", timeout=WAIT_MS)
    rejected = await web.event(LEAD_EVENTS.name, str(lead.lead_id), LeadRejected)
    assert rejected.reason == "Kein freier Termin"
    # the delivery reaches the open detail live (the page's own refresh is an hour away)
    await expect(page.locator("#detail table.notifications")).to_contain_text(
        "zugestellt", timeout=WAIT_MS
    )

    def arrived() -> list[Any]:
        return [m for m in web.mail.messages if m["To"] == lead.customer.email]

    await web.until(lambda: bool(arrived()), "the rejection mail at the SMTP server")
    (mail,) = arrived()
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert final in body.get_content()
    assert mail["Subject"] == f"Ihr Terminwunsch bei Autohaus Test {web.branches}"


@dataclass
class Seeded:
    branch: str
    number: str
    last: str
    master: Customer


@pytest.fixture(scope="module")
async def seeded(web: Web) -> Seeded:
    branch = await web.branch(sms=True)
    number, last, master = await web.master(branch)
    return Seeded(branch, number, last, master)


async def master_chosen(web: Web, seeded: Seeded, lead: LeadRequested) -> tuple[Page, Locator]:
    """The page with the appointment dialog of ``lead`` open and the seeded master, found
    by the duplicate search, selected: (page, the dialog's form)."""
    page = await web.open(web.token(seeded.branch))
    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    await page.get_by_role("button", name="Als Termin anlegen").click()
    form = page.locator("#schedule-form")
    candidate = form.locator("table.candidates tbody tr", has_text=seeded.number)
    await expect(candidate).to_be_visible(timeout=WAIT_MS)
    await candidate.get_by_role("radio").check()
    return page, form


@pytest.mark.parametrize(
    "choice",
    [
        "Zusammenführen, Lead-Daten übernehmen",
        "Zusammenführen, Stammdaten übernehmen",
        "Neuer Kunde",
        "Barverkaufskunde",
    ],
)
async def test_each_choice_of_the_duplicate_dialog(web: Web, seeded: Seeded, choice: str) -> None:
    lead = await web.lead(seeded.branch, seeded.last)
    page, form = await master_chosen(web, seeded, lead)
    compare = form.locator(f"table.compare[data-compare='{seeded.number}']")
    await expect(compare).to_be_visible()
    # Side by side: the differing e-mail is highlighted, the same address is not.
    await expect(compare.locator("tr.differs", has_text="E-Mail")).to_contain_text(
        seeded.master.email or ""
    )
    await expect(compare.locator("tr.same", has_text="Adresse")).to_have_count(1)
    await expect(form.locator(SHOWN_CASE)).to_contain_text("Durchlauffahrzeug")

    await form.get_by_label(choice).check()
    apply = form.get_by_label("In Stammdaten übernehmen")
    if choice == "Zusammenführen, Lead-Daten übernehmen":
        await apply.check()
        await shot(page, "duplicate-dialog")
    else:
        await expect(apply).to_be_disabled()
    if choice == "Neuer Kunde":  # through the customer mask, as the lead filled it
        await form.get_by_role("button", name="Termin anlegen").click()
        await submit(page, form, "Kunde anlegen und Termin speichern", "Termin angelegt")
    else:
        await submit(page, form, "Termin anlegen", "Termin angelegt")
    await expect(page.locator("#detail h2 .badge")).to_have_text("Geplant")

    created = await web.event(LEAD_EVENTS.name, str(lead.lead_id), AppointmentCreated)
    customer = created.customer
    if choice == "Zusammenführen, Lead-Daten übernehmen":
        assert (customer.customer_number, customer.email) == (seeded.number, lead.customer.email)
        update = await web.event(CUSTOMER_EVENTS.name, seeded.number, CustomerMasterUpdateRequested)
        assert update.lead_id == lead.lead_id
    elif choice == "Zusammenführen, Stammdaten übernehmen":
        assert (customer.customer_number, customer.email) == (seeded.number, seeded.master.email)
    elif choice == "Neuer Kunde":
        assert customer.customer_number.startswith(f"N{web.run}")
        registered = await web.event(
            CUSTOMER_EVENTS.name, customer.customer_number, CustomerRegistered
        )
        assert registered.customer.last_name == seeded.last
    else:
        assert customer.customer_number == f"BAR{web.run}"
        assert customer.email == lead.customer.email
    await expect(page.locator("#notice")).to_contain_text(str(customer.customer_number))
    # the detail says for whom, when and with whom the appointment was made
    detail = page.locator("#detail")
    await expect(detail.locator("[data-customer-number]")).to_have_text(
        str(customer.customer_number)
    )
    start = created.start.astimezone(ZoneInfo("Europe/Berlin"))
    await expect(detail.locator("[data-appointment]")).to_contain_text(
        start.strftime("%d.%m.%Y %H:%M")
    )
    await expect(detail.locator("[data-acceptor]")).to_have_text("Anna Albers")


async def test_an_sms_confirmation_goes_to_the_master_s_number_when_the_lead_has_none(
    web: Web, seeded: Seeded
) -> None:
    lead = await web.lead(seeded.branch, seeded.last, mobile=None)
    page, form = await master_chosen(web, seeded, lead)
    await form.get_by_label("Zusammenführen, Stammdaten übernehmen").check()
    await form.get_by_label("Bestätigung an den Kunden").select_option("SMS")
    await submit(page, form, "Termin anlegen", "Termin angelegt")
    created = await web.event(LEAD_EVENTS.name, str(lead.lead_id), AppointmentCreated)
    assert (created.confirmation.value, created.recipient) == ("SMS", seeded.master.phone)


async def test_sms_is_offered_only_where_there_is_a_number_to_send_to(web: Web) -> None:
    branch = await web.branch(sms=True)
    lead = await web.lead(branch, mobile=None)
    page = await web.open(web.token(branch))
    dialog = await reject_straight_by_e_mail(page, lead)  # SMS is licensed, but no number
    await expect(dialog.locator("p").first).to_contain_text(str(lead.customer.email))


async def test_focus_returns_to_the_lead_after_a_dialog(web: Web) -> None:
    branch = await web.branch()
    lead = await web.lead(branch)
    page = await web.open(web.token(branch))
    row = page.locator(f"#rows button[data-open='{lead.lead_id}']")
    await row.click()
    reject = page.get_by_role("button", name="Ablehnen", exact=True)
    await reject.click()
    await expect(page.locator("#reject-form")).to_be_visible()
    await page.keyboard.press("Escape")  # closed without a change
    await expect(row).to_be_focused()

    await reject.click()
    text = page.locator("#reject-form").get_by_role("textbox", name="Text", exact=True)
    await text.fill("Leider ist die Werkstatt belegt.")
    await page.get_by_role("button", name="Ablehnen und senden").click()
    await expect(page.locator("#notice")).to_contain_text("Lead abgelehnt", timeout=WAIT_MS)
    await expect(row).to_be_focused()


async def test_dates_and_times_are_german_whatever_the_browser_s_locale(
    web: Web, seeded: Seeded
) -> None:
    lead = await web.lead(seeded.branch, seeded.last, birth_date=date(2001, 11, 7))
    page = await web.open(web.token(seeded.branch), locale="en-US")
    rows = page.locator("#rows tr[data-lead]")
    requested = lead.requested_start.astimezone(ZoneInfo("Europe/Berlin"))
    day = requested.strftime("%d.%m.%Y")
    await page.get_by_label("Termin von").fill(day)  # the list's filter, typed in German
    await page.get_by_label("bis", exact=True).fill(day)
    await expect(page.locator("#rows")).to_contain_text(lead.booking_id)
    await page.get_by_label("Termin von").fill((requested + timedelta(days=1)).strftime("%d.%m.%Y"))
    await expect(rows).to_have_count(0)
    await page.get_by_label("Termin von").fill("")
    await page.get_by_label("bis", exact=True).fill("")

    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    await page.get_by_role("button", name="Als Termin anlegen").click()
    form = page.locator("#schedule-form")
    start, end = form.get_by_label("Beginn"), form.get_by_label("Ende")
    await expect(start).to_have_value(requested.strftime("%d.%m.%Y %H:%M"))
    await form.get_by_label("Neuer Kunde").check()
    await form.get_by_role("button", name="Termin anlegen").click()
    await expect(form.get_by_label("Geburtsdatum")).to_have_value("07.11.2001")
    await form.get_by_role("button", name="Zurück zur Dublettenabfrage").click()

    await form.get_by_label("Barverkaufskunde").check()
    await start.fill("31.02.2027 09:30")
    await form.get_by_role("button", name="Termin anlegen").click()
    await expect(form.locator(".error")).to_have_text(
        "Bitte geben Sie den Beginn als TT.MM.JJJJ HH:MM ein (z. B. 03.12.2026 09:00)."
    )
    await start.fill("02.07.2027 9:30")  # summer: two hours ahead of UTC
    await end.fill("02.07.2027 10:30")
    await submit(page, form, "Termin anlegen", "Termin angelegt")
    created = await web.event(LEAD_EVENTS.name, str(lead.lead_id), AppointmentCreated)
    assert (created.start, created.end) == (
        datetime(2027, 7, 2, 7, 30, tzinfo=UTC),
        datetime(2027, 7, 2, 8, 30, tzinfo=UTC),
    )
    await expect(page.locator("#detail [data-appointment]")).to_contain_text("02.07.2027 09:30")
    await shot(page, "appointment-detail")


async def test_the_appointment_dialog_fits_1366_by_768_without_scrolling(
    web: Web, seeded: Seeded
) -> None:
    lead = await web.lead(seeded.branch, seeded.last)
    page, form = await master_chosen(web, seeded, lead)  # 1366x768, its comparison shown
    await expect(form.locator(f"table.compare[data-compare='{seeded.number}']")).to_be_visible()
    await shot(page, "appointment-dialog")
    dialog = page.locator("#dialog")
    assert await dialog.evaluate("d => d.scrollHeight <= d.clientHeight"), "the dialog scrolls"
    # the vehicle box sits beside the customer's choice, not above an empty column
    info = await form.locator("aside.info").bounding_box()
    choices = await form.locator(".choices").bounding_box()
    assert info is not None
    assert choices is not None
    assert info["x"] >= choices["x"] + choices["width"]
    assert info["y"] < choices["y"] + choices["height"]
    await expect(form.get_by_role("button", name="Termin anlegen")).to_be_in_viewport()


SHOWN_CASE = "[data-vehicle-for]:not([hidden]) [data-vehicle-case]"


def _shows(shown: str, texts: tuple[str, ...]) -> bool:
    return all(text in shown for text in texts)


async def reopen_until(page: Page, *texts: str) -> Locator:
    """The schedule dialog, reopened until it shows each of ``texts`` (the master data may
    reach customer-matching a moment after the lead)."""
    form = page.locator("#schedule-form")
    await page.get_by_role("button", name="Als Termin anlegen").click()
    async with asyncio.timeout(30):
        while not _shows(await form.inner_text(), texts):
            await form.get_by_role("button", name="Abbrechen").click()
            await page.get_by_role("button", name="Als Termin anlegen").click()
    return form


async def test_the_vehicle_case_follows_the_selected_customer_and_warns_only_for_another_s(
    web: Web,
) -> None:
    branch = await web.branch()
    owner, last, _ = await web.master(branch)
    # a namesake two doors down (the father, say): likely, but not the vehicle's owner
    namesake = master_customer(f"K{uuid.uuid4().hex[:7].upper()}", last)
    namesake = namesake.model_copy(
        update={"address": namesake.address.model_copy(update={"house_number": "7"})}
    )
    await publish_customer(web.bus, namesake)
    vin = a_vin()
    await web.vehicle(vin, owner=owner)
    lead = await web.lead(branch, last, vin=vin)  # a portal lead: no customer number
    page = await web.open(web.token(branch))
    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    form = await reopen_until(page, "Fahrzeug des Kunden", str(namesake.customer_number))

    # the certain candidate owns the vehicle: preselected, its own vehicle, no warning
    await expect(form.locator("input[name=candidate]:checked")).to_have_value(owner)
    await expect(form.locator(SHOWN_CASE)).to_have_text(re.compile("Fahrzeug des Kunden"))
    await expect(form.get_by_role("complementary").get_by_role("alert")).to_have_count(0)
    # another candidate, and a new customer: someone else's vehicle, with the owner named
    await form.locator(f"input[value='{namesake.customer_number}']").check()
    await expect(form.locator(SHOWN_CASE)).to_contain_text("gehört einem anderen Kunden")
    await expect(form.get_by_role("complementary").get_by_role("alert")).to_contain_text(owner)
    await form.get_by_label("Neuer Kunde").check()
    await expect(form.locator(SHOWN_CASE)).to_contain_text("gehört einem anderen Kunden")
    # back to the owner: saving asks nothing and the appointment has the customer's vehicle
    await form.locator(f"input[value='{owner}']").check()
    await form.get_by_label("Zusammenführen, Stammdaten übernehmen").check()
    await expect(form.locator(SHOWN_CASE)).to_have_text(re.compile("Fahrzeug des Kunden"))
    asked: list[str] = []
    page.on("dialog", lambda d: asked.append(d.message))  # unanswered: would stall the save
    await submit(page, form, "Termin anlegen", "Termin angelegt")
    assert asked == []
    created = await web.event(LEAD_EVENTS.name, str(lead.lead_id), AppointmentCreated)
    assert (created.customer_number, created.vehicle_case) == (owner, VehicleCase.OWNED_BY_CUSTOMER)
    assert created.warnings == ()


async def test_only_a_certain_candidate_is_preselected_and_a_possible_merge_asks_once_more(
    web: Web,
) -> None:
    branch = await web.branch()
    last = "Zq" + letters()
    elsewhere = Address(street="Parkweg", house_number="1", postcode="01067", city="Dresden")
    far = master_customer(f"K{uuid.uuid4().hex[:7].upper()}", last).model_copy(
        update={"address": elsewhere}
    )
    await publish_customer(web.bus, far)
    # at a postcode of its own: the other tests' customers at 20095 are candidates too
    postcode = f"2{uuid.uuid4().int % 10_000:04d}"
    lead = await web.lead(
        branch, last, address=Address(street="Hauptstr.", house_number="5", postcode=postcode)
    )
    page = await web.open(web.token(branch))
    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    form = await reopen_until(page, str(far.customer_number))
    row = form.locator("table.candidates tbody tr", has_text=str(far.customer_number))
    await expect(row).to_contain_text("möglich")

    # nothing chosen for the advisor, and saving says what is missing
    await expect(form.locator("input[name=candidate]:checked")).to_have_count(0)
    await expect(form.locator("input[name=choice]:checked")).to_have_count(0)
    await form.get_by_role("button", name="Termin anlegen").click()
    await expect(form.locator(".error")).to_have_text(
        "Bitte wählen Sie, wie der Kunde übernommen wird."
    )
    await form.get_by_label("Zusammenführen, Stammdaten übernehmen").check()
    await form.get_by_role("button", name="Termin anlegen").click()
    await expect(form.locator(".error")).to_have_text(
        "Bitte wählen Sie den Kunden, mit dem zusammengeführt wird."
    )

    # a possible candidate: asked once more, naming what differs; declined, nothing saved
    await row.get_by_role("radio").check()
    asked: list[str] = []

    async def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.once("dialog", lambda d: asyncio.ensure_future(answer(d, False)))
    await form.get_by_role("button", name="Termin anlegen").click()
    async with asyncio.timeout(10):
        while not asked:
            await asyncio.sleep(0.05)
    assert "nur als mögliche Dublette" in asked[0]
    assert "Adresse" in asked[0]
    assert "Name" not in asked[0]  # the name is the same
    await expect(form).to_be_visible()
    r = await web.http.get(f"/api/v1/leads/{lead.lead_id}", headers=web.auth(branch))
    assert r.json()["status"] == "NEW"
    # confirmed: the merge is made with that customer
    page.once("dialog", lambda d: asyncio.ensure_future(answer(d, True)))
    await submit(page, form, "Termin anlegen", "Termin angelegt")
    assert len(asked) == 2
    created = await web.event(LEAD_EVENTS.name, str(lead.lead_id), AppointmentCreated)
    assert created.customer_number == far.customer_number


async def test_a_new_customer_is_entered_in_the_customer_mask_before_it_is_registered(
    web: Web, seeded: Seeded
) -> None:
    lead = await web.lead(seeded.branch, seeded.last)
    page = await web.open(web.token(seeded.branch))
    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    form = await reopen_until(page, seeded.number)
    mask = form.get_by_role("group", name="Kundenstamm-Maske")
    await form.get_by_label("Neuer Kunde").check()
    await form.get_by_role("button", name="Termin anlegen").click()

    # the mask, filled from the lead; the duplicate dialog out of the way
    await expect(mask).to_be_visible()
    await expect(mask.get_by_label("Nachname")).to_have_value(seeded.last)
    await expect(mask.get_by_label("Straße")).to_have_value("Hauptstr.")
    await expect(form.get_by_role("group", name="Kunde", exact=True)).to_be_hidden()
    await shot(page, "customer-mask")
    # closed without saving: back at the duplicate dialog, the choice kept, nothing saved
    await mask.get_by_role("button", name="Zurück zur Dublettenabfrage").click()
    await expect(mask).to_be_hidden()
    await expect(form.locator("table.candidates")).to_be_visible()
    await expect(form.get_by_label("Neuer Kunde")).to_be_checked()
    r = await web.http.get(f"/api/v1/leads/{lead.lead_id}", headers=web.auth(seeded.branch))
    assert r.json()["status"] == "NEW"

    await form.get_by_role("button", name="Termin anlegen").click()
    await mask.get_by_label("Vorname").fill("Jürgen-Peter")
    await mask.get_by_label("Telefon").fill("040 1234")  # not a number the contracts take
    await mask.get_by_role("button", name="Kunde anlegen und Termin speichern").click()
    await expect(form.locator(".error")).to_have_text(
        "Bitte prüfen Sie Ihre Eingaben: Telefon.", timeout=WAIT_MS
    )
    r = await web.http.get(f"/api/v1/leads/{lead.lead_id}", headers=web.auth(seeded.branch))
    assert r.json()["status"] == "NEW"
    await mask.get_by_label("Telefon").fill("+49401234567")
    await submit(page, form, "Kunde anlegen und Termin speichern", "Termin angelegt")

    created = await web.event(LEAD_EVENTS.name, str(lead.lead_id), AppointmentCreated)
    registered = await web.event(
        CUSTOMER_EVENTS.name, str(created.customer_number), CustomerRegistered
    )
    assert (registered.customer.first_name, registered.customer.phone) == (
        "Jürgen-Peter",
        "+49401234567",
    )
    assert registered.customer.last_name == seeded.last
    assert created.customer.first_name == "Jürgen-Peter"


async def test_the_vehicle_warning_in_the_info_panel_and_again_when_saving(
    web: Web, seeded: Seeded
) -> None:
    vin = a_vin()
    await web.vehicle(vin, owner="FREMD-1")
    lead = await web.lead(seeded.branch, seeded.last, number=seeded.number, vin=vin)
    page = await web.open(web.token(seeded.branch))
    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    await page.get_by_role("button", name="Als Termin anlegen").click()
    form = page.locator("#schedule-form")
    info = form.get_by_role("complementary", name="Info")
    # The vehicle master may reach the index a moment after the lead: reopen until it has.
    async with asyncio.timeout(30):
        while "gehört einem anderen" not in (await info.text_content() or ""):
            await form.get_by_role("button", name="Abbrechen").click()
            await page.get_by_role("button", name="Als Termin anlegen").click()
    await expect(info.get_by_role("alert")).to_contain_text("FREMD-1")
    await expect(form).to_contain_text(f"Bestehender Kunde {seeded.number}")
    await shot(page, "vehicle-warning")

    shown: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        shown.append(dialog.message)
        await dialog.accept()

    page.on("dialog", on_dialog)
    await form.get_by_role("button", name="Termin anlegen").click()
    await expect(page.locator("#notice")).to_contain_text("Hinweis", timeout=WAIT_MS)
    assert len(shown) == 1
    assert "FREMD-1" in shown[0]
    assert "Termin trotzdem anlegen?" in shown[0]
    created = await web.event(LEAD_EVENTS.name, str(lead.lead_id), AppointmentCreated)
    assert created.vehicle.vin == vin
    assert created.warnings[0].code == "VEHICLE_NOT_OWNED_BY_CUSTOMER"


async def test_rejected_leads_are_read_only_without_the_permission(web: Web) -> None:
    branch = await web.branch()
    lead = await web.lead(branch)
    r = await web.http.post(
        f"/api/v1/leads/{lead.lead_id}/reject",
        json={"channel": "EMAIL", "text": "Leider nicht möglich."},
        headers=web.auth(branch),
    )
    assert r.status_code == 200, r.text

    advisor = await web.open(web.token(branch, Permission.LEAD_MANAGER))
    await advisor.locator(f"button[data-open='{lead.lead_id}']").click()
    await expect(advisor.get_by_role("note")).to_contain_text("Nur lesbar")
    # Nothing that changes the lead; resending its rejection mail stays possible.
    await expect(advisor.locator("#detail [data-action=schedule]")).to_have_count(0)
    await expect(advisor.locator("#detail [data-action^=reject]")).to_have_count(0)
    await expect(advisor.get_by_role("button", name="Als Termin anlegen")).to_have_count(0)

    senior = await web.open(
        web.token(branch, Permission.LEAD_MANAGER, Permission.EDIT_CANCELLED, user="sven")
    )
    await senior.locator(f"button[data-open='{lead.lead_id}']").click()
    await expect(senior.get_by_role("button", name="Als Termin anlegen")).to_be_visible()
    await expect(senior.get_by_role("note")).to_have_count(0)


async def test_the_configuration_check_and_the_osb_settings(web: Web) -> None:
    branch = await web.branch(
        acceptors=[
            {"id": "ben", "name": "Ben Brandt", "active": False},
            {"id": "lea", "name": "Lea Lorenz", "active": False},
        ]
    )
    page = await web.open(web.token(branch))
    problem = page.locator("#config-problem")
    await expect(problem).to_be_visible()
    await expect(problem).to_contain_text("mindestens einen Annehmer")

    await page.get_by_role("button", name="OSB-Einstellungen").click()
    form = page.locator("#settings-form")
    await form.get_by_label("Ben Brandt aktiv").check()
    await form.get_by_role("button", name="Lea Lorenz entfernen").click()  # not only inactive
    await expect(form.locator("tr[data-acceptor]")).to_have_count(1)
    await form.get_by_text("Platzhalter", exact=True).click()  # what {{ name }} stands for
    await expect(form.locator("dl.placeholders")).to_contain_text("{{ name }}")
    await expect(form.locator("dl.placeholders")).to_contain_text("Nachname")
    await form.get_by_label("SMS-Versand (Freischaltung)").check()
    await form.get_by_label("Name + Telefon").check()
    # the response deadline: opening hours as typed, the state's holidays, working hours
    await expect(form.get_by_label("Montag")).to_have_value("08:00–18:00")
    await expect(form.get_by_label("Samstag")).to_have_value("")
    await form.get_by_label("Samstag").fill("8 bis 12")
    await form.get_by_role("button", name="Speichern").click()
    await expect(form.locator(".error")).to_contain_text("Öffnungszeiten am Samstag")
    await form.get_by_label("Samstag").fill("8:00-12:00")
    await form.get_by_label("Montag").fill("07:30–12:00, 13:00–18:00")
    await form.get_by_label("Feiertage").select_option(label="Deutschland – Hamburg")
    await form.get_by_label("Reaktionszeit (Arbeitsstunden)").fill("1,5")
    await form.get_by_label("Eskalation an (E-Mail)").fill("leitung@hansa.example")
    reminders = form.get_by_label(re.compile("Terminerinnerungen, Stunden vor dem Termin"))
    await expect(reminders).to_have_value("24; 2")  # the defaults, as hours
    await reminders.fill("48; 1,5")
    await form.get_by_label(re.compile("Fällt eine Erinnerung in die Nachtruhe")).select_option(
        "SKIP"
    )
    await form.get_by_label(re.compile("Nicht erschienen, wenn")).fill("20")
    await shot(page, "osb-settings")
    await form.get_by_role("button", name="Speichern").click()
    await expect(page.locator("#notice")).to_contain_text("gespeichert", timeout=WAIT_MS)
    await expect(problem).to_be_hidden()

    stored = (
        await web.http.get(f"/api/v1/branches/{branch}/settings", headers=web.auth(branch))
    ).json()
    assert stored["acceptors"] == [{"id": "ben", "name": "Ben Brandt", "active": True}]
    assert stored["sms_enabled"] is True
    assert stored["duplicate_criteria"] == ["ADDRESS", "PHONE", "EMAIL"]
    assert stored["opening_hours"]["mon"] == [
        {"opens": "07:30", "closes": "12:00"},
        {"opens": "13:00", "closes": "18:00"},
    ]
    assert stored["opening_hours"]["sat"] == [{"opens": "08:00", "closes": "12:00"}]
    assert stored["opening_hours"]["sun"] == []
    assert (stored["holiday_region"], stored["response_minutes"]) == ("DE-HH", 90)
    assert stored["escalation_email"] == "leitung@hansa.example"
    assert (stored["reminder_offsets"], stored["reminder_quiet"]) == ([2880, 90], "SKIP")
    assert stored["no_show_grace_minutes"] == 20

    # Without the administration permission the settings button is not offered.
    advisor = await web.open(web.token(branch, Permission.LEAD_MANAGER))
    await expect(advisor.get_by_role("button", name="OSB-Einstellungen")).to_be_hidden()


async def test_local_settings_are_kept_across_sessions(web: Web) -> None:
    branch = await web.branch()
    page = await web.open(web.token(branch))
    await page.get_by_role("button", name="Lokale Einstellungen").click()
    await page.get_by_label("Aktualisierung alle").fill("45")
    await page.get_by_label("Neue Leads auch im Servicetermin Manager anzeigen").check()
    await page.get_by_role("button", name="Speichern").click()

    # Another tab of the browser: the settings are the same there.
    later = await web.open(web.token(branch), await page.context.new_page())
    await later.get_by_role("button", name="Lokale Einstellungen").click()
    await expect(later.get_by_label("Aktualisierung alle")).to_have_value("45")
    await expect(
        later.get_by_label("Neue Leads auch im Servicetermin Manager anzeigen")
    ).to_be_checked()


async def test_keyboard_only_open_a_lead_and_sign_out(web: Web) -> None:
    branch = await web.branch()
    lead = await web.lead(branch)
    page = await web.open(web.token(branch))
    await page.get_by_label("Suche").focus()
    await page.keyboard.type(lead.booking_id)
    await expect(page.get_by_label("Suche")).to_have_value(lead.booking_id)
    await expect(page.locator("#rows tr[data-lead]")).to_have_count(1)
    await page.keyboard.press("Tab")
    # Past the search field the first focusable element of the list is the lead's name.
    await expect(page.locator(f"button[data-open='{lead.lead_id}']")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#detail h2")).to_contain_text(lead.customer.last_name)
    await page.get_by_role("button", name="Abmelden").press("Enter")
    await expect(page.get_by_label("Zugangstoken")).to_be_visible()
    await expect(page.get_by_label("Zugangstoken")).to_be_focused()


async def test_a_bad_token_is_refused_with_a_clear_message(web: Web) -> None:
    context = await web.browser.new_context()
    page = await context.new_page()
    await page.goto(f"{web.url}/")
    await page.get_by_label("Zugangstoken").fill("not-a-token")
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page.locator("#signin-error")).to_have_text(
        "Der Anmeldelink ist ungültig. Bitte fordern Sie einen neuen an."
    )
    await context.close()


async def test_a_sign_in_link_into_an_open_tab_and_a_second_tab(web: Web) -> None:
    branch = await web.branch()
    context = await web.browser.new_context(viewport={"width": 1366, "height": 768})
    first = await context.new_page()
    await first.goto(f"{web.url}/")
    await expect(first.get_by_label("Zugangstoken")).to_be_visible()
    await first.evaluate("window.sameDocument = true")
    await first.goto(f"{web.url}/#token={web.token(branch)}")  # the link pasted into the tab
    await expect(first.locator("#app")).to_be_visible(timeout=WAIT_MS)
    assert await first.evaluate("window.sameDocument") is True  # no reload
    assert "token" not in first.url

    second = await context.new_page()  # another tab of the same browser: not asked again
    await second.goto(f"{web.url}/")
    await expect(second.locator("#app")).to_be_visible(timeout=WAIT_MS)
    await expect(second.get_by_label("Zugangstoken")).to_be_hidden()

    await first.get_by_role("button", name="Abmelden").click()  # and out in both
    await expect(second.get_by_label("Zugangstoken")).to_be_visible(timeout=WAIT_MS)
    await expect(second.locator("#signin-error")).to_have_text(
        "Sie haben sich in einem anderen Tab abgemeldet."
    )
    await context.close()


async def test_the_api_s_refusals_are_said_in_german(web: Web) -> None:
    """The API answers with a code; the page phrases it (issue 15, point 2)."""
    branch = await web.branch(sms=False)
    lead = await web.lead(branch)
    page = await web.open(web.token(branch))
    await page.locator(f"button[data-open='{lead.lead_id}']").click()
    await page.get_by_role("button", name="Ablehnen", exact=True).click()
    dialog = page.locator("#reject-form")
    text = dialog.get_by_role("textbox", name="Text", exact=True)
    await text.fill("   ")  # not empty for the browser, no text for the customer
    await dialog.get_by_role("button", name="Ablehnen und senden").click()
    await expect(dialog.locator(".error")).to_have_text(
        "Bitte geben Sie einen Text für den Kunden ein.", timeout=WAIT_MS
    )

    r = await web.http.post(  # a colleague rejects it meanwhile
        f"/api/v1/leads/{lead.lead_id}/reject",
        json={"channel": "EMAIL", "text": "Leider nicht möglich."},
        headers=web.auth(branch),
    )
    assert r.status_code == 200, r.text
    await text.fill("Leider ist die Werkstatt belegt.")
    await dialog.get_by_role("button", name="Ablehnen und senden").click()
    await expect(dialog.locator(".error")).to_have_text(
        "Der Terminlead wurde inzwischen von jemand anderem geändert. Bitte laden Sie ihn neu.",
        timeout=WAIT_MS,
    )


async def test_an_overdue_lead_is_escalated_once_and_said_on_the_page(web: Web) -> None:
    """A new lead nobody answered by its deadline: one LeadOverdue, one e-mail to the
    branch's escalation address, a notice and a red mark on the advisor's page."""
    escalation = f"leitung-{web.run.lower()}@w.example"
    branch = await web.branch(escalation=escalation)
    page = await web.open(web.token(branch))
    received = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday: due at 11:00 that day
    lead = await web.lead(branch, received=received)
    row = page.locator(f"#rows tr[data-lead='{lead.lead_id}']")
    await expect(page.locator(f"#alerts li[data-lead='{lead.lead_id}']")).to_contain_text(
        "Frist überschritten", timeout=WAIT_MS
    )
    await expect(row).to_have_class(re.compile(r"\boverdue\b"))
    await expect(row.locator(".deadline")).to_contain_text("überfällig seit")

    overdue = await web.event(LEAD_EVENTS.name, str(lead.lead_id), LeadOverdue)
    assert overdue.respond_by == received + timedelta(hours=2)
    await web.until(lambda: any(m["To"] == escalation for m in web.mail.messages), "the e-mail")
    # its delivery recorded on the lead: then the detail opened shows it
    async with asyncio.timeout(30):
        url = f"/api/v1/leads/{lead.lead_id}"
        while not (await web.http.get(url, headers=web.auth(branch))).json()["notifications"]:
            await asyncio.sleep(0.1)
    # the service looks for overdue leads every second: by the time the detail is open it
    # has looked again several times
    detail = page.locator("#detail")
    await row.locator("[data-open]").click()
    await expect(detail).to_contain_text("Frist überschritten", timeout=WAIT_MS)
    # the escalation's delivery is shown as such, not as a message to the customer
    await expect(detail.locator("table.notifications")).to_contain_text(
        "E-Mail (Eskalation an die Leitung)", timeout=WAIT_MS
    )
    await web.tail.caught_up()
    reported = web.tail.matching(
        lambda r: (
            r.key == str(lead.lead_id).encode()
            and header(r, "ce_type") == LeadOverdue.cloudevents_type()
        )
    )
    assert len(reported) == 1
    (mail,) = [m for m in web.mail.messages if m["To"] == escalation]
    assert mail["Subject"] == f"Frist überschritten: Terminlead {lead.booking_id}"
    body = mail.get_body(("plain",))
    assert body is not None
    assert "eingegangen am 02.11.2026 um 10:00 Uhr" in body.get_content()


async def test_the_auswertung_shows_a_seeded_history_as_counted_by_hand(
    web: Web, kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> None:
    """The branch manager's figures in Chromium, against the hand count of
    ``osb_testing.insight`` (its docstring has the table): tiles, the bars per day, the
    shares, the reasons, the duplicate dialog's choices and the CSV export."""
    branch = await web.branch()
    await publish_history(web.bus, seeded_history(branch))
    await wait_projected(kafka_bootstrap_servers, database_urls["lead-manager"])
    page = await web.open(web.token(branch, Permission.LEAD_MANAGER))
    await page.get_by_role("button", name="Auswertung").click()
    form = page.locator("#insight-form")
    await form.get_by_label("Eingang von").fill("02.11.2026")
    await form.get_by_label("bis").fill("04.11.2026")
    await form.get_by_role("button", name="Anzeigen").click()
    figures = page.locator(".insight")
    await expect(figures.locator("[data-figure=received]")).to_have_text("6", timeout=WAIT_MS)
    # 240 and 516 minutes of opening time
    await expect(figures.locator("[data-figure=decision_median]")).to_have_text("4,0 Std.")
    await expect(figures.locator("[data-figure=decision_p90]")).to_have_text("8,6 Std.")
    await expect(figures.locator("[data-figure=overdue]")).to_have_text("2")
    await expect(figures.locator("[data-figure=failed_notifications]")).to_have_text("2")
    # one bar segment per outcome and day: Monday three, Tuesday two, Wednesday one
    await expect(figures.locator("svg.days rect")).to_have_count(6)
    await expect(figures.locator("svg.days rect.bar-rejected")).to_have_count(2)
    shares = {
        "scheduled": "17 % (1)",
        "rejected": "33 % (2)",
        "cancelled_by_customer": "17 % (1)",
        "cancelled": "17 % (1)",
        "new": "17 % (1)",
    }
    for key, text in shares.items():
        await expect(
            figures.locator(f"[data-chart=outcomes] [data-key={key}] .value")
        ).to_have_text(text)
    reasons = figures.locator("[data-chart=reasons] li")
    await expect(reasons).to_have_count(2)
    await expect(reasons.filter(has_text="Kein freier Termin")).to_contain_text("50 % (1)")
    await expect(reasons.filter(has_text="ohne Angabe")).to_contain_text("50 % (1)")
    choices = figures.locator("[data-chart=choices]")
    await expect(choices.locator("[data-key=EXISTING] .value")).to_have_text("50 % (1)")
    await expect(choices.locator("[data-key=NEW_CUSTOMER] .value")).to_have_text("50 % (1)")
    await expect(choices.locator("[data-key=CASH_SALE] .value")).to_have_text("0 % (0)")
    await shot(page, "auswertung")

    async with page.expect_download() as downloading:
        await form.get_by_role("button", name="Als CSV exportieren").click()
    download = await downloading.value
    assert download.suggested_filename == f"auswertung-{branch}-2026-11-02-2026-11-04.csv"
    saved = Path(await download.path())
    text = await asyncio.to_thread(saved.read_text, encoding="utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("Tag;Eingegangen;Geplant;Abgelehnt")
    assert lines[1].startswith("02.11.2026;3;1;1;0;1;0;0;0;1;1,50;")
    assert lines[-1].startswith("Summe;6;1;2;1;1;0;1;2;2;4,00;8,60")

    # a period that ends before it begins is said in German
    await form.get_by_label("Eingang von").fill("05.11.2026")
    await form.get_by_role("button", name="Anzeigen").click()
    await expect(page.locator("#insight-form .error")).to_have_text(
        "Der Zeitraum endet vor seinem Beginn."
    )


async def test_a_customer_the_dms_checks_in_came_the_other_is_a_no_show_after_the_grace(
    web: Web, kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> None:
    """Two appointments that began an hour ago. With the branch's grace at two hours the
    DMS checks one customer in (CustomerArrived); shortened to 30 minutes, lead-manager's
    own time rule marks the other a no-show: live on the open page with a notice, in the
    status filter, in the detail and its history, and in the Auswertung's show rate."""
    branch = await web.branch()
    url = f"/api/v1/branches/{branch}/settings"
    settings = (await web.http.get(url, headers=web.auth(branch))).json()

    async def grace(minutes: int) -> None:
        body = {k: v for k, v in settings.items() if k not in ("branch_id", "version")}
        body.pop("rejection_channels")
        r = await web.http.put(
            url, json={**body, "no_show_grace_minutes": minutes}, headers=web.auth(branch)
        )
        assert r.status_code == 200, r.text

    await grace(120)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    came, missed = await web.lead(branch), await web.lead(branch)
    booked = await web.schedule_cash_sale(branch, came, start)
    await web.schedule_cash_sale(branch, missed, start)
    arrived = CustomerArrived(
        appointment_id=booked["appointment_id"],
        branch_id=branch,
        arrived_at=start - timedelta(minutes=5),
    )
    await publish(
        web.bus, arrived, topic=DMS_APPOINTMENTS, key=str(arrived.appointment_id), source="/dms"
    )

    async def detail(lead: LeadRequested) -> dict[str, Any]:
        r = await web.http.get(f"/api/v1/leads/{lead.lead_id}", headers=web.auth(branch))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def came_in() -> bool:
        return (await detail(came))["arrived_at"] is not None

    async with asyncio.timeout(30):
        while not await came_in():
            await asyncio.sleep(0.2)
    page = await web.open(web.token(branch))
    name = f"Juergen {missed.customer.last_name}"
    row = page.locator(f'#rows tr[data-lead="{missed.lead_id}"]')
    await expect(row.locator(".badge")).to_have_text("Geplant")

    await grace(30)
    await expect(row.locator(".badge")).to_have_text("Nicht erschienen", timeout=WAIT_MS)
    await expect(page.locator("#alerts li")).to_contain_text(
        f"Nicht erschienen: {name} ist nicht zum Termin gekommen."
    )
    await page.locator("#filters [name=status]").select_option("NO_SHOW")
    await expect(page.locator("#list-status")).to_have_text("(1)")
    await page.get_by_role("button", name=name).click()
    await expect(page.locator("#detail-title .badge")).to_have_text("Nicht erschienen")
    await expect(page.locator("#detail [data-arrived]")).to_have_text("Kunde nicht erschienen")
    await expect(page.locator("#detail")).to_contain_text("Kunde nicht erschienen")
    missed_now, came_now = await detail(missed), await detail(came)
    assert [h["action"] for h in missed_now["history"]][-1] == "no-show"
    assert (came_now["status"], came_now["arrived_at"]) == (
        "SCHEDULED",
        arrived.arrived_at.isoformat().replace("+00:00", "Z"),
    )
    assert "no-show" not in [h["action"] for h in came_now["history"]]

    await wait_projected(kafka_bootstrap_servers, database_urls["lead-manager"])
    await page.get_by_role("button", name="Auswertung").click()
    week = page.locator("[data-chart=shows] li")
    await expect(week).to_have_count(1, timeout=WAIT_MS)
    await expect(week.locator(".value")).to_have_text("50 % (1 von 2)")


async def test_an_appointment_confirmed_by_e_mail_is_reminded_by_e_mail_once_when_due(
    web: Web, database_urls: dict[str, str]
) -> None:
    """The whole path of a reminder: planned with the appointment (24 h and 2 h before),
    due at the time the rule is run at (an injected clock: the day before), handed to the
    notifier once, the e-mail in the SMTP server from the branch's template, its delivery on
    the lead as a reminder."""
    branch = await web.branch()
    berlin = ZoneInfo("Europe/Berlin")
    day = (datetime.now(berlin) + timedelta(days=2)).date()
    start = datetime.combine(day, time(14, 0), berlin)
    lead = await web.lead(branch)
    await web.schedule_cash_sale(branch, lead, start, confirmation="EMAIL")
    recipient = lead.customer.email
    confirmed = f"Ihr Werkstatttermin am {day:%d.%m.%Y} bei"
    await web.until(
        lambda: any(
            confirmed in (m["Subject"] or "") and m["To"] == recipient for m in web.mail.messages
        ),
        "the confirmation",
    )

    engine = make_engine(database_urls["lead-manager"], pool_size=1)
    try:
        due = start - timedelta(hours=24)
        await send_all_reminders(lambda: SqlUnitOfWork(engine, utc_now), due + timedelta(seconds=1))
        await send_all_reminders(lambda: SqlUnitOfWork(engine, utc_now), due + timedelta(minutes=1))
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sql("SELECT offset_minutes, state FROM reminders WHERE lead_id = :id"),
                    {"id": lead.lead_id},
                )
            ).all()
    finally:
        await engine.dispose()
    assert sorted(map(tuple, rows)) == [(120, "PENDING"), (1440, "SENT")]

    subject = f"Erinnerung: Ihr Werkstatttermin am {day:%d.%m.%Y} bei Autohaus Test"
    await web.until(
        lambda: any(
            subject in (m["Subject"] or "") for m in web.mail.messages if m["To"] == recipient
        ),
        "the reminder",
    )
    url = f"/api/v1/leads/{lead.lead_id}"
    async with asyncio.timeout(30):
        while not any(
            n["reminder"]
            for n in (await web.http.get(url, headers=web.auth(branch))).json()["notifications"]
        ):
            await asyncio.sleep(0.1)
    detail = (await web.http.get(url, headers=web.auth(branch))).json()
    (reminded,) = [n for n in detail["notifications"] if n["reminder"]]
    assert (reminded["channel"], reminded["status"]) == ("EMAIL", "SENT")
    assert "reminder due" in [h["action"] for h in detail["history"]]
    reminders = [
        m for m in web.mail.messages if m["To"] == recipient and subject in (m["Subject"] or "")
    ]
    assert len(reminders) == 1
    body = reminders[0].get_body(("plain",))
    assert body is not None
    assert f"am {day:%d.%m.%Y} um 14:00 Uhr" in body.get_content()

    # the reminder's first link confirms the appointment, clicked in the mail's HTML
    customer = await web.mail_in_browser(reminders[0])
    link = await customer.get_by_role("link").first.get_attribute("href")
    assert link is not None
    await customer.get_by_role("link").first.click()
    await expect(customer.get_by_role("heading")).to_have_text("Ihr Werkstatttermin")
    await expect(customer.locator("#text")).to_contain_text(f"{day:%d.%m.%Y} um 14:00 Uhr")
    await expect(customer.get_by_role("button")).to_have_count(1)
    await customer.get_by_role("button", name="Termin bestätigen").click()
    await expect(customer.get_by_role("heading")).to_have_text("Termin bestätigt")
    async with asyncio.timeout(30):
        while (await web.http.get(url, headers=web.auth(branch))).json()[
            "confirmed_by_customer_at"
        ] is None:
            await asyncio.sleep(0.1)
    detail = (await web.http.get(url, headers=web.auth(branch))).json()
    assert (detail["status"], detail["history"][-1]["action"]) == (
        "SCHEDULED",
        "confirmed by the customer",
    )
    await customer.goto(link)  # the same link once more
    await expect(customer.get_by_role("heading")).to_have_text("Bereits bestätigt")
    await expect(customer.get_by_role("button")).to_have_count(0)


async def test_reminders_in_the_quiet_hours_go_out_the_evening_before_or_not_at_all(
    web: Web, database_urls: dict[str, str]
) -> None:
    """The quiet hours end to end, the rule run on an injected clock. An appointment at
    09:00: its 2 h reminder (07:00) goes out at 20:30 the evening before in a branch that
    moves them, and not at all in a branch that skips them; the 24 h one goes out at 09:00
    in both. Nothing more at 07:00. A reminder the rule finds due only in the quiet hours
    (lead-manager away at 20:30) is recorded missed and never sent."""
    berlin = ZoneInfo("Europe/Berlin")
    day = (datetime.now(berlin) + timedelta(days=2)).date()
    before = day - timedelta(days=1)
    moves = await web.branch()
    skips = await web.branch()
    url = f"/api/v1/branches/{skips}/settings"
    body = (await web.http.get(url, headers=web.auth(skips))).json()
    body = {
        k: v for k, v in body.items() if k not in ("branch_id", "version", "rejection_channels")
    }
    r = await web.http.put(url, json={**body, "reminder_quiet": "SKIP"}, headers=web.auth(skips))
    assert r.status_code == 200, r.text

    moved, skipped, away = await web.lead(moves), await web.lead(skips), await web.lead(moves)
    start = datetime.combine(day, time(9, 0), berlin)
    await web.schedule_cash_sale(moves, moved, start, confirmation="EMAIL")
    await web.schedule_cash_sale(skips, skipped, start, confirmation="EMAIL")
    # a day later: its reminders are due at 09:00 and 20:30 on the appointment's day before
    await web.schedule_cash_sale(moves, away, start + timedelta(days=1), confirmation="EMAIL")

    engine = make_engine(database_urls["lead-manager"], pool_size=1)

    async def rule_at(at: datetime) -> None:
        await send_all_reminders(lambda: SqlUnitOfWork(engine, utc_now), at)

    async def reminders(lead: LeadRequested) -> list[tuple[int, str, str]]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sql("SELECT offset_minutes, due_at, state FROM reminders WHERE lead_id = :id"),
                {"id": lead.lead_id},
            )
            return sorted(
                (m, f"{due.astimezone(berlin):%d.%m. %H:%M}", state) for m, due, state in rows
            )

    def when(on: date, hour: int, minute: int = 0) -> str:
        return f"{datetime.combine(on, time(hour, minute)):%d.%m. %H:%M}"

    try:
        assert await reminders(moved) == [
            (120, when(before, 20, 30), "PENDING"),
            (1440, when(before, 9), "PENDING"),
        ]
        assert await reminders(skipped) == [(1440, when(before, 9), "PENDING")]

        await rule_at(datetime.combine(before, time(9, 0, 1), berlin))
        await rule_at(datetime.combine(before, time(20, 30, 1), berlin))
        await rule_at(datetime.combine(day, time(7, 0, 1), berlin))  # the 2 h reminder's time
        assert await reminders(moved) == [
            (120, when(before, 20, 30), "SENT"),
            (1440, when(before, 9), "SENT"),
        ]
        assert await reminders(skipped) == [(1440, when(before, 9), "SENT")]

        # lead-manager away from before 09:00 until 21:15 on the day before the third one's
        await rule_at(datetime.combine(day, time(21, 15), berlin))
        assert await reminders(away) == [
            (120, when(day, 20, 30), "MISSED"),
            (1440, when(day, 9), "MISSED"),
        ]
    finally:
        await engine.dispose()

    async def reminded(branch: str, lead: LeadRequested, count: int) -> None:
        path = f"/api/v1/leads/{lead.lead_id}"
        async with asyncio.timeout(30):
            while (
                sum(
                    n["reminder"]
                    for n in (await web.http.get(path, headers=web.auth(branch))).json()[
                        "notifications"
                    ]
                )
                < count
            ):
                await asyncio.sleep(0.1)

    await reminded(moves, moved, 2)
    await reminded(skips, skipped, 1)
    subject = f"Erinnerung: Ihr Werkstatttermin am {day:%d.%m.%Y}"

    def mails(lead: LeadRequested) -> list[str]:
        bodies = [
            m.get_body(("plain",))
            for m in web.mail.messages
            if m["To"] == lead.customer.email and subject in (m["Subject"] or "")
        ]
        return [body.get_content() if body else "" for body in bodies]

    await web.until(lambda: len(mails(moved)) == 2 and len(mails(skipped)) == 1, "the reminders")
    assert all(f"am {day:%d.%m.%Y} um 09:00 Uhr" in text for text in mails(moved) + mails(skipped))
    assert not any(
        m["To"] == away.customer.email and "Erinnerung" in (m["Subject"] or "")
        for m in web.mail.messages
    )


async def test_a_customer_cancels_by_the_confirmation_s_link_and_the_page_says_so_at_once(
    web: Web, database_urls: dict[str, str]
) -> None:
    """The confirmation e-mail's cancel link, clicked in Chromium: the lead is cancelled by
    the customer through the portal's path (the DMS told with the appointment), the open
    advisor page says so live, the reminders are not sent, and the link says it is used."""
    branch, lead, booked, mail = await web.confirmed_by_mail(days=3)
    advisor = await web.open(web.token(branch))
    row = advisor.locator(f'#rows tr[data-lead="{lead.lead_id}"]')
    await expect(row.locator(".badge")).to_have_text("Geplant")

    customer = await web.mail_in_browser(mail)
    links = customer.get_by_role("link")
    await expect(links).to_have_count(2)  # absagen, anderen Termin wünschen
    link = await links.first.get_attribute("href")
    assert link is not None
    await links.first.click()
    await customer.get_by_label("Möchten Sie uns den Grund nennen?").fill("Auto verkauft")
    await customer.get_by_role("button", name="Termin absagen").click()
    await expect(customer.get_by_role("heading")).to_have_text("Termin abgesagt")

    await expect(row.locator(".badge")).to_have_text("Von Kunden storniert", timeout=WAIT_MS)
    name = f"Juergen {lead.customer.last_name}"
    await expect(advisor.locator("#alerts li")).to_contain_text(
        f"Vom Kunden storniert: {name} hat die Buchung storniert."
    )
    told = await web.event(LEAD_EVENTS.name, str(lead.lead_id), LeadCancelledByCustomer)
    assert str(told.appointment_id) == booked["appointment_id"]  # what the DMS removes
    detail = (await web.http.get(f"/api/v1/leads/{lead.lead_id}", headers=web.auth(branch))).json()
    assert detail["history"][-1]["reason"] == "Auto verkauft"

    engine = make_engine(database_urls["lead-manager"], pool_size=1)
    try:
        # both reminders due: the appointment is three days ahead, the 2 h one the later
        due = datetime.now(UTC) + timedelta(days=3, hours=-2)
        await send_all_reminders(lambda: SqlUnitOfWork(engine, utc_now), due)
        async with engine.connect() as conn:
            states = (
                await conn.scalars(
                    sql("SELECT state FROM reminders WHERE lead_id = :id"), {"id": lead.lead_id}
                )
            ).all()
    finally:
        await engine.dispose()
    assert sorted(states) == ["CANCELLED", "CANCELLED"]
    await customer.goto(link)  # the same link once more: it says what became of the appointment
    await expect(customer.get_by_role("heading")).to_have_text("Termin abgesagt")
    await expect(customer.locator("#text")).to_contain_text("ist bereits abgesagt")
    await expect(customer.get_by_role("button")).to_have_count(0)


async def test_a_customer_asks_for_another_time_and_the_lead_is_new_with_the_wish(
    web: Web,
) -> None:
    """The confirmation's second link: a wish the page cannot read is said in German and
    kept; a readable one makes the lead NEW with the wish as its requested time (the DMS
    told to remove the appointment), live on the advisor's page."""
    branch, lead, booked, mail = await web.confirmed_by_mail(days=3)
    advisor = await web.open(web.token(branch))
    row = advisor.locator(f'#rows tr[data-lead="{lead.lead_id}"]')
    await expect(row.locator(".badge")).to_have_text("Geplant")

    customer = await web.mail_in_browser(mail)
    link = await customer.get_by_role("link").nth(1).get_attribute("href")
    assert link is not None
    await customer.get_by_role("link").nth(1).click()
    wish = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=10)).replace(
        hour=16, minute=30, second=0, microsecond=0
    )
    await customer.get_by_label("Wunschdatum").fill("31.02.2027")
    await customer.get_by_label("Uhrzeit").fill("16:30")
    await customer.get_by_label("Möchten Sie uns noch etwas mitteilen?").fill("nachmittags")
    await customer.get_by_role("button", name="Anderen Termin wünschen").click()
    await expect(customer.get_by_role("alert")).to_have_text(
        "Bitte geben Sie Ihren Wunschtermin als Datum (TT.MM.JJJJ) und Uhrzeit (HH:MM) an."
    )
    await expect(customer.get_by_label("Möchten Sie uns noch etwas mitteilen?")).to_have_value(
        "nachmittags"
    )
    await customer.get_by_label("Wunschdatum").fill(f"{wish:%d.%m.%Y}")
    await customer.get_by_role("button", name="Anderen Termin wünschen").click()
    await expect(customer.get_by_role("heading")).to_have_text("Wunsch übermittelt")

    await expect(row.locator(".badge")).to_have_text("Neu", timeout=WAIT_MS)
    name = f"Juergen {lead.customer.last_name}"
    await expect(advisor.locator("#alerts li")).to_contain_text(
        f"Anderer Termin gewünscht: {name} bittet um einen neuen Termin"
    )
    await expect(row).to_contain_text(f"{wish:%d.%m.%Y %H:%M}")  # the new Wunschtermin
    told = await web.event(LEAD_EVENTS.name, str(lead.lead_id), LeadRescheduleRequested)
    assert (str(told.appointment_id), told.requested_start, told.note) == (
        booked["appointment_id"],
        wish,
        "nachmittags",
    )
    await row.get_by_role("button", name=name).click()
    await expect(advisor.locator("#detail")).to_contain_text(
        "Kunde wünscht einen anderen Termin (Link)"
    )
    await customer.goto(link)
    await expect(customer.get_by_role("heading")).to_have_text("Wunsch liegt vor")


async def test_a_counter_offer_s_time_is_taken_by_its_link_and_an_untaken_one_lapses(
    web: Web, database_urls: dict[str, str]
) -> None:
    """Ablehnen mit Terminvorschlag: three times by e-mail, the second taken in Chromium from
    the mail's link; the lead is scheduled at it with the advisor's identification, live on
    the open page, and confirmed by e-mail. A second offer nobody takes is rejected with the
    branch's text when its deadline passes (the rule run at that time)."""
    branch = await web.branch()
    berlin = ZoneInfo("Europe/Berlin")
    day = (datetime.now(berlin) + timedelta(days=4)).date()
    times = [datetime.combine(day, time(hour), berlin) for hour in (9, 11, 15)]
    taker, silent = await web.lead(branch), await web.lead(branch)

    async def offer(lead: LeadRequested) -> dict[str, Any]:
        body = {
            "times": [
                {"start": t.isoformat(), "end": (t + timedelta(hours=1)).isoformat()} for t in times
            ],
            "channel": "EMAIL",
            "acceptor": "anna",
            "customer": {"choice": "CASH_SALE"},
        }
        r = await web.http.post(
            f"/api/v1/leads/{lead.lead_id}/offer", json=body, headers=web.auth(branch)
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    advisor = await web.open(web.token(branch))
    row = advisor.locator(f'#rows tr[data-lead="{taker.lead_id}"]')
    await row.get_by_role("button", name=f"Juergen {taker.customer.last_name}").click()
    await advisor.get_by_role("button", name="Terminvorschlag").click()
    form = advisor.locator("#offer-form")
    await form.get_by_label("1. Termin").fill("31.02.2027 09:00")
    await form.get_by_role("button", name="Terminvorschlag senden").click()
    await expect(form.locator(".error")).to_have_text(
        "Bitte geben Sie den 1. Termin als TT.MM.JJJJ HH:MM ein (z. B. 03.12.2026 09:00)."
    )
    for n, t in enumerate(times, start=1):
        await form.get_by_label(f"{n}. Termin").fill(f"{t:%d.%m.%Y %H:%M}")
    await form.get_by_label("Termin anlegen für").select_option("CASH_SALE")
    await submit(advisor, form, "Terminvorschlag senden", "Terminvorschlag gesendet")
    await expect(row.locator(".badge")).to_have_text("Terminvorschlag gesendet")
    mail = await web.mail_to(taker.customer.email or "", "Terminvorschläge von Autohaus Test")
    customer = await web.mail_in_browser(mail)
    await expect(customer.get_by_role("link")).to_have_count(3)
    await customer.get_by_role("link").nth(1).click()
    await expect(customer.get_by_role("heading")).to_have_text("Unsere Terminvorschläge")
    await expect(customer.get_by_role("button")).to_have_count(1)
    await customer.get_by_role("button", name=f"{day:%d.%m.%Y} um 11:00 Uhr wählen").click()
    await expect(customer.get_by_role("heading")).to_have_text("Termin gewählt")

    await expect(row.locator(".badge")).to_have_text("Geplant", timeout=WAIT_MS)
    detail = (await web.http.get(f"/api/v1/leads/{taker.lead_id}", headers=web.auth(branch))).json()
    assert datetime.fromisoformat(detail["appointment"]["start"]) == times[1]
    assert detail["appointment"]["customer_number"] == f"BAR{web.run}"
    assert (detail["offer"]["state"], detail["offer"]["taken_index"]) == ("TAKEN", 1)
    await web.mail_to(taker.customer.email or "", f"Ihr Werkstatttermin am {day:%d.%m.%Y}")
    await row.get_by_role("button", name=f"Juergen {taker.customer.last_name}").click()
    await expect(advisor.locator("#detail [data-offer]")).to_contain_text(
        f"{day:%d.%m.%Y} 11:00 – 12:00 (angenommen)"
    )

    await offer(silent)
    deadline = datetime.now(UTC) + timedelta(hours=48, minutes=1)  # the branch's default
    engine = make_engine(database_urls["lead-manager"], pool_size=1)
    try:
        await lapse_all_offers(lambda: SqlUnitOfWork(engine, utc_now), deadline)
    finally:
        await engine.dispose()
    rejection = await web.mail_to(silent.customer.email or "", "Ihr Terminwunsch bei")
    body = rejection.get_body(("plain",))
    assert body is not None
    assert "leider können wir Ihren Terminwunsch" in body.get_content()
    lapsed = (
        await web.http.get(f"/api/v1/leads/{silent.lead_id}", headers=web.auth(branch))
    ).json()
    assert (lapsed["status"], lapsed["offer"]["state"]) == ("REJECTED", "LAPSED")
    assert lapsed["history"][-1]["action"] in ("offer lapsed", "notification sent")
