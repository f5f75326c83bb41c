"""The notifier on the real broker and database, against a real SMTP server and HTTP gateway."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from notifier.domain.plan import notification_id
from notifier.entrypoints.app import create_app
from notifier.entrypoints.subscribers import WANTED
from notifier.settings import DEMO_BRANCHES, Settings
from osb_contracts import ContractError, Message, Topic, decode, encode
from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.leads import LeadRejected
from osb_contracts.notifications import (
    NotificationFailed,
    NotificationResendRequested,
    NotificationSent,
)
from osb_contracts.topics import (
    BRANCH_SETTINGS,
    LEAD_EVENTS,
    NOTIFICATION_COMMANDS,
    NOTIFICATION_EVENTS,
)
from osb_contracts.values import Channel, ConfirmationChannel
from osb_local_infra.smssink import SmsSink
from osb_platform import make_broker, publish
from osb_testing.factories import appointment, rejection
from osb_testing.fuzz import RECORDS, drawn, records, send_then_valid
from osb_testing.kafka import TopicTail, header, move_group_to_end, wait_group_caught_up
from osb_testing.mail import Smtp
from pydantic import SecretStr

pytestmark = pytest.mark.integration

# Branches of this module's own: lead-manager publishes its branches' settings (HH-01 as
# other tests left it) on a compacted topic every notifier reads, and they would win.
RUN = uuid.uuid4().hex[:8]
REPLY_TOKEN = "the-sms-gateways-reply-token"
HH, M = f"N{RUN}-HH", f"N{RUN}-M"


@dataclass
class Harness:
    bus: KafkaBroker
    tail: TopicTail
    smtp: Smtp
    sms: SmsSink
    app: FastAPI
    database_url: str
    bootstrap: str
    group: str

    async def event(self, message: Message, event_id: str | None = None) -> str:
        event_id = event_id or str(uuid.uuid4())
        await publish(
            self.bus,
            message,
            topic=LEAD_EVENTS,
            key=str(message.lead_id),  # type: ignore[attr-defined]
            source="/osb/lead-manager",
            event_id=event_id,
        )
        return event_id

    async def outcome(
        self, event_id: str, channel: Channel
    ) -> NotificationSent | NotificationFailed:
        key_id = str(notification_id(event_id, channel))

        def ours(r: Any) -> bool:
            return r.topic == NOTIFICATION_EVENTS.name and key_id.encode() in r.value

        (record,) = await self.tail.wait_for(ours)
        result = decode(record.headers, record.value, record.key).message
        assert isinstance(result, NotificationSent | NotificationFailed)
        return result

    def mails_to(self, address: str) -> list[Any]:
        return [m for m in self.smtp.sink.messages if m["To"] == address]

    async def marker(self, after: LeadRejected) -> None:
        """A rejection of the same lead (the same partition) behind ``after``, sent and
        reported: everything before it on the partition has been taken in and planned."""
        marker = rejection(branch=after.branch_id).model_copy(update={"lead_id": after.lead_id})
        sent = await self.outcome(await self.event(marker), Channel.EMAIL)
        assert isinstance(sent, NotificationSent)

    async def min_attempts(self, event_ids: list[str]) -> int:
        return int(await self._value("min(attempts)", event_ids) or 0)

    async def pending(self, event_ids: list[str]) -> int:
        return int(await self._value("count(*) FILTER (WHERE status = 'PENDING')", event_ids))

    async def _value(self, what: str, event_ids: list[str]) -> Any:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(
                f"SELECT {what} FROM notifications WHERE source_event_id = ANY($1)", event_ids
            )
        finally:
            await conn.close()


@pytest.fixture
async def harness(
    kafka_bootstrap_servers: str,
    database_urls: dict[str, str],
    smtp: Smtp,
    sms_gateway: tuple[SmsSink, str],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Harness]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    group = f"notifier-test-{uuid.uuid4().hex[:8]}"
    await move_group_to_end(kafka_bootstrap_servers, group, [LEAD_EVENTS.name])
    await move_group_to_end(
        kafka_bootstrap_servers, f"{group}.commands", [NOTIFICATION_COMMANDS.name]
    )
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_urls["notifier"],
        consumer_group=group,
        smtp_port=smtp.port,
        smtp_timeout_s=3,
        sms_gateway_url=sms_gateway[1],
        retry_base_delay_s=0.2,
        retry_max_delay_s=1.0,
        retry_max_attempts=30,
        branches={HH: DEMO_BRANCHES["HH-01"], M: DEMO_BRANCHES["M-01"]},
        sms_reply_token=SecretStr(REPLY_TOKEN),
    ).model_copy(update=overrides)
    app = create_app(settings)
    bus = make_broker(kafka_bootstrap_servers, client_id="test-lead-manager")
    await bus.start()
    async with (
        app.router.lifespan_context(app),
        TopicTail(kafka_bootstrap_servers, NOTIFICATION_EVENTS.name) as tail,
    ):
        yield Harness(
            bus,
            tail,
            smtp,
            sms_gateway[0],
            app,
            database_urls["notifier"],
            kafka_bootstrap_servers,
            group,
        )
    await bus.stop()


async def wait_until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def wait_until_async(count: Callable[[], Awaitable[int]], timeout: float = 30) -> None:
    """Until ``count()`` is 0."""
    async with asyncio.timeout(timeout):
        while await count():
            await asyncio.sleep(0.05)


async def test_the_mail_as_received(harness: Harness) -> None:
    event = rejection(
        text="Leider ist der Termin belegt.\n\nGrüße aus Öhringen – Ihr Team", branch=HH
    )
    event_id = await harness.event(event)
    sent = await harness.outcome(event_id, Channel.EMAIL)
    assert isinstance(sent, NotificationSent)
    assert (sent.lead_id, sent.attempts) == (event.lead_id, 1)
    (mail,) = harness.mails_to(event.recipient)
    assert mail["From"] == "Autohaus Hansa Hamburg <service@hansa-hamburg.example>"
    assert mail["Reply-To"] == "werkstatt@hansa-hamburg.example"
    assert mail["Subject"] == "Ihr Terminwunsch bei Autohaus Hansa Hamburg"
    assert (
        mail["Message-ID"] == f"<{notification_id(event_id, Channel.EMAIL)}@hansa-hamburg.example>"
    )
    # SMTP carries CRLF line ends; the text itself arrives unchanged.
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == event.text
    assert "Grüße aus Öhringen – Ihr Team" in mail.get_body(("html",)).get_content()


async def test_exactly_one_mail_per_event_under_redelivery(harness: Harness) -> None:
    event = rejection(branch=HH)
    event_id = str(uuid.uuid4())
    for _ in range(3):
        await harness.event(event, event_id)
    await harness.outcome(event_id, Channel.EMAIL)
    await harness.marker(after=event)
    assert len(harness.mails_to(event.recipient)) == 1
    outcomes = harness.tail.matching(
        lambda r: str(notification_id(event_id, Channel.EMAIL)).encode() in r.value
    )
    assert len(outcomes) == 1


async def test_smtp_down_for_a_while_then_everything_is_delivered(harness: Harness) -> None:
    harness.smtp.down()
    events = [rejection(branch=HH) for _ in range(5)]
    ids = [await harness.event(e) for e in events]
    async with asyncio.timeout(30):  # several failed attempts while the server is away
        while await harness.min_attempts(ids) < 2:
            await asyncio.sleep(0.05)
    assert all(not harness.mails_to(e.recipient) for e in events)
    harness.smtp.up()
    outcomes = [await harness.outcome(i, Channel.EMAIL) for i in ids]
    assert all(isinstance(o, NotificationSent) for o in outcomes)
    assert any(o.attempts > 1 for o in outcomes)
    assert [len(harness.mails_to(e.recipient)) for e in events] == [1] * 5


async def test_a_refused_address_fails_at_once(harness: Harness) -> None:
    event = rejection(branch=HH)
    harness.smtp.sink.refuse.add(event.recipient.lower())
    failed = await harness.outcome(await harness.event(event), Channel.EMAIL)
    assert isinstance(failed, NotificationFailed)
    assert (failed.permanent, failed.attempts, failed.error_code) == (True, 1, "SMTP_550")
    assert harness.mails_to(event.recipient) == []


async def test_sms_confirmation_and_the_branch_without_sms(harness: Harness) -> None:
    enabled = appointment(ConfirmationChannel.SMS, branch=HH)
    sent = await harness.outcome(await harness.event(enabled), Channel.SMS)
    assert isinstance(sent, NotificationSent)
    (sms,) = [m for m in harness.sms.messages if m["to"] == enabled.recipient]
    assert sms["text"] == (
        "Autohaus Hansa Hamburg: Ihr Werkstatttermin am 03.12.2026 um 09:30 Uhr ist bestätigt."
        " Keine SMS mehr? Antworten Sie STOP."
    )

    disabled = appointment(ConfirmationChannel.SMS, branch=M)
    failed = await harness.outcome(await harness.event(disabled), Channel.SMS)
    assert isinstance(failed, NotificationFailed)
    assert (failed.error_code, failed.permanent) == ("SMS_NOT_ENABLED", True)


async def test_the_branch_settings_lead_manager_publishes_decide(harness: Harness) -> None:
    # M is SMS-less in NOTIFIER_BRANCHES; lead-manager's OSB settings license SMS and set
    # the branch's own confirmation text, then withdraw the licence.
    async def settings(version: int, *, sms: bool) -> None:
        change = BranchSettingsChanged(
            branch_id=M,
            settings_version=version,
            name="Autohaus Isar (OSB)",
            sms_enabled=sms,
            templates={"confirmation_sms": "{{ branch }}: bis {{ date }}, {{ time }} Uhr!"},
            changed_at=datetime.now(UTC),
        )
        await publish(harness.bus, change, topic=BRANCH_SETTINGS, key=M, source="/osb/lead-manager")

    await settings(1, sms=True)
    licensed = appointment(ConfirmationChannel.SMS, branch=M)
    async with asyncio.timeout(10):  # the notifier follows the topic
        while True:
            outcome = await harness.outcome(await harness.event(licensed), Channel.SMS)
            if isinstance(outcome, NotificationSent):
                break
            licensed = appointment(ConfirmationChannel.SMS, branch=M)
            await asyncio.sleep(0.2)
    (sms,) = [m for m in harness.sms.messages if m["to"] == licensed.recipient]
    assert sms["text"] == "Autohaus Isar (OSB): bis 03.12.2026, 09:30 Uhr!"

    await settings(2, sms=False)
    await settings(1, sms=True)  # an older version arriving late changes nothing
    async with asyncio.timeout(10):
        while True:
            refused = appointment(ConfirmationChannel.SMS, branch=M)
            outcome = await harness.outcome(await harness.event(refused), Channel.SMS)
            if isinstance(outcome, NotificationFailed):
                break
            await asyncio.sleep(0.2)
    assert outcome.error_code == "SMS_NOT_ENABLED"
    await harness.app.state.branch_settings.caught_up()  # the late version 1 is read
    again = appointment(ConfirmationChannel.SMS, branch=M)
    last = await harness.outcome(await harness.event(again), Channel.SMS)
    assert isinstance(last, NotificationFailed)


async def test_gateway_errors_retry_and_refusals_fail(harness: Harness) -> None:
    harness.sms.fail_with = 503
    first = rejection(Channel.SMS, branch=HH)
    event_id = await harness.event(first)
    await wait_until(lambda: harness.sms.requests >= 2)
    harness.sms.fail_with = None
    sent = await harness.outcome(event_id, Channel.SMS)
    assert isinstance(sent, NotificationSent)
    assert sent.attempts >= 2

    harness.sms.fail_with = 400
    failed = await harness.outcome(
        await harness.event(rejection(Channel.SMS, branch=HH)), Channel.SMS
    )
    assert isinstance(failed, NotificationFailed)
    assert (failed.error_code, failed.permanent, failed.attempts) == ("SMS_400", True, 1)


async def test_a_resend_request_sends_once_more(harness: Harness) -> None:
    event = rejection(branch=HH)
    event_id = await harness.event(event)
    first = await harness.outcome(event_id, Channel.EMAIL)
    command = NotificationResendRequested(
        notification_id=first.notification_id,
        lead_id=event.lead_id,
        branch_id=event.branch_id,
        requested_by="anna",
        requested_at=datetime.now(UTC),
    )
    for _ in range(2):  # the same command delivered twice: one more mail, not two
        await publish(
            harness.bus,
            command,
            topic=NOTIFICATION_COMMANDS,
            key=str(event.lead_id),
            source="/osb/lead-manager",
            event_id=f"resend-{event_id}",
        )
    await wait_until(lambda: len(harness.mails_to(event.recipient)) == 2)
    # The command's group at the end of the commands: both deliveries are handled.
    await wait_group_caught_up(
        harness.bootstrap, f"{harness.group}.commands", [NOTIFICATION_COMMANDS.name]
    )
    await wait_until_async(lambda: harness.pending([event_id]), timeout=30)
    mails = harness.mails_to(event.recipient)
    assert len(mails) == 2
    assert mails[0]["Message-ID"] == mails[1]["Message-ID"]


@pytest.mark.parametrize("harness", [{"retry_max_attempts": 3}], indirect=True)
async def test_after_the_last_attempt_the_notification_fails(harness: Harness) -> None:
    harness.smtp.down()
    event = rejection(branch=HH)
    failed = await harness.outcome(await harness.event(event), Channel.EMAIL)
    assert isinstance(failed, NotificationFailed)
    assert (failed.attempts, failed.permanent, failed.error_code) == (3, False, "SMTP_UNAVAILABLE")
    harness.smtp.up()
    await harness.marker(after=event)  # the server is back and takes mail
    assert harness.mails_to(event.recipient) == []


@pytest.mark.fuzz
@pytest.mark.parametrize("topic", [LEAD_EVENTS, NOTIFICATION_COMMANDS], ids=lambda t: t.name)
async def test_every_record_is_handled_skipped_or_dead_lettered_and_the_rest_flows(
    harness: Harness, topic: Topic
) -> None:
    """Records drawn at random (Hypothesis) on one partition, then a valid one: the group
    commits past all of them; a record of a type the notifier acts on is dead-lettered
    exactly when the codec refuses it; others on the lead events are not its to judge."""
    template: Message = rejection(branch=HH)
    if topic is NOTIFICATION_COMMANDS:
        template = NotificationResendRequested(
            notification_id=uuid.uuid4(),
            lead_id=uuid.uuid4(),
            branch_id=HH,
            requested_by="anna",
            requested_at=datetime.now(UTC),
        )
    valid = encode(template, key="template", source="/fuzz")
    fuzzed = drawn(records(json.loads(valid.value), valid.header_list), RECORDS)
    key = f"fuzz-{uuid.uuid4().hex[:8]}".encode()
    wanted = WANTED if topic is LEAD_EVENTS else {m.cloudevents_type() for m in topic.messages}
    async with TopicTail(harness.bootstrap, topic.dlq) as letters_tail:
        sent = await send_then_valid(harness.bootstrap, topic.name, key, fuzzed, valid)
        group = harness.group if topic is LEAD_EVENTS else f"{harness.group}.commands"
        await wait_group_caught_up(harness.bootstrap, group, [topic.name])
        await letters_tail.caught_up()
    letters = {
        int(header(r, "osb_dlq_offset") or -1)
        for r in letters_tail.matching(lambda r: r.key == key)
    }
    for (value, hdrs), meta in zip(fuzzed, sent, strict=True):
        headers = [(k, bytes(v)) for k, v in hdrs]
        ce_type = next((v.decode(errors="replace") for k, v in headers if k == "ce_type"), None)
        try:
            decode(headers, value, key, expect=topic.messages)
            refused = False
        except ContractError:
            refused = True
        ours = ce_type in wanted if topic is LEAD_EVENTS else True
        assert (meta.offset in letters) == (refused and ours), (value[:80], ce_type)


async def test_a_customer_who_answers_stop_gets_no_more_sms_until_start(harness: Harness) -> None:
    number = f"+49176{uuid.uuid4().int % 90_000_000 + 10_000_000}"  # this test's alone
    first = appointment(ConfirmationChannel.SMS, branch=HH).model_copy(update={"recipient": number})
    assert isinstance(
        await harness.outcome(await harness.event(first), Channel.SMS), NotificationSent
    )
    transport = httpx.ASGITransport(app=harness.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as http:

        async def reply(text: str, token: str = REPLY_TOKEN) -> httpx.Response:
            return await http.post(
                "/api/v1/sms/replies",
                json={"from": number, "text": text},
                headers={"Authorization": f"Bearer {token}"},
            )

        refused = await reply("STOP", token="guessed")
        assert (refused.status_code, refused.json()["code"]) == (401, "UNAUTHORIZED")
        stopped = await reply("Stopp")
        assert (stopped.status_code, stopped.json()) == (200, {"outcome": "OPTED_OUT"})
        second = appointment(ConfirmationChannel.SMS, branch=HH).model_copy(
            update={"recipient": number}
        )
        failed = await harness.outcome(await harness.event(second), Channel.SMS)
        assert isinstance(failed, NotificationFailed)
        assert (failed.error_code, failed.permanent) == ("SMS_OPTED_OUT", True)
        assert len([m for m in harness.sms.messages if m["to"] == number]) == 1
        assert (await reply("START")).json() == {"outcome": "OPTED_IN"}
        third = appointment(ConfirmationChannel.SMS, branch=HH).model_copy(
            update={"recipient": number}
        )
        sent = await harness.outcome(await harness.event(third), Channel.SMS)
        assert isinstance(sent, NotificationSent)
        assert len([m for m in harness.sms.messages if m["to"] == number]) == 2
