"""Work topics emptied of what every consumer has read (issue 19): a person's erasure cannot
pick single records out of a Kafka log, but a record every one of the installation's
consumer groups has committed past is needed by no one. Each partition is cut (Kafka's
DeleteRecords) at the lowest offset those groups have committed on it; what they have not
read yet stays, and so does every partition no such group reads. A topic read without a
group (the replies of a request/reply) is cut by time instead: what is older than anyone
waits for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from osb_platform.kafka_security import KafkaSecurity


@dataclass
class Cut:
    deleted: dict[str, int] = field(default_factory=dict)  # records per topic
    unread: list[str] = field(default_factory=list)  # "topic[partition]" no group reads


@asynccontextmanager
async def _clients(
    bootstrap: str, topics: Sequence[str]
) -> AsyncIterator[tuple[AIOKafkaAdminClient, AIOKafkaConsumer, list[TopicPartition]]]:
    """An admin client, a consumer without a group, and every partition of ``topics``."""
    security = KafkaSecurity().aiokafka()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(list(topics)) if topics else []
        partitions = sorted(
            (
                TopicPartition(t["topic"], p["partition"])
                for t in described
                for p in t["partitions"]
            ),
            key=lambda tp: (tp.topic, tp.partition),
        )
        yield admin, consumer, partitions
    finally:
        await consumer.stop()
        await admin.close()


async def delete_consumed(
    bootstrap: str, topics: Sequence[str], group_prefixes: Sequence[str]
) -> Cut:
    """``topics`` cut at what the groups named by ``group_prefixes`` have all committed."""
    cut = Cut()
    async with _clients(bootstrap, topics) as (admin, consumer, partitions):
        groups = sorted(
            g
            for g, *_ in await admin.list_consumer_groups()
            if any(g.startswith(p) for p in group_prefixes)
        )
        committed: dict[TopicPartition, int] = {}
        for group in groups:
            for tp, meta in (await admin.list_consumer_group_offsets(group)).items():
                if tp.topic in topics and meta.offset >= 0:
                    committed[tp] = min(committed.get(tp, meta.offset), meta.offset)
        starts = await consumer.beginning_offsets(partitions) if partitions else {}
        wanted = {}
        for tp in partitions:
            if tp not in committed:
                cut.unread.append(f"{tp.topic}[{tp.partition}]")
            elif committed[tp] > starts[tp]:
                wanted[tp] = RecordsToDelete(before_offset=committed[tp])
                cut.deleted[tp.topic] = cut.deleted.get(tp.topic, 0) + committed[tp] - starts[tp]
        if wanted:
            await admin.delete_records(wanted)
    return cut


async def delete_older_than(bootstrap: str, topics: Sequence[str], before: datetime) -> Cut:
    """``topics`` cut before their first record written at ``before`` or later."""
    cut = Cut()
    async with _clients(bootstrap, topics) as (admin, consumer, partitions):
        if not partitions:
            return cut
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        at = await consumer.offsets_for_times(
            {tp: int(before.timestamp() * 1000) for tp in partitions}
        )
        wanted = {}
        for tp in partitions:
            found = at.get(tp)
            offset = found.offset if found is not None else ends[tp]  # all of it is older
            if offset > starts[tp]:
                wanted[tp] = RecordsToDelete(before_offset=offset)
                cut.deleted[tp.topic] = cut.deleted.get(tp.topic, 0) + offset - starts[tp]
        if wanted:
            await admin.delete_records(wanted)
    return cut
