"""Test helpers on the real broker: watch topics from now on, start groups at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from osb_platform.kafka import header


async def partitions_of(
    bootstrap: str, topics: Sequence[str], *, timeout: float = 30.0
) -> list[TopicPartition]:
    """Every partition of ``topics``; a topic created a moment ago is waited for until the
    broker describes it with its partitions (right after creation it may not yet)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    described: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                described = await admin.describe_topics(list(topics))
                if all(d.get("error_code", 0) == 0 and d["partitions"] for d in described):
                    break
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"topics not described with partitions: {described}") from None
    finally:
        await admin.close()
    return [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """Each partition's end offset now: every record published before this call is below it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, topics)
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def wait_group_caught_up(
    bootstrap: str, group: str, topics: Sequence[str], *, timeout: float = 60.0
) -> None:
    """Wait until ``group`` has committed everything published to ``topics`` before the call:
    a consumer that commits after its effect has then done every effect it will do for them."""
    ends = await end_offsets(bootstrap, topics)
    behind = ends
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                committed = await admin.list_consumer_group_offsets(group)
                behind = {
                    tp: end
                    for tp, end in ends.items()
                    if end > 0 and (tp not in committed or committed[tp].offset < end)
                }
                if not behind:
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"group {group} still behind on {sorted(behind)}") from None
    finally:
        await admin.close()


async def move_group_to_end(bootstrap: str, group: str, topics: Sequence[str]) -> None:
    """Commit ``group`` at the end of ``topics``, so a fresh service group skips old records."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = await partitions_of(bootstrap, topics)
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


class TopicTail:
    """Everything published to ``topics`` after entering, without a consumer group."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicTail:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        partitions = await partitions_of(self.bootstrap, self.topics)
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the positions now, before anything is published
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                self.records.extend(records)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the tail has read every record published to its topics before the call.

        With the producer known to be done (its outbox drained, its group committed), this
        proves that a record not seen now was never published."""
        assert self._consumer is not None
        consumer = self._consumer
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        try:
            async with asyncio.timeout(timeout):
                while any([await consumer.position(tp) < end for tp, end in ends.items()]):
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"the tail did not reach the end offsets in {timeout} s") from None

    def matching(self, predicate: Callable[[ConsumerRecord[bytes, bytes]], bool]) -> list[Any]:
        return [r for r in self.records if predicate(r)]

    async def wait_for(
        self,
        predicate: Callable[[ConsumerRecord[bytes, bytes]], bool],
        *,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Wait until ``count`` records match; fail with what was seen after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.matching(predicate)) < count:
                    await asyncio.sleep(0.05)
        except TimeoutError:
            seen = len(self.matching(predicate))
            raise AssertionError(f"{seen} of {count} records after {timeout} s") from None
        return self.matching(predicate)


__all__ = [
    "TopicTail",
    "end_offsets",
    "header",
    "move_group_to_end",
    "partitions_of",
    "wait_group_caught_up",
]
