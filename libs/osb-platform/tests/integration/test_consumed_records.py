"""Work topics cut at what the installation's consumer groups have all read, on the real
broker (issue 19): the lowest committed offset per partition, other groups not counted, a
partition no group reads left whole; a topic read without a group cut by time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from osb_platform.consumed import delete_consumed, delete_older_than

pytestmark = pytest.mark.integration


async def commit(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_each_partition_is_cut_where_every_installation_group_has_read(
    kafka_bootstrap_servers: str,
) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"test.consumed.{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for partition in range(3):
            for n in range(5):
                await producer.send_and_wait(
                    topic, f"{partition}-{n}".encode(), partition=partition
                )
    finally:
        await producer.stop()
    p0, p1, p2 = (TopicPartition(topic, p) for p in range(3))
    await commit(kafka_bootstrap_servers, f"osb-{run}-a", {p0: 3, p1: 5})
    await commit(kafka_bootstrap_servers, f"osb-{run}-b", {p0: 4})
    await commit(kafka_bootstrap_servers, f"tool-{run}", {p0: 1})  # not the installation's

    cut = await delete_consumed(kafka_bootstrap_servers, [topic], [f"osb-{run}"])
    assert (cut.deleted, cut.unread) == ({topic: 8}, [f"{topic}[2]"])
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets([p0, p1, p2])
    finally:
        await consumer.stop()
    assert (starts[p0], starts[p1], starts[p2]) == (3, 5, 0)
    again = await delete_consumed(kafka_bootstrap_servers, [topic], [f"osb-{run}"])
    assert again.deleted == {}


async def test_a_topic_read_without_a_group_is_cut_by_the_records_time(
    kafka_bootstrap_servers: str,
) -> None:
    """The replies of a request/reply: what is older than anyone waits for goes."""
    run = uuid.uuid4().hex[:8]
    topic = f"test.replies.{run}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 2, 1)])
    await admin.close()
    now = datetime.now(UTC)
    stamps = [now - timedelta(minutes=m) for m in (30, 20, 10, 1)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()
    try:
        for at in stamps:  # partition 0: four records, 30 to 1 minutes old
            ms = int(at.timestamp() * 1000)
            await producer.send_and_wait(topic, b"r", partition=0, timestamp_ms=ms)
        old = int(stamps[0].timestamp() * 1000)
        await producer.send_and_wait(topic, b"r", partition=1, timestamp_ms=old)
    finally:
        await producer.stop()

    cut = await delete_older_than(kafka_bootstrap_servers, [topic], now - timedelta(minutes=15))
    assert cut.deleted == {topic: 3}  # two of partition 0, partition 1's only one
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap_servers)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets([p0, p1])
    finally:
        await consumer.stop()
    assert (starts[p0], starts[p1]) == (2, 1)
    again = await delete_older_than(kafka_bootstrap_servers, [topic], now - timedelta(minutes=15))
    assert again.deleted == {}
