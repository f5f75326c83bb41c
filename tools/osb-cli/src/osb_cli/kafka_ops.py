"""What `osb` does on the broker, as plain async functions (the commands print their results)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from osb_contracts.topics import DLQ_SUFFIX
from osb_platform.kafka import header
from osb_platform.kafka_security import KafkaSecurity
from osb_platform.producer import DLQ_HEADER_PREFIX

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass
class GroupLag:
    group: str
    lag: int  # records not yet committed by the group, over the topic's partitions


@dataclass
class TopicState:
    name: str
    partitions: int
    records: int  # the sum of the partitions' end offsets
    groups: list[GroupLag] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(g.lag for g in self.groups)


async def _end_offsets(
    bootstrap: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **KafkaSecurity().aiokafka()
    )
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(list(partitions)))
    finally:
        await consumer.stop()


async def partitions_by_topic(admin: AIOKafkaAdminClient) -> dict[str, list[TopicPartition]]:
    """Every topic but Kafka's own with its partitions, listed by name (a metadata answer
    without any topic was seen once: asked again; none at all is an error, never "empty")."""
    for _ in range(20):
        names = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
        described = await admin.describe_topics(names) if names else []
        found = {
            t["topic"]: [TopicPartition(t["topic"], p["partition"]) for p in t["partitions"]]
            for t in described
            if t["partitions"]
        }
        if found:
            return found
        await asyncio.sleep(0.5)
    raise RuntimeError("the broker lists no topics")


async def topics(bootstrap: str, *, group_prefix: str = "") -> list[TopicState]:
    """Every topic with its partitions, its size and each consumer group's lag on it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **KafkaSecurity().aiokafka())
    await admin.start()
    try:
        partitions = await partitions_by_topic(admin)
        ends = await _end_offsets(bootstrap, [tp for tps in partitions.values() for tp in tps])
        states = {
            name: TopicState(name, len(tps), sum(ends.get(tp, 0) for tp in tps))
            for name, tps in sorted(partitions.items())
        }
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(group_prefix)]
        for group in sorted(groups):
            committed = await admin.list_consumer_group_offsets(group)
            per_topic: dict[str, int] = {}
            for tp, meta in committed.items():
                if tp.topic in states and meta.offset >= 0:
                    behind = max(0, ends.get(tp, 0) - meta.offset)
                    per_topic[tp.topic] = per_topic.get(tp.topic, 0) + behind
            for topic, lag in per_topic.items():
                states[topic].groups.append(GroupLag(group, lag))
        return list(states.values())
    finally:
        await admin.close()


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **KafkaSecurity().aiokafka())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0 or not described["partitions"]:
        raise LookupError(f"no topic {topic!r}")
    return [
        TopicPartition(topic, p["partition"])
        for p in sorted(described["partitions"], key=lambda p: p["partition"])
    ]


async def read(
    bootstrap: str,
    topic: str,
    *,
    last: int | None = None,
    follow: bool = False,
    idle_s: float = 10.0,
) -> AsyncIterator[Record]:
    """The topic's records (the last ``last`` per partition, or all), then new ones if
    ``follow``. Reads without a consumer group, so it commits nothing anywhere."""
    tps = await _partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **KafkaSecurity().aiokafka()
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        begin, end = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        start = {tp: begin[tp] if last is None else max(begin[tp], end[tp] - last) for tp in tps}
        for tp in tps:
            consumer.seek(tp, start[tp])
        remaining = {tp for tp in tps if end[tp] > start[tp]}
        quiet = 0.0
        while follow or remaining:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batch.values():
                for record in records:
                    yield record
            # The position, not the last offset: compacted topics have gaps.
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
            quiet = 0.0 if batch else quiet + 0.5
            if not follow and quiet >= idle_s:
                return  # the snapshot's end is not reachable (records deleted meanwhile)
    finally:
        await consumer.stop()


async def dead_letters(bootstrap: str, topic: str) -> list[Record]:
    """Everything on ``topic``'s dead-letter topic."""
    dlq = topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX
    return [r async for r in read(bootstrap, dlq)]


async def retention_ms(bootstrap: str, topic: str) -> int | None:
    """How long ``topic`` keeps a record (its ``retention.ms``, the broker's default where
    the topic sets none); None: for ever."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **KafkaSecurity().aiokafka())
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    for _error, _message, _type, _name, entries in response.resources:
        for entry in entries:
            if entry[0] == "retention.ms":
                value = int(entry[1])
                return None if value < 0 else value
    return None


async def replay(bootstrap: str, topic: str, *, partition: int, offset: int) -> Record:
    """Put one dead letter back on its original topic, as it first arrived there.

    Every consumer is idempotent (inbox, deterministic ids), so a replay done twice does no
    harm; the dead letter stays where it is as the record of what happened."""
    dlq = topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX
    letter = next(
        (
            r
            for r in await dead_letters(bootstrap, dlq)
            if (r.partition, r.offset) == (partition, offset)
        ),
        None,
    )
    if letter is None:
        raise LookupError(f"no dead letter at {dlq} partition {partition} offset {offset}")
    original = header(letter, DLQ_HEADER_PREFIX + "topic") or dlq.removesuffix(DLQ_SUFFIX)
    headers = [(k, v) for k, v in letter.headers if not k.startswith(DLQ_HEADER_PREFIX)]
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, **KafkaSecurity().aiokafka()
    )
    await producer.start()
    try:
        await producer.send_and_wait(original, value=letter.value, key=letter.key, headers=headers)
    finally:
        await producer.stop()
    return letter
