"""The one subscriber shape, on the real broker: the handler gets the valid envelopes only,
the refused records go to the dead-letter topic (and to ``refused``), the types the group
does not act on are skipped, and the group commits past all of them; in batches, and
``prompt`` (one record at a time as it comes, committed as it is taken) for requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from osb_contracts import ContractError, Envelope, Topic, encode
from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.leads import LeadCancelled
from osb_platform import Producer, RetryWithBackoff, make_broker
from osb_platform.subscriber import Record, batch_subscriber
from osb_platform.tracing import setup_tracing
from osb_testing.kafka import TopicTail, wait_group_caught_up
from osb_testing.plugin import NewTopicFactory

pytestmark = pytest.mark.integration


def settings(branch_id: str, version: int) -> BranchSettingsChanged:
    return BranchSettingsChanged(
        branch_id=branch_id,
        settings_version=version,
        name=f"{branch_id} v{version}",
        sms_enabled=False,
        changed_at=datetime.now(UTC),
    )


@pytest.mark.parametrize("prompt", [False, True], ids=["batches", "prompt"])
async def test_valid_envelopes_handled_refused_dead_lettered_others_skipped_all_committed(
    kafka_bootstrap_servers: str, kafka_topic: NewTopicFactory, prompt: bool
) -> None:
    name = await kafka_topic("subscriber", partitions=2, dlq=True)
    topic = Topic(
        name=name,
        key="branch_id",
        partitions=2,
        messages=(BranchSettingsChanged, LeadCancelled),
        description="test",
        has_dlq=True,
    )
    wanted = BranchSettingsChanged.cloudevents_type()
    sender = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await sender.start()

    async def send(value: bytes, headers: list[tuple[str, bytes]], key: bytes) -> None:
        await sender.send_and_wait(name, value, key=key, headers=headers)

    valid = [settings(f"B{i}", i) for i in range(1, 5)]
    good = encode(valid[0], key="B0", source="/test")
    try:
        await send(b"{not json", good.header_list, b"B9")  # refused: a dead letter
        await send(b"{}", good.header_list, b"B8")  # refused: fields missing
        other = [
            (k, b"osb.leads.LeadCancelled" if k == "ce_type" else v) for k, v in good.header_list
        ]
        await send(b"not ours, not read", other, b"B7")  # a type this group skips
        for message in valid:
            record = encode(message, key=message.branch_id, source="/test")
            await send(record.value, record.header_list, record.key)

        handled: list[Envelope[Any]] = []
        refused: list[str] = []

        calls: list[int] = []

        async def handle(envelopes: Sequence[Envelope[Any]]) -> None:
            calls.append(len(envelopes))
            handled.extend(envelopes)

        async def on_refused(records: Sequence[tuple[Record, ContractError]]) -> None:
            refused.extend(r.key.decode() for r, _ in records)

        producer = Producer(kafka_bootstrap_servers, client_id="test")
        await producer.start()
        broker = make_broker(
            kafka_bootstrap_servers, client_id="test", middlewares=[RetryWithBackoff()]
        )
        group = f"{name}.group"
        async with TopicTail(kafka_bootstrap_servers, name + ".dlq") as letters:
            batch_subscriber(
                broker,
                topic,
                group_id=group,
                producer=producer,
                service="test",
                handle=handle,
                only={wanted},
                refused=on_refused,
                prompt=prompt,
            )
            await broker.start()
            try:
                await wait_group_caught_up(kafka_bootstrap_servers, group, [name])
                async with asyncio.timeout(10):
                    while len(letters.records) < 2:
                        await asyncio.sleep(0.05)
            finally:
                await broker.stop()
                await producer.stop()
        assert sorted(e.message.branch_id for e in handled) == ["B1", "B2", "B3", "B4"]
        if prompt:
            assert set(calls) == {1}  # one record a call
        assert sorted(refused) == ["B8", "B9"]
        assert sorted(r.key for r in letters.records) == [b"B8", b"B9"]
    finally:
        await sender.stop()


@pytest.mark.parametrize("prompt", [False, True], ids=["batches", "prompt"])
async def test_a_record_alone_gets_a_span_of_its_own_records_of_a_batch_go_on_in_their_sender_s(
    kafka_bootstrap_servers: str, kafka_topic: NewTopicFactory, prompt: bool
) -> None:
    """What a record causes continues its sender's trace either way; a span per record only
    for a record handled alone (prompt, or a batch of one), not on the busy batch path."""
    setup_tracing("test")
    name = await kafka_topic("subscriber-traces", partitions=1)
    topic = Topic(
        name=name,
        key="branch_id",
        partitions=1,
        messages=(BranchSettingsChanged,),
        description="test",
        has_dlq=False,
    )
    sent = {f"B{i}": f"00-{i:032x}-{i:016x}-01" for i in range(1, 6)}
    sender = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await sender.start()
    try:  # all on the topic before the group starts: one fetch, one batch
        for i, (branch, traceparent) in enumerate(sent.items(), start=1):
            record = encode(
                settings(branch, i), key=branch, source="/test", traceparent=traceparent
            )
            await sender.send_and_wait(
                name, record.value, key=record.key, headers=record.header_list
            )
    finally:
        await sender.stop()

    batches: list[list[Envelope[Any]]] = []

    async def handle(envelopes: Sequence[Envelope[Any]]) -> None:
        batches.append(list(envelopes))

    producer = Producer(kafka_bootstrap_servers, client_id="test")
    await producer.start()
    broker = make_broker(
        kafka_bootstrap_servers, client_id="test", middlewares=[RetryWithBackoff()]
    )
    group = f"{name}.group"
    batch_subscriber(
        broker,
        topic,
        group_id=group,
        producer=producer,
        service="test",
        handle=handle,
        prompt=prompt,
    )
    await broker.start()
    try:
        await wait_group_caught_up(kafka_bootstrap_servers, group, [name])
    finally:
        await broker.stop()
        await producer.stop()

    assert sorted(e.message.branch_id for b in batches for e in b) == sorted(sent)
    if not prompt:
        assert max(map(len, batches)) > 1
    for batch in batches:
        for envelope in batch:
            theirs = sent[envelope.message.branch_id]
            if len(batch) > 1:
                assert envelope.traceparent == theirs
            else:  # the same trace, a span of its own
                assert envelope.traceparent is not None
                assert envelope.traceparent.split("-")[1] == theirs.split("-")[1]
                assert envelope.traceparent.split("-")[2] != theirs.split("-")[2]
