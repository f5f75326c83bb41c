"""One idempotent Kafka producer per service, for sending many records at once.

aiokafka slows down badly when ``send()`` is awaited from many tasks at once; here every
record of a batch is handed over in order and the deliveries are awaited together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from murmurhash2 import murmurhash2
from osb_contracts import KafkaRecord

from osb_platform.kafka_security import KafkaSecurity
from osb_platform.observability import DEAD_LETTERED, PUBLISHED

log = logging.getLogger(__name__)
DLQ_HEADER_PREFIX = "osb_dlq_"


@dataclass(frozen=True)
class Outgoing:
    topic: str
    record: KafkaRecord


@dataclass(frozen=True)
class DeadLetter:
    """A record that cannot be processed, with the reason and the field errors."""

    topic: str  # the original topic; the record goes to <topic>.dlq
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]
    reason: str
    errors: Sequence[tuple[str, str]]

    @classmethod
    def of(cls, record: Any, reason: str, errors: Sequence[tuple[str, str]]) -> DeadLetter:
        """From a consumed record (aiokafka's ConsumerRecord or anything shaped like it)."""
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value or b"",
            list(record.headers),
            reason,
            errors,
        )


_MURMUR2_SEED = 0x9747B28C


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default partitioner, as in the Java clients and aiokafka: murmur2 of the key.

    aiokafka computes murmur2 in Python for every record sent; ``murmurhash2`` is the same
    hash in C (checked against aiokafka's partitioner in the unit tests).
    """
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreading, not security
    return all_partitions[(murmurhash2(key, _MURMUR2_SEED) & 0x7FFFFFFF) % len(all_partitions)]


class Producer:
    def __init__(self, bootstrap_servers: str, *, client_id: str, **options: Any) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            partitioner=options.pop("partitioner", partition_for),
            enable_idempotence=True,  # acks=all, no duplicates from the producer's own retries
            linger_ms=options.pop("linger_ms", 5),
            # One request per partition for a relay batch, not one per 16 KiB (the default):
            # each request costs a round trip, a write and the broker's acks=all work.
            max_batch_size=options.pop("max_batch_size", 512 * 1024),
            **(KafkaSecurity().aiokafka() | options),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def reachable(self) -> bool:
        """Whether the cluster answers a metadata request."""
        return bool(await self._producer.client.force_metadata_update())

    async def ping(self, topic: str) -> None:
        """Raise unless the cluster answers a metadata request for ``topic``."""
        client = self._producer.client
        # A metadata request covers the topics the client tracks (all topics only while it
        # tracks none, that is before its first send): track this one too.
        client.add_topic(topic)
        if not await client.force_metadata_update():
            raise ConnectionError("Kafka metadata request failed")
        if not client.cluster.partitions_for_topic(topic):
            raise LookupError(f"topic {topic} not known to the cluster")

    async def send_many(self, items: Iterable[Outgoing]) -> None:
        """Send in order; return when every record is acknowledged by the broker."""
        deliveries = [
            await self._producer.send(
                item.topic,
                value=item.record.value,
                key=item.record.key,
                headers=item.record.header_list,
            )
            for item in items
        ]
        if deliveries:
            for result in await asyncio.gather(*deliveries):
                PUBLISHED.labels(result.topic).inc()

    async def dead_letter(self, letters: Iterable[DeadLetter], *, service: str) -> None:
        deliveries = []
        for letter in letters:
            headers = [h for h in letter.headers if not h[0].startswith(DLQ_HEADER_PREFIX)]
            headers += [
                (DLQ_HEADER_PREFIX + "reason", letter.reason.encode()),
                (
                    DLQ_HEADER_PREFIX + "errors",
                    json.dumps(
                        [{"field": f, "reason": r} for f, r in letter.errors], ensure_ascii=False
                    ).encode(),
                ),
                (DLQ_HEADER_PREFIX + "service", service.encode()),
                (DLQ_HEADER_PREFIX + "topic", letter.topic.encode()),
                (DLQ_HEADER_PREFIX + "partition", str(letter.partition).encode()),
                (DLQ_HEADER_PREFIX + "offset", str(letter.offset).encode()),
                (DLQ_HEADER_PREFIX + "at", datetime.now(UTC).isoformat().encode()),
            ]
            deliveries.append(
                await self._producer.send(
                    letter.topic + ".dlq", value=letter.value, key=letter.key, headers=headers
                )
            )
            # Where and why only: the record itself may hold a customer's data.
            log.warning(
                "dead-lettered %s[%d]@%d: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.reason,
            )
            DEAD_LETTERED.labels(letter.topic).inc()
        if deliveries:
            await asyncio.gather(*deliveries)
