"""The clients connect with SASL when the settings say so (the local broker's SASL listener)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from osb_contracts.portal import BookingCancelled
from osb_contracts.topics import PORTAL_BOOKINGS
from osb_platform import Producer, make_broker, publish
from osb_platform.kafka_security import KafkaSecurity
from osb_testing.plugin import SaslKafka

pytestmark = pytest.mark.integration


async def test_the_broker_and_a_consumer_work_over_sasl(kafka_sasl_env: SaslKafka) -> None:
    booking_id = f"SASL-{uuid.uuid4().hex[:8]}"
    message = BookingCancelled(
        booking_id=booking_id, branch_id="HH-01", cancelled_at="2026-11-26T10:00:00Z"
    )
    broker = make_broker(kafka_sasl_env.bootstrap_servers, client_id="test-sasl")
    await broker.start()
    try:
        await publish(broker, message, topic=PORTAL_BOOKINGS, key=booking_id, source="/test")
    finally:
        await broker.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_sasl_env.bootstrap_servers,
        enable_auto_commit=False,
        **KafkaSecurity().aiokafka(),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(PORTAL_BOOKINGS.name, p) for p in range(PORTAL_BOOKINGS.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        # a partition's start moves on (retention, an erasure's cut of what was read)
        starts = await consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(starts[tp], ends[tp] - 5))
        found = False
        async with asyncio.timeout(20):
            while not found:
                batch = await consumer.getmany(timeout_ms=500)
                found = any(r.key == booking_id.encode() for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()


async def test_a_wrong_password_is_refused(
    kafka_sasl_env: SaslKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-the-password")
    producer = Producer(kafka_sasl_env.bootstrap_servers, client_id="test-sasl-wrong")
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
