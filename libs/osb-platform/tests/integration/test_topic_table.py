"""A compacted topic read as a table, on the real broker: whole on start, then followed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from osb_contracts import Topic, encode
from osb_contracts.branches import BranchSettingsChanged
from osb_platform.table import TopicTable
from osb_testing.plugin import NewTopicFactory

pytestmark = pytest.mark.integration


def settings(branch_id: str, version: int) -> BranchSettingsChanged:
    return BranchSettingsChanged(
        branch_id=branch_id,
        settings_version=version,
        name=f"{branch_id} v{version}",
        sms_enabled=version % 2 == 0,
        changed_at=datetime.now(UTC),
    )


async def test_the_table_holds_the_newest_per_key_before_start_returns_and_follows(
    kafka_bootstrap_servers: str, kafka_topic: NewTopicFactory
) -> None:
    name = await kafka_topic("table", partitions=2)
    topic = Topic(
        name=name,
        key="branch_id",
        partitions=2,
        messages=(BranchSettingsChanged,),
        description="test",
        has_dlq=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap_servers)
    await producer.start()

    async def send(message: BranchSettingsChanged) -> None:
        record = encode(message, key=message.branch_id, source="/test")
        await producer.send_and_wait(name, record.value, key=record.key, headers=record.header_list)

    changes: list[tuple[str, int]] = []
    table: TopicTable[BranchSettingsChanged] = TopicTable(
        kafka_bootstrap_servers,
        topic,
        newer=lambda a, b: a.settings_version > b.settings_version,
        on_change=lambda key, m: changes.append((key, m.settings_version)),
    )
    try:
        for message in (settings("A", 1), settings("B", 1), settings("A", 3), settings("A", 2)):
            await send(message)
        await producer.send_and_wait(name, b"not an event", key=b"A")  # skipped, logged
        await table.start(timeout=20)
        assert {k: m.settings_version for k, m in table.items()} == {"A": 3, "B": 1}

        await send(settings("B", 2))
        await send(settings("A", 1))  # older than what the table holds: no change
        await send(settings("A", 4))  # behind it on the same partition: seen after it
        async with asyncio.timeout(10):
            while table["B"].settings_version != 2 or table["A"].settings_version != 4:
                await asyncio.sleep(0.05)
        # Per key in order (the two keys may sit on different partitions); the late version 1
        # was read before version 4 and changed nothing.
        assert [v for k, v in changes if k == "A"] == [1, 3, 4]
        assert [v for k, v in changes if k == "B"] == [1, 2]
    finally:
        await table.stop()
        await producer.stop()
