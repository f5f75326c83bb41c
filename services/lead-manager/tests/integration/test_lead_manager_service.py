"""lead-manager in-process on the real broker and database, driven through Kafka and its API."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.domain.branch import NO_ACTIVE_ACCEPTOR
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.app import create_app
from lead_manager.entrypoints.auth import issue_token
from lead_manager.entrypoints.http.schemas import WEEKDAYS
from lead_manager.entrypoints.labels import CONFIGURATION_TEXTS
from lead_manager.service.deadlines import report_all_overdue
from lead_manager.settings import Settings
from osb_contracts import ContractError, Message, Topic, decode, encode
from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.dms import AppointmentDeleted
from osb_contracts.leads import (
    LeadCancellationRequested,
    LeadCancelledByCustomer,
    LeadCreated,
    LeadNotificationOutcome,
    LeadOverdue,
    LeadRejected,
    LeadRequested,
    NotificationPurpose,
    Unusable,
    UnusableValue,
)
from osb_contracts.notifications import (
    NotificationFailed,
    NotificationResendRequested,
    NotificationSent,
)
from osb_contracts.topics import (
    BRANCH_SETTINGS,
    DMS_APPOINTMENTS,
    LEAD_EVENTS,
    LEAD_REQUESTS,
    NOTIFICATION_COMMANDS,
    NOTIFICATION_EVENTS,
)
from osb_contracts.values import Channel, LeadStatus
from osb_platform import make_broker, publish
from osb_platform.db import make_engine
from osb_platform.service import utc_now
from osb_testing.fuzz import RECORDS, drawn, records, send_then_valid
from osb_testing.kafka import TopicTail, header, move_group_to_end, wait_group_caught_up
from osb_testing.outbox import wait_outbox_drained
from osb_testing.proxy import database_proxy
from prometheus_client import REGISTRY

pytestmark = pytest.mark.integration

JWT_SECRET = "test-secret-of-at-least-32-characters!"
BRANCH = "HH-01"
ALL = [Permission.LEAD_MANAGER, Permission.OSB_ADMIN, Permission.EDIT_CANCELLED]


def bearer(*permissions: Permission, branch: str = BRANCH, user: str = "anna") -> dict[str, str]:
    token = issue_token(JWT_SECRET, user=user, name=user.title(), branches={branch: permissions})
    return {"Authorization": f"Bearer {token}"}


ADVISOR = bearer(Permission.LEAD_MANAGER)
ADMIN = bearer(*ALL, user="root")


class Harness:
    def __init__(
        self,
        http: httpx.AsyncClient,
        bus: KafkaBroker,
        tail: TopicTail,
        *,
        bootstrap: str,
        group: str,
        database_url: str,
    ) -> None:
        self.http, self.bus, self.tail = http, bus, tail
        self.bootstrap, self.group, self.database_url = bootstrap, group, database_url

    async def settled(self, lead_id: uuid.UUID) -> None:
        """Every lead request so far handled, the lead's events published and read."""
        requests = LEAD_REQUESTS.name
        await wait_group_caught_up(self.bootstrap, f"{self.group}.{requests}", [requests])
        await wait_outbox_drained(self.database_url, [str(lead_id)])
        await self.tail.caught_up()

    async def request_lead(self, message: LeadRequested | LeadCancellationRequested) -> None:
        await publish(
            self.bus,
            message,
            topic=LEAD_REQUESTS,
            key=str(message.lead_id),
            source="/test/lead-intake",
        )

    async def event(self, lead_id: uuid.UUID, kind: type[Any], count: int = 1) -> Any:
        key = str(lead_id).encode()
        ce_type = kind.cloudevents_type()
        records = await self.tail.wait_for(
            lambda r: r.key == key and header(r, "ce_type") == ce_type, count=count
        )
        return decode(records[-1].headers, records[-1].value, records[-1].key).message

    async def lead(self, lead_id: uuid.UUID, status: str | None = None) -> dict[str, Any]:
        async with asyncio.timeout(30):
            while True:
                response = await self.http.get(f"/api/v1/leads/{lead_id}", headers=ADVISOR)
                if response.status_code == 200 and status in (None, response.json()["status"]):
                    return dict(response.json())
                await asyncio.sleep(0.05)


@pytest.fixture
async def harness(
    kafka_bootstrap_servers: str, database_urls: dict[str, str], lead_manager_client: Any
) -> AsyncIterator[Harness]:
    group = f"lead-manager-test-{uuid.uuid4().hex[:8]}"
    bus = make_broker(kafka_bootstrap_servers, client_id="test-bus")
    await bus.start()
    async with (
        lead_manager_client(group) as http,
        TopicTail(
            kafka_bootstrap_servers,
            LEAD_EVENTS.name,
            DMS_APPOINTMENTS.dlq,
            LEAD_REQUESTS.dlq,
            NOTIFICATION_EVENTS.dlq,
            NOTIFICATION_COMMANDS.name,
            BRANCH_SETTINGS.name,
        ) as tail,
    ):
        settings_body = {
            "name": "Autohaus Hansa Hamburg",
            "acceptors": [{"id": "anna", "name": "Anna Albers", "active": True}],
            "sms_enabled": True,
        }
        r = await http.put(f"/api/v1/branches/{BRANCH}/settings", json=settings_body, headers=ADMIN)
        assert r.status_code == 200, r.text
        yield Harness(
            http,
            bus,
            tail,
            bootstrap=kafka_bootstrap_servers,
            group=group,
            database_url=database_urls["lead-manager"],
        )
    await bus.stop()


async def test_a_lead_request_becomes_a_new_lead_with_lead_created(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    await harness.request_lead(request)
    await harness.request_lead(request)  # delivered twice: still one lead
    detail = await harness.lead(request.lead_id)
    assert detail["status"] == "NEW"
    assert detail["booking_id"] == request.booking_id
    assert [h["action"] for h in detail["history"]] == ["created"]
    created = await harness.event(request.lead_id, LeadCreated)
    assert created.booking_id == request.booking_id
    await harness.settled(request.lead_id)
    assert len(harness.tail.matching(lambda r: r.key == str(request.lead_id).encode())) == 1
    metrics = (await harness.http.get("/metrics/")).text
    assert "osb_lead_manager_leads_created_total" in metrics


async def test_what_the_customer_typed_unusably_is_on_the_lead_and_on_the_page(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    kept = UnusableValue(field="customer.mobile", value="0172 abc", code=Unusable.PHONE_INVALID)
    request = lead_request(mobile=None).model_copy(update={"unusable": (kept,)})
    await harness.request_lead(request)
    detail = await harness.lead(request.lead_id)
    assert detail["unusable"] == [
        {"field": "customer.mobile", "value": "0172 abc", "code": "PHONE_INVALID"}
    ]
    assert (await harness.event(request.lead_id, LeadCreated)).unusable == (kept,)
    panel = await harness.http.get(f"/ui/leads/{request.lead_id}", headers=ADVISOR)
    assert panel.status_code == 200
    assert "Telefonnummer ungültig: <q>0172 abc</q> (nicht verwendet)" in panel.text


async def test_reject_by_sms_and_by_email(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    await harness.request_lead(request)
    await harness.lead(request.lead_id)

    draft = await harness.http.get(
        f"/api/v1/leads/{request.lead_id}/rejection-draft",
        params={"channel": "SMS"},
        headers=ADVISOR,
    )
    assert draft.status_code == 200, draft.text
    assert draft.json()["channels"] == ["SMS", "EMAIL"]
    assert "Autohaus Hansa Hamburg" in draft.json()["text"]

    edited = draft.json()["text"] + " Bis bald!"
    body = {"channel": "SMS", "text": edited, "expected_version": 1}
    # a reason not in the branch's list is refused, nothing changes
    r = await harness.http.post(
        f"/api/v1/leads/{request.lead_id}/reject",
        json={**body, "reason": "Keine Lust"},
        headers=ADVISOR,
    )
    assert (r.status_code, r.json()["code"]) == (422, "REASON_UNKNOWN")
    r = await harness.http.post(
        f"/api/v1/leads/{request.lead_id}/reject",
        json={**body, "reason": "Doppelte Buchung"},
        headers=ADVISOR,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "REJECTED"
    rejected = await harness.event(request.lead_id, LeadRejected)
    assert (rejected.text, rejected.channel.value, rejected.recipient, rejected.reason) == (
        edited,
        "SMS",
        "+491701234567",
        "Doppelte Buchung",
    )
    # Rejected twice: refused with the reason, nothing changes.
    again = await harness.http.post(
        f"/api/v1/leads/{request.lead_id}/reject",
        json={"channel": "EMAIL", "text": "x"},
        headers=ADVISOR,
    )
    assert again.status_code == 409
    assert "REJECTED" in again.json()["error"]
    detail = await harness.lead(request.lead_id)
    assert detail["read_only"] is True
    assert [h["action"] for h in detail["history"]] == ["created", "rejected"]


async def test_sms_needs_the_branch_option(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    body = {
        "name": "Hamburg ohne SMS",
        "acceptors": [{"id": "anna", "name": "Anna"}],
        "sms_enabled": False,
    }
    r = await harness.http.put(f"/api/v1/branches/{BRANCH}/settings", json=body, headers=ADMIN)
    assert r.json()["rejection_channels"] == ["EMAIL"]
    request = lead_request()
    await harness.request_lead(request)
    await harness.lead(request.lead_id)
    r = await harness.http.post(
        f"/api/v1/leads/{request.lead_id}/reject",
        json={"channel": "SMS", "text": "Nein"},
        headers=ADVISOR,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "channel"
    assert (await harness.lead(request.lead_id))["status"] == "NEW"


async def test_changed_settings_are_published_for_the_notifier(harness: Harness) -> None:
    body = {
        "name": "Autohaus Hansa Hamburg",
        "acceptors": [{"id": "anna", "name": "Anna"}],
        "sms_enabled": False,
        "sender_email": "osb@hansa.example",
        "templates": {"confirmation_sms": "Termin am {{ date }}"},
    }
    r = await harness.http.put(f"/api/v1/branches/{BRANCH}/settings", json=body, headers=ADMIN)
    version = r.json()["version"]
    ce_type = BranchSettingsChanged.cloudevents_type()
    (record,) = await harness.tail.wait_for(
        lambda r: (
            r.key == BRANCH.encode()
            and header(r, "ce_type") == ce_type
            and decode(r.headers, r.value, r.key).message.settings_version == version
        )
    )
    published = decode(record.headers, record.value, record.key).message
    assert isinstance(published, BranchSettingsChanged)
    assert (published.sms_enabled, published.sender_email) == (False, "osb@hansa.example")
    assert published.templates == {"confirmation_sms": "Termin am {{ date }}"}


async def test_customer_cancellation_and_a_bad_record(
    harness: Harness, lead_request: Callable[..., LeadRequested], kafka_bootstrap_servers: str
) -> None:
    request = lead_request()
    cancel = LeadCancellationRequested(
        lead_id=request.lead_id,
        booking_id=request.booking_id,
        branch_id=BRANCH,
        cancelled_at=datetime.now(UTC),
        reason="Termin passt nicht",
    )
    await harness.request_lead(request)
    await harness.request_lead(cancel)
    event = await harness.event(request.lead_id, LeadCancelledByCustomer)
    assert event.previous_status.value == "NEW"
    detail = await harness.lead(request.lead_id, "CANCELLED_BY_CUSTOMER")
    assert detail["status"] == "CANCELLED_BY_CUSTOMER"

    key = f"poison-{uuid.uuid4().hex[:6]}".encode()
    await harness.bus.publish(
        b"\x00\x01", DMS_APPOINTMENTS.name, key=key, headers={"ce_type": "nonsense"}
    )
    (letter,) = await harness.tail.wait_for(lambda r: r.key == key)
    assert header(letter, "osb_dlq_service") == "lead-manager"
    assert "CloudEvents" in (header(letter, "osb_dlq_reason") or "")


async def test_a_request_that_keeps_failing_alone_is_dead_lettered_and_the_rest_flows(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    """The database refuses one lead for a reason of its own (a trigger here, an encoding
    error in the field): after bounded retries it goes to the dead-letter topic and the
    requests around it, on its partition and the others, become leads."""
    poison_name = f"Gift{uuid.uuid4().hex[:8]}"
    trigger = f"refuse_{poison_name.lower()}"
    connection = await asyncpg.connect(harness.database_url)
    await connection.execute(
        f"""
        CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.customer->>'last_name' = '{poison_name}' THEN
                RAISE EXCEPTION 'refused for the test';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {trigger} BEFORE INSERT ON leads
            FOR EACH ROW EXECUTE FUNCTION {trigger}();
        """
    )
    try:
        before = [lead_request() for _ in range(5)]
        poison = lead_request(last_name=poison_name)
        after = [lead_request() for _ in range(5)]
        for request in [*before, poison, *after]:
            await harness.request_lead(request)
        for request in [*before, *after]:
            assert (await harness.lead(request.lead_id))["status"] == "NEW"
        (letter,) = await harness.tail.wait_for(
            lambda r: r.topic == LEAD_REQUESTS.dlq and r.key == str(poison.lead_id).encode()
        )
        assert header(letter, "osb_dlq_service") == "lead-manager"
        assert header(letter, "osb_dlq_reason") == "processing failed: RaiseError"
        assert "refused for the test" in (header(letter, "osb_dlq_errors") or "")
        await harness.settled(poison.lead_id)
        missing = await harness.http.get(f"/api/v1/leads/{poison.lead_id}", headers=ADVISOR)
        assert missing.status_code == 404
        assert len(harness.tail.matching(lambda r: r.topic == LEAD_REQUESTS.dlq)) == 1
    finally:
        await connection.execute(f"DROP TRIGGER {trigger} ON leads; DROP FUNCTION {trigger}();")
        await connection.close()


async def test_permissions_and_the_edit_cancelled_right(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request(customer_number="K-1")
    await harness.request_lead(request)
    await harness.lead(request.lead_id)
    path = f"/api/v1/leads/{request.lead_id}"
    anonymous = await harness.http.get(path)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "NOT_SIGNED_IN")
    garbage = await harness.http.get(path, headers={"Authorization": "Bearer nope"})
    assert (garbage.status_code, garbage.json()["code"]) == (401, "TOKEN_INVALID")
    other = bearer(Permission.LEAD_MANAGER, branch="M-01")
    r = await harness.http.get(path, headers=other)
    assert r.status_code == 403
    assert (r.json()["code"], r.json()["params"]["permission"]) == (
        "PERMISSION_MISSING",
        "LEAD_MANAGER",
    )
    r = await harness.http.put(
        f"/api/v1/branches/{BRANCH}/settings", json={"name": "x"}, headers=ADVISOR
    )
    assert r.status_code == 403
    assert (r.json()["code"], r.json()["params"]["permission"]) == (
        "PERMISSION_MISSING",
        "OSB_ADMIN",
    )

    await harness.http.post(
        f"{path}/reject", json={"channel": "EMAIL", "text": "Leider nicht"}, headers=ADVISOR
    )
    detail = await harness.lead(request.lead_id, "REJECTED")
    assert detail["read_only"] is True
    senior = bearer(Permission.LEAD_MANAGER, Permission.EDIT_CANCELLED, user="sven")
    r = await harness.http.get(path, headers=senior)
    assert r.json()["read_only"] is False


async def test_list_search_counter_and_configuration_check(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    branch = f"T-{uuid.uuid4().hex[:6]}"
    token = bearer(*ALL, branch=branch)
    check = await harness.http.get(f"/api/v1/branches/{branch}/configuration-check", headers=token)
    assert check.json() == {
        "ok": False,
        "code": NO_ACTIVE_ACCEPTOR,
        "message": CONFIGURATION_TEXTS[NO_ACTIVE_ACCEPTOR],
    }
    assert "kein aktiver Annehmer" in check.json()["message"]

    requests = []
    for i in range(11):
        r = lead_request(last_name=f"Zander{i}").model_copy(update={"branch_id": branch})
        requests.append(r)
        await harness.request_lead(r)
    async with asyncio.timeout(30):
        while True:
            counter = (
                await harness.http.get(
                    "/api/v1/leads/open-count", params={"branch_id": branch}, headers=token
                )
            ).json()
            if counter["count"] == 11:
                break
            await asyncio.sleep(0.1)
    assert counter == {"count": 11, "display": "9+"}

    page1 = (
        await harness.http.get(
            "/api/v1/leads", params={"branch_id": branch, "limit": 6}, headers=token
        )
    ).json()
    page2 = (
        await harness.http.get(
            "/api/v1/leads",
            params={"branch_id": branch, "limit": 6, "cursor": page1["next_cursor"]},
            headers=token,
        )
    ).json()
    ids = [i["id"] for i in page1["items"] + page2["items"]]
    assert len(ids) == len(set(ids)) == 11
    assert page2["next_cursor"] is None

    async def search(q: str) -> list[str]:
        params = {"branch_id": branch, "q": q}
        found = (await harness.http.get("/api/v1/leads", params=params, headers=token)).json()
        return sorted(i["customer"]["last_name"] for i in found["items"])

    target = requests[7]
    for q in ("zander7", "ZANDER7 karla", str(target.customer.email), target.booking_id.lower()):
        assert await search(q) == ["Zander7"], q
    for q in ("HH-KK 77", "hhkk77"):  # every lead has this plate
        assert len(await search(q)) == 11, q
    assert await search("zander7 nobody") == []


async def test_pages_over_several_branches_and_statuses_are_complete_and_ordered(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    run = uuid.uuid4().hex[:6]
    branches = [f"P1-{run}", f"P2-{run}"]
    token = issue_token(
        JWT_SECRET,
        user="anna",
        name="Anna",
        branches={b: [Permission.LEAD_MANAGER] for b in branches},
    )
    headers = {"Authorization": f"Bearer {token}"}
    expected = set()
    for i in range(7):
        r = lead_request(last_name=f"Page{i}").model_copy(update={"branch_id": branches[i % 2]})
        expected.add(str(r.lead_id))
        await harness.request_lead(r)
    params: dict[str, Any] = {"branch_id": branches, "status": ["NEW", "SCHEDULED"], "limit": 3}
    async with asyncio.timeout(30):
        while True:
            page = (
                await harness.http.get(
                    "/api/v1/leads", params={**params, "limit": 50}, headers=headers
                )
            ).json()
            if len(page["items"]) == 7:
                break
            await asyncio.sleep(0.1)
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = (await harness.http.get("/api/v1/leads", params=query, headers=headers)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert {i["id"] for i in seen} == expected
    assert len(seen) == 7
    keys = [(datetime.fromisoformat(i["received_at"]), uuid.UUID(i["id"])) for i in seen]
    assert keys == sorted(keys, reverse=True)


async def test_notification_outcomes_reach_the_history_and_a_resend_can_be_asked(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    request = lead_request()
    await harness.request_lead(request)
    await harness.lead(request.lead_id)
    notification = uuid.uuid4()
    failed = NotificationFailed(
        notification_id=notification,
        lead_id=request.lead_id,
        branch_id=BRANCH,
        source_event_id="evt-x",
        source_event_type="osb.lead.LeadRejected.v1",
        channel=Channel.EMAIL,
        failed_at=datetime.now(UTC),
        attempts=8,
        permanent=False,
        error_code="SMTP_UNAVAILABLE",
        reason="connection refused",
    )
    await publish(
        harness.bus,
        failed,
        topic=NOTIFICATION_EVENTS,
        key=str(request.lead_id),
        source="/osb/notifier",
    )
    async with asyncio.timeout(30):
        while True:
            history = (await harness.lead(request.lead_id))["history"]
            if history[-1]["action"] == "notification failed":
                break
            await asyncio.sleep(0.05)
    entry = history[-1]
    assert entry["details"]["notification_id"] == str(notification)
    assert entry["details"]["error_code"] == "SMTP_UNAVAILABLE"
    assert entry["reason"] == "connection refused"
    assert entry["actor_name"] == "Benachrichtigung"
    # told to every page and to the figures as a lead event (no recipient, no text)
    outcome = await harness.event(request.lead_id, LeadNotificationOutcome)
    assert (outcome.notification_id, outcome.delivered, outcome.error_code) == (
        notification,
        False,
        "SMTP_UNAVAILABLE",
    )
    assert (outcome.purpose, outcome.status) == (NotificationPurpose.CUSTOMER, LeadStatus.NEW)

    path = f"/api/v1/leads/{request.lead_id}/notifications"
    unknown = await harness.http.post(f"{path}/{uuid.uuid4()}/resend", headers=ADVISOR)
    assert unknown.status_code == 422
    r = await harness.http.post(f"{path}/{notification}/resend", headers=ADVISOR)
    assert r.status_code == 202, r.text
    command = await harness.event(request.lead_id, NotificationResendRequested)
    assert (command.notification_id, command.requested_by) == (notification, "anna")
    detail = await harness.lead(request.lead_id)
    assert detail["history"][-1]["action"] == "notification resend requested"


async def test_bad_input_is_a_4xx_naming_the_field_never_a_500(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    put = f"/api/v1/branches/{BRANCH}/settings"
    base = {"name": "Autohaus Hansa Hamburg", "acceptors": [{"id": "anna", "name": "Anna"}]}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"duplicate_criteria": ["ADDRESS"] * 5}, "duplicate_criteria"),
        ({"duplicate_criteria": ["ADDRESS", "ADDRESS"]}, "duplicate_criteria"),
        ({"name": "Autohaus\u0000Hansa"}, "name"),
        ({"templates": {"rejection_email": "Guten Tag\u0000"}}, "templates.rejection_email"),
        ({"templates": {"rejection_sms": "{{ 'a' * 100000000 }}"}}, "templates.rejection_sms"),
        ({"templates": {"rejection_sms": "{{ range(10**8) }}"}}, "templates.rejection_sms"),
        ({"templates": {"rejection_sms": "Hallo {{ nmae }}"}}, "templates.rejection_sms"),
        ({"sender_email": "osb@hansa.example\r\nBcc: x@y.de"}, "sender_email"),
        (
            {"acceptors": [{"id": "anna", "name": "A"}, {"id": "anna", "name": "B"}]},
            "acceptors",
        ),
        ({"expected_version": 2**40}, "expected_version"),  # past the integer column
    ]
    for change, field in cases:
        r = await harness.http.put(put, json=base | change, headers=ADMIN)
        assert r.status_code == 422, (change, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], r.text
    # the branch still works: identification and the list answer
    request = lead_request()
    await harness.request_lead(request)
    await harness.lead(request.lead_id)

    nowhere = bearer(Permission.OSB_ADMIN)  # no LEAD_MANAGER for any branch
    for path in ("/api/v1/leads", "/api/v1/leads/open-count"):
        r = await harness.http.get(path, headers=nowhere)
        assert r.status_code == 403, r.text
    r = await harness.http.get("/api/v1/leads", params={"q": "Kr\u0000"}, headers=ADVISOR)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["query.q"]

    r = await harness.http.post(
        f"/api/v1/leads/{request.lead_id}/reject",
        json={"channel": "EMAIL", "text": "Leider nicht.", "subject": "Termin\r\nBcc: x@y.de"},
        headers=ADVISOR,
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["subject"]
    assert (await harness.lead(request.lead_id))["status"] == "NEW"


# Arbitrary records (Hypothesis draws them): each one handled or dead-lettered, and the
# records behind it still handled.
def fuzz_template(topic: Topic, lead_request: Callable[..., LeadRequested]) -> Message:
    """A valid message of the topic, for Hypothesis to vary."""
    now = datetime.now(UTC)
    if topic is LEAD_REQUESTS:
        return lead_request()
    if topic is DMS_APPOINTMENTS:
        return AppointmentDeleted(appointment_id=uuid.uuid4(), branch_id=BRANCH, deleted_at=now)
    return NotificationSent(
        notification_id=uuid.uuid4(),
        lead_id=uuid.uuid4(),
        branch_id=BRANCH,
        source_event_id="evt-fuzz",
        source_event_type=LeadRejected.cloudevents_type(),
        channel=Channel.EMAIL,
        sent_at=now,
        attempts=1,
    )


@pytest.mark.fuzz
@pytest.mark.parametrize(
    "topic", [LEAD_REQUESTS, DMS_APPOINTMENTS, NOTIFICATION_EVENTS], ids=lambda t: t.name
)
async def test_every_record_is_handled_or_dead_lettered_and_the_rest_flows(
    harness: Harness, lead_request: Callable[..., LeadRequested], topic: Topic
) -> None:
    """Records drawn at random on one partition, then a valid one: the group commits past all
    of them (commits follow the effect), every record the codec refuses is dead-lettered, and
    no valid one is (its processing must not fail either)."""
    template = fuzz_template(topic, lead_request)
    valid = encode(template, key="template", source="/fuzz")
    fuzzed = drawn(records(json.loads(valid.value), valid.header_list), RECORDS)
    key = f"fuzz-{uuid.uuid4().hex[:8]}".encode()  # one partition: the valid one comes last
    last = encode(fuzz_template(topic, lead_request), key=key.decode(), source="/fuzz")
    sent = await send_then_valid(harness.bootstrap, topic.name, key, fuzzed, last)
    group = f"{harness.group}.{topic.name}"
    await wait_group_caught_up(harness.bootstrap, group, [topic.name])  # nothing stopped it
    await harness.tail.caught_up()
    letters = {
        int(header(r, "osb_dlq_offset") or -1): r
        for r in harness.tail.matching(lambda r: r.topic == topic.dlq and r.key == key)
    }
    for (value, hdrs), meta in zip(fuzzed, sent, strict=True):
        try:
            decode([(k, bytes(v)) for k, v in hdrs], value, key, expect=topic.messages)
        except ContractError:
            assert meta.offset in letters, f"not dead-lettered: {value[:80]!r}"
        else:
            assert meta.offset not in letters, f"a valid record dead-lettered: {value[:80]!r}"


def failed_tries(topic: str) -> float:
    """Handler failures on the topic in this process so far (each try of a batch counts)."""
    return REGISTRY.get_sample_value("osb_messages_failed_total", {"topic": topic}) or 0.0


async def test_a_database_that_is_down_is_waited_for_and_nothing_is_dead_lettered(
    kafka_bootstrap_servers: str,
    database_urls: dict[str, str],
    lead_request: Callable[..., LeadRequested],
) -> None:
    """PostgreSQL unreachable (through a proxy taken down): the requests are tried again and
    again, more often than a record's own failure would be, and none is dead-lettered; the
    advisor's list is a 503 with Retry-After; back up, each becomes a lead."""
    proxy, proxied = database_proxy(database_urls["lead-manager"])
    group = f"lead-manager-down-{uuid.uuid4().hex[:8]}"
    for topic in (LEAD_REQUESTS.name, DMS_APPOINTMENTS.name, NOTIFICATION_EVENTS.name):
        await move_group_to_end(kafka_bootstrap_servers, f"{group}.{topic}", [topic])
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=proxied,
        jwt_secret=JWT_SECRET,
        consumer_group=group,
    )
    requests = [lead_request() for _ in range(3)]
    keys = {str(r.lead_id).encode() for r in requests}
    bus = make_broker(kafka_bootstrap_servers, client_id="test-bus")
    await proxy.up()
    app = create_app(settings)
    await bus.start()
    try:
        async with (
            app.router.lifespan_context(app),
            TopicTail(kafka_bootstrap_servers, LEAD_REQUESTS.dlq) as tail,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lm") as http,
        ):
            await proxy.down()
            before = failed_tries(LEAD_REQUESTS.name)
            for r in requests:
                await publish(
                    bus, r, topic=LEAD_REQUESTS, key=str(r.lead_id), source="/test/lead-intake"
                )
            # the advisor's list meanwhile: a 503 to try again later, not a 500
            for _ in range(3):
                listed = await http.get("/api/v1/leads", headers=ADVISOR)
                assert listed.status_code == 503, listed.text
                assert listed.headers["Retry-After"] == "5"
            async with asyncio.timeout(60):
                # more tries than PoisonGuard gives a record failing for its own reason
                while failed_tries(LEAD_REQUESTS.name) - before < 5:
                    await asyncio.sleep(0.1)
            await proxy.up()
            conn = await asyncpg.connect(database_urls["lead-manager"])
            try:
                async with asyncio.timeout(60):
                    while await conn.fetchval(
                        "SELECT count(*) FROM leads WHERE id = ANY($1::uuid[])",
                        [r.lead_id for r in requests],
                    ) < len(requests):
                        await asyncio.sleep(0.1)
            finally:
                await conn.close()
            await wait_group_caught_up(
                kafka_bootstrap_servers, f"{group}.{LEAD_REQUESTS.name}", [LEAD_REQUESTS.name]
            )
            await tail.caught_up()
            assert tail.matching(lambda r: r.key in keys) == []
            assert (await http.get("/api/v1/leads", headers=ADVISOR)).status_code == 200
    finally:
        await bus.stop()
        await proxy.down()


async def test_new_leads_get_a_response_deadline_and_the_overdue_come_first(
    harness: Harness, lead_request: Callable[..., LeadRequested]
) -> None:
    branch = f"D-{uuid.uuid4().hex[:6]}"
    token = bearer(*ALL, branch=branch)
    every_day = {day: [{"opens": "00:00", "closes": "23:59"}] for day in WEEKDAYS}
    body = {
        "name": "Autohaus Frist",
        "acceptors": [{"id": "anna", "name": "Anna Albers", "active": True}],
        "opening_hours": every_day,
        "holiday_region": "DE-HH",
        "response_minutes": 60,
        "escalation_email": "leitung@frist.example",
    }
    settings_url = f"/api/v1/branches/{branch}/settings"
    for wrong, field in (
        ({"opening_hours": {"mon": [{"opens": "10:00", "closes": "09:00"}]}}, "closes"),
        (
            {
                "opening_hours": {
                    "mon": [
                        {"opens": "08:00", "closes": "12:00"},
                        {"opens": "11:00", "closes": "17:00"},
                    ]
                }
            },
            "opening_hours",
        ),
        ({"opening_hours": {}}, "opening_hours"),
        ({"holiday_region": "DE-XX"}, "holiday_region"),
        ({"response_minutes": 5}, "response_minutes"),
        ({"reminder_offsets": [1440, 1440]}, "reminder_offsets"),
        ({"reminder_offsets": [5]}, "reminder_offsets.0"),
        ({"reminder_offsets": [60, 120, 180, 240, 300]}, "reminder_offsets"),
        ({"reminder_quiet": "LOUD"}, "reminder_quiet"),
    ):
        r = await harness.http.put(settings_url, json={**body, **wrong}, headers=token)
        assert r.status_code == 422, (wrong, r.text)
        assert any(e["field"].endswith(field) for e in r.json()["errors"]), (wrong, r.text)
    r = await harness.http.put(settings_url, json=body, headers=token)
    assert r.status_code == 200, r.text
    stored = (await harness.http.get(settings_url, headers=token)).json()
    assert stored["opening_hours"]["sun"] == [{"opens": "00:00", "closes": "23:59"}]
    assert (stored["holiday_region"], stored["response_minutes"]) == ("DE-HH", 60)
    # the defaults: a day and two hours before, a night's reminder the evening before
    assert (stored["reminder_offsets"], stored["reminder_quiet"]) == ([1440, 120], "EVENING_BEFORE")
    r = await harness.http.put(
        settings_url,
        json={**body, "reminder_offsets": [60, 2880], "reminder_quiet": "SKIP"},
        headers=token,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["reminder_offsets"], r.json()["reminder_quiet"]) == ([2880, 60], "SKIP")
    r = await harness.http.put(settings_url, json=body, headers=token)
    assert r.status_code == 200, r.text

    now = datetime.now(UTC)
    # two received on ordinary Mondays in November (no holiday), long overdue; two now
    older = datetime(2026, 11, 2, 9, tzinfo=UTC)
    old = datetime(2026, 11, 9, 9, tzinfo=UTC)
    received = {"older": older, "old": old, "now": now, "minute ago": now - timedelta(minutes=1)}
    requests = {
        name: lead_request(last_name=f"Frist {name}").model_copy(
            update={"branch_id": branch, "received_at": at}
        )
        for name, at in received.items()
    }
    for request in requests.values():
        await harness.request_lead(request)
    await harness.settled(requests["minute ago"].lead_id)
    ids = {str(r.lead_id): name for name, r in requests.items()}

    params: dict[str, Any] = {"branch_id": branch, "status": "NEW", "limit": 1}
    first = (await harness.http.get("/api/v1/leads", params=params, headers=token)).json()
    assert [ids[i["id"]] for i in first["items"]] == ["older", "old", "now"]
    assert first["overdue"] == 2
    deadlines = {ids[i["id"]]: i["deadline"] for i in first["items"]}
    assert deadlines["older"]["overdue"]
    assert deadlines["older"]["respond_by"] == "2026-11-02T10:00:00Z"
    assert deadlines["older"]["minutes"] > deadlines["old"]["minutes"] > 0
    assert not deadlines["now"]["overdue"]
    assert 59 <= deadlines["now"]["minutes"] <= 60
    second = (
        await harness.http.get(
            "/api/v1/leads", params={**params, "cursor": first["next_cursor"]}, headers=token
        )
    ).json()
    assert [ids[i["id"]] for i in second["items"]] == ["minute ago"]
    assert (second["overdue"], second["next_cursor"]) == (0, None)

    rows = await harness.http.get("/ui/leads", params={"branch_id": branch}, headers=token)
    assert rows.text.count('class="status-new overdue"') == 2
    panel = await harness.http.get(f"/ui/leads/{requests['old'].lead_id}", headers=token)
    assert "Antwort bis</dt>" in panel.text
    assert "09.11.2026 11:00 (überfällig seit" in panel.text

    # reported once: whoever runs first (this call or the service's own round), the other
    # finds nothing left for these leads
    engine = make_engine(harness.database_url, pool_size=1)
    try:
        await report_all_overdue(lambda: SqlUnitOfWork(engine, utc_now), datetime.now(UTC))
        await report_all_overdue(lambda: SqlUnitOfWork(engine, utc_now), datetime.now(UTC))
    finally:
        await engine.dispose()
    for name in ("older", "old"):
        overdue = await harness.event(requests[name].lead_id, LeadOverdue)
        assert overdue.escalation_email == "leitung@frist.example"
        assert overdue.respond_by == received[name] + timedelta(hours=1)
    await harness.settled(requests["old"].lead_id)
    reported = harness.tail.matching(
        lambda r: (
            header(r, "ce_type") == LeadOverdue.cloudevents_type()
            and r.key in {str(requests[n].lead_id).encode() for n in requests}
        )
    )
    assert sorted(ids[r.key.decode()] for r in reported) == ["old", "older"]
    detail = (
        await harness.http.get(f"/api/v1/leads/{requests['old'].lead_id}", headers=token)
    ).json()
    assert [h["action"] for h in detail["history"]] == ["created", "deadline passed"]
    assert detail["status"] == "NEW"
