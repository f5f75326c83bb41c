"""A person's dead letters erased (issue 19): nobody consumes a dead-letter topic, so a
partition holding the person is rewritten. The other dead letters up to the person's last
are appended again (with their own time, so they expire when they would have), then the
partition is cut after it (Kafka's DeleteRecords). Dead letters are few: a rewrite reads
and writes a partition's worth of them at most.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from osb_platform.kafka_security import KafkaSecurity


async def erase_dead_letters(
    bootstrap: str, topics: Sequence[str], holds: Callable[[bytes], bool]
) -> dict[str, int]:
    """Every dead letter on ``topics`` whose key, value or headers ``holds`` the person
    gone; the others kept. How many went, per topic."""
    security = KafkaSecurity().aiokafka()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, **security)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await consumer.start()
    await producer.start()
    await admin.start()
    erased: dict[str, int] = {}
    try:
        described = await admin.describe_topics(list(topics)) if topics else []
        for topic, partition in sorted(
            (t["topic"], p["partition"]) for t in described for p in t["partitions"]
        ):
            tp = TopicPartition(topic, partition)
            records = await _all(consumer, tp)
            found = [r.offset for r in records if holds(_bytes(r))]
            if not found:
                continue
            last = max(found)
            for r in records:
                if r.offset <= last and r.offset not in found:
                    await producer.send_and_wait(
                        topic,
                        r.value,
                        key=r.key,
                        partition=partition,
                        timestamp_ms=r.timestamp,
                        headers=list(r.headers),
                    )
            await admin.delete_records({tp: RecordsToDelete(before_offset=last + 1)})
            erased[topic] = erased.get(topic, 0) + len(found)
    finally:
        await admin.close()
        await producer.stop()
        await consumer.stop()
    return erased


def _bytes(record: ConsumerRecord[bytes, bytes]) -> bytes:
    return b"\n".join([record.key or b"", record.value or b"", *(v for _, v in record.headers)])


async def _all(
    consumer: AIOKafkaConsumer, tp: TopicPartition
) -> list[ConsumerRecord[bytes, bytes]]:
    """The partition's records as they are now, from its beginning."""
    consumer.assign([tp])
    await consumer.seek_to_end(tp)
    end = await consumer.position(tp)
    await consumer.seek_to_beginning(tp)
    records: list[ConsumerRecord[bytes, bytes]] = []
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        records += [r for r in batch.get(tp, []) if r.offset < end]
    return records
