"""The readiness check's metadata request, on the real broker."""

from __future__ import annotations

import pytest
from osb_contracts import KafkaRecord
from osb_platform import Outgoing, Producer
from osb_testing.plugin import NewTopicFactory

pytestmark = pytest.mark.integration


async def test_ping_knows_a_topic_after_the_producer_sent_to_another(
    kafka_bootstrap_servers: str, kafka_topic: NewTopicFactory
) -> None:
    sent_to, asked_for = await kafka_topic("ping"), await kafka_topic("ping")
    producer = Producer(kafka_bootstrap_servers, client_id="test-ping")
    await producer.start()
    try:
        await producer.send_many([Outgoing(sent_to, KafkaRecord(b"k", b"v", {}))])
        # The client now tracks only the topic it sent to; the check must still see others.
        await producer.ping(asked_for)
        with pytest.raises(LookupError, match="not known"):
            await producer.ping("no.such.topic.v1")
    finally:
        await producer.stop()
