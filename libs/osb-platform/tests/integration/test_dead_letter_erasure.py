"""A person's dead letters erased on the real broker: the partition rewritten, the other
dead letters kept with their own time (issue 19)."""

from __future__ import annotations

import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from osb_platform.dead_letters import erase_dead_letters

pytestmark = pytest.mark.integration


async def test_only_the_person_s_dead_letters_go_and_the_others_keep_their_time(
    kafka_bootstrap_servers: str,
) -> None:
    topic = f"test.erase.{uuid.uuid4().hex[:8]}.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.close()
    hour = int(time.time()) * 1000 - 3_600_000  # written an hour ago, a second apart
    letters = [
        (b"other-1", hour),
        (b'{"email": "Quappe@Example.de"}', hour + 1000),
        (b"other-2", hour + 2000),
        (b"the person's phone +4915112345678", hour + 3000),
        (b"other-3", hour + 4000),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for value, at in letters:
            await producer.send_and_wait(
                topic, value, key=b"k", timestamp_ms=at, headers=[("why", b"bad")]
            )
    finally:
        await producer.stop()

    def holds(data: bytes) -> bool:
        text = data.decode().lower()
        return "quappe@example.de" in text or "+4915112345678" in text

    assert await erase_dead_letters(kafka_bootstrap_servers, [topic], holds) == {topic: 2}
    assert await erase_dead_letters(kafka_bootstrap_servers, [topic], holds) == {}  # again

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        kept = []
        while await consumer.position(tp) < end:
            kept += (await consumer.getmany(tp, timeout_ms=2000)).get(tp, [])
    finally:
        await consumer.stop()
    assert sorted((r.value, r.timestamp, r.key, list(r.headers)) for r in kept) == [
        (b"other-1", hour, b"k", [("why", b"bad")]),
        (b"other-2", hour + 2000, b"k", [("why", b"bad")]),
        (b"other-3", hour + 4000, b"k", [("why", b"bad")]),
    ]
