"""A compacted topic as a table in memory: the newest message per key, in every instance.

Read without a consumer group (each instance needs every key, and nothing is committed):
from the beginning up to the end offsets found on start, before ``start`` returns, so the
instance acts on settings it has seen; then followed in a background task. A record that
does not decode is logged by its position and reason and skipped: the topic has one
writer, which validated it, and a dead letter per instance and start would only repeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from osb_contracts import ContractError, Message, Topic, decode

from osb_platform.kafka import groupless_reader, stop_reader

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)


class TopicTable(Mapping[str, M], Generic[M]):
    def __init__(
        self,
        bootstrap_servers: str,
        topic: Topic,
        *,
        newer: Callable[[M, M], bool],
        on_change: Callable[[str, M], None] | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._newer = newer  # whether the first supersedes the second (redelivery, reordering)
        self._on_change = on_change
        self._rows: dict[str, M] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def __getitem__(self, key: str) -> M:
        return self._rows[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    async def start(self, timeout: float = 30.0) -> None:
        self._consumer = consumer = await groupless_reader(self._bootstrap, self._topic)
        partitions = list(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        async with asyncio.timeout(timeout):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                self._apply(await consumer.getmany(timeout_ms=200))
        self._task = asyncio.create_task(self._follow(), name=f"table-{self._topic.name}")

    async def caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the table has read every record published before the call."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        ends = await consumer.end_offsets(list(consumer.assignment()))
        async with asyncio.timeout(timeout):
            # the reading task moves the positions on
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await stop_reader(self._task, self._consumer)

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                self._apply(await self._consumer.getmany(timeout_ms=1000))
            except Exception:  # cancellation is no Exception: stop() still ends the task
                log.exception("reading %s failed; trying again", self._topic.name)
                await asyncio.sleep(1)

    def _apply(self, batches: Mapping[TopicPartition, list[Any]]) -> None:
        for records in batches.values():
            for record in records:
                try:
                    envelope = decode(
                        record.headers, record.value or b"", record.key, expect=self._topic.messages
                    )
                except ContractError as exc:
                    log.error(
                        "skipped %s offset %d: %s", self._topic.name, record.offset, exc.reason
                    )
                    continue
                message: M = envelope.message
                key = str(getattr(message, self._topic.key))
                current = self._rows.get(key)
                if current is None or self._newer(message, current):
                    self._rows[key] = message
                    if self._on_change is not None:
                        self._on_change(key, message)
