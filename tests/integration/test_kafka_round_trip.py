"""A contract message through FastStream and the real broker, and when its offset is committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from osb_contracts import Envelope, Topic
from osb_contracts.portal import BookingSubmitted, PortalCustomer
from osb_platform import RetryWithBackoff, make_broker, publish, read_envelope

pytestmark = pytest.mark.integration

KEY = "booking-key"  # one key: every record lands on one partition, in order


def booking(booking_id: str) -> BookingSubmitted:
    now = datetime.now(UTC)
    return BookingSubmitted(
        booking_id=booking_id,
        branch_id="HH-01",
        submitted_at=now,
        requested_start=now + timedelta(days=3),
        customer=PortalCustomer(first_name="Jürgen", last_name="Größmann", email="jg@example.de"),
    )


class Consumer:
    """A FastStream app with one subscriber in its own group; records what it handled."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        fail: Callable[[BookingSubmitted], bool] = lambda _: False,
    ) -> None:
        self.handled: list[Envelope[BookingSubmitted]] = []
        self.attempts: dict[str, int] = {}
        self.partitions: set[int] = set()
        self.broker = make_broker(
            bootstrap, client_id="round-trip-test", middlewares=[RetryWithBackoff(initial=0.1)]
        )

        @self.broker.subscriber(
            topic, group_id=group, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK
        )
        async def handle(body: BookingSubmitted, msg: KafkaMessage) -> None:
            self.attempts[body.booking_id] = self.attempts.get(body.booking_id, 0) + 1
            self.partitions.add(msg.raw_message.partition)  # type: ignore[union-attr]
            envelope: Envelope[BookingSubmitted] = read_envelope(msg, BookingSubmitted)
            assert envelope.message == body
            if fail(body):
                raise RuntimeError("handler failed")
            self.handled.append(envelope)

    async def __aenter__(self) -> Consumer:
        await self.broker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)


async def committed(bootstrap: str, group: str, topic: str, partition: int) -> int | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        meta = offsets.get(TopicPartition(topic, partition))
        return None if meta is None else int(meta.offset)
    finally:
        await admin.close()


async def test_round_trip_commits_only_after_the_handler_returned(
    kafka_bootstrap_servers: str, kafka_topic: Callable[..., object]
) -> None:
    name = await kafka_topic("roundtrip", partitions=3)  # type: ignore[misc]
    topic = Topic(
        name=name, key="booking_id", partitions=3, messages=(BookingSubmitted,), description="test"
    )
    group = f"{name}.group"
    producer: KafkaBroker = make_broker(kafka_bootstrap_servers, client_id="round-trip-producer")
    await producer.start()
    try:
        first = booking("B-1")
        await publish(
            producer, first, topic=topic, key=KEY, source="/test/portal", correlation_id="corr-1"
        )

        # 1. Received, decoded, validated, with its CloudEvents attributes.
        async with Consumer(kafka_bootstrap_servers, name, group) as consumer:
            await consumer.wait_for(lambda: len(consumer.handled) == 1)
        envelope = consumer.handled[0]
        assert envelope.message == first
        assert envelope.type == "osb.portal.BookingSubmitted.v1"
        assert envelope.source == "/test/portal"
        assert envelope.correlation_id == "corr-1"
        assert envelope.key == KEY
        assert envelope.message.customer.last_name == "Größmann"
        (partition,) = consumer.partitions
        assert await committed(kafka_bootstrap_servers, group, name, partition) == 1

        # 2. Restarted in the same group: B-1 is not redelivered, only the new B-2 arrives.
        await publish(producer, booking("B-2"), topic=topic, key=KEY, source="/test/portal")
        async with Consumer(kafka_bootstrap_servers, name, group) as consumer:
            # A wrong redelivery of B-1 would come first: it sits before B-2 on the partition.
            await consumer.wait_for(lambda: len(consumer.handled) == 1)
        assert [e.message.booking_id for e in consumer.handled] == ["B-2"]
        assert consumer.attempts == {"B-2": 1}

        # 3. A handler that raises: the offset stays before the record ...
        await publish(producer, booking("B-3"), topic=topic, key=KEY, source="/test/portal")
        async with Consumer(kafka_bootstrap_servers, name, group, fail=lambda _: True) as failing:
            await failing.wait_for(lambda: failing.attempts.get("B-3", 0) >= 3)
        assert failing.handled == []
        assert await committed(kafka_bootstrap_servers, group, name, partition) == 2

        # ... and the record is seen again, by the next consumer of the group.
        async with Consumer(kafka_bootstrap_servers, name, group) as consumer:
            await consumer.wait_for(lambda: len(consumer.handled) == 1)
        assert [e.message.booking_id for e in consumer.handled] == ["B-3"]
        assert await committed(kafka_bootstrap_servers, group, name, partition) == 3

        # 4. Raised once, then succeeded: redelivered within the same consumer, handled once.
        await publish(producer, booking("B-4"), topic=topic, key=KEY, source="/test/portal")
        flaky = {"B-4": 1}

        def fail_once(body: BookingSubmitted) -> bool:
            if flaky.get(body.booking_id, 0) > 0:
                flaky[body.booking_id] -= 1
                return True
            return False

        async with Consumer(kafka_bootstrap_servers, name, group, fail=fail_once) as consumer:
            await consumer.wait_for(lambda: len(consumer.handled) == 1)
        assert consumer.attempts == {"B-4": 2}
        assert [e.message.booking_id for e in consumer.handled] == ["B-4"]
        assert await committed(kafka_bootstrap_servers, group, name, partition) == 4
    finally:
        await producer.stop()
