"""The notifier stopped (SIGKILL or SIGTERM) in the middle of 500 events (rejections and
appointments' reminders), then restarted."""

from __future__ import annotations

import asyncio
import signal
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from osb_contracts import decode, encode
from osb_contracts.leads import LeadRejected, LeadReminderDue
from osb_contracts.notifications import NotificationSent
from osb_contracts.topics import LEAD_EVENTS, NOTIFICATION_EVENTS
from osb_testing.factories import rejection, reminder
from osb_testing.kafka import TopicTail, header
from osb_testing.mail import Smtp
from osb_testing.outbox import wait_outbox_drained
from osb_testing.system import notifier_process

pytestmark = pytest.mark.e2e

EVENTS = 500
DISPATCH_BATCH = 50


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
async def test_every_event_is_notified_and_duplicates_stay_within_the_window(
    kafka_bootstrap_servers: str, database_urls: dict[str, str], smtp: Smtp, stop: str
) -> None:
    """SIGKILL: a mail sent but not yet marked goes out again (at most one claimed batch).
    SIGTERM: the batch in hand is sent and marked before the process ends: no mail twice."""
    run = uuid.uuid4().hex[:8]
    notifier = await notifier_process(
        run,
        bootstrap=kafka_bootstrap_servers,
        database_url=database_urls["notifier"],
        smtp_port=smtp.port,
        # A claimed notification whose sender died is taken again after this lease.
        extra_env={"NOTIFIER_LEASE_S": "2", "NOTIFIER_DISPATCH_BATCH": str(DISPATCH_BATCH)},
    )
    # every other one a reminder: one due while the notifier is down is sent when it is back
    events: list[LeadRejected | LeadReminderDue] = [
        (rejection if n % 2 else reminder)(recipient=f"crash-{run}-{n}@example.de")
        for n in range(EVENTS)
    ]
    recipients = {e.recipient for e in events}
    keys = {str(e.lead_id) for e in events}
    await notifier.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers, enable_idempotence=True)
    await producer.start()

    async def send(part: list[LeadRejected | LeadReminderDue]) -> None:
        for event in part:
            record = encode(event, key=str(event.lead_id), source="/e2e/lead-manager")
            await producer.send(
                LEAD_EVENTS.name, record.value, key=record.key, headers=record.header_list
            )
        await producer.flush()

    async def unsent() -> int:
        conn = await asyncpg.connect(database_urls["notifier"])
        try:
            n = await conn.fetchval(
                "SELECT count(*) FROM notifications WHERE recipient = ANY($1) AND status <> 'SENT'",
                list(recipients),
            )
        finally:
            await conn.close()
        return int(n)

    def delivered() -> set[str]:
        return {m["To"] for m in smtp.sink.messages if m["To"] in recipients}

    try:
        async with TopicTail(kafka_bootstrap_servers, NOTIFICATION_EVENTS.name) as tail:
            # The last part arrives only while the notifier is down: the stop falls mid-stream.
            await send(events[: EVENTS * 3 // 5])
            async with asyncio.timeout(60):
                while len(delivered()) < 100:
                    await asyncio.sleep(0.01)
            if stop == "SIGKILL":
                notifier.kill()
            else:
                # uvicorn re-raises SIGTERM after its clean shutdown, hence -15 rather than 0.
                assert notifier.stop(timeout=30) in (0, -signal.SIGTERM)
            at_kill = len(delivered())
            await send(events[EVENTS * 3 // 5 :])
            await notifier.start()
            async with asyncio.timeout(120):
                while len(delivered()) < EVENTS:
                    await asyncio.sleep(0.1)
            # Every notification marked sent (a mail goes out before its mark, a repeat after
            # the kill included) and every outcome published: nothing more will come.
            async with asyncio.timeout(60):
                while await unsent():
                    await asyncio.sleep(0.1)
            await wait_outbox_drained(database_urls["notifier"], keys)
            await tail.caught_up()
            sent = tail.matching(
                lambda r: (
                    header(r, "ce_type") == NotificationSent.cloudevents_type()
                    and r.key in {k.encode() for k in keys}
                )
            )
    finally:
        await producer.stop()
        notifier.stop()

    assert 0 < at_kill < EVENTS, "the kill came too late (or too early) to prove anything"
    ours = [m for m in smtp.sink.messages if m["To"] in recipients]
    per_message_id: dict[str, int] = {}
    for mail in ours:
        per_message_id[mail["Message-ID"]] = per_message_id.get(mail["Message-ID"], 0) + 1
    duplicates = len(ours) - EVENTS
    assert len(per_message_id) == EVENTS, "an event was never notified"
    reminded = [m for m in ours if str(m["Subject"]).strip().startswith("Erinnerung:")]
    assert len({m["Message-ID"] for m in reminded}) == EVENTS // 2
    # Sent but not yet marked when the process died: at most one claimed batch.
    assert duplicates <= (DISPATCH_BATCH if stop == "SIGKILL" else 0), duplicates
    event_ids: dict[uuid.UUID, set[str]] = {}
    for record in sent:
        envelope = decode(record.headers, record.value, record.key)
        assert isinstance(envelope.message, NotificationSent)
        event_ids.setdefault(envelope.message.notification_id, set()).add(envelope.id)
    assert len(event_ids) == EVENTS
    assert all(len(ids) == 1 for ids in event_ids.values()), "a notification reported twice"
    print(
        f"{stop}: {len(ours)} mails for {EVENTS} events, {duplicates} twice, stopped at {at_kill}"
    )
