"""A comma-separated KAFKA_BOOTSTRAP_SERVERS (a cluster's brokers) works for every client."""

from __future__ import annotations

import pytest
from osb_contracts import KafkaRecord
from osb_platform import Outgoing, Producer, make_broker
from osb_testing.kafka import TopicTail
from osb_testing.plugin import NewTopicFactory
from osb_testing.processes import free_port

pytestmark = pytest.mark.integration


async def test_a_list_of_brokers_with_one_away_reaches_the_cluster(
    kafka_bootstrap_servers: str, kafka_topic: NewTopicFactory
) -> None:
    topic = await kafka_topic("bootstrap")
    servers = f"127.0.0.1:{free_port()},{kafka_bootstrap_servers}"  # the first one is down
    broker = make_broker(servers, client_id="test-bootstrap")
    producer = Producer(servers, client_id="test-bootstrap")
    async with TopicTail(kafka_bootstrap_servers, topic) as tail:
        await broker.start()
        await producer.start()
        try:
            await broker.publish(b"from the broker", topic=topic, key=b"b")
            await producer.send_many([Outgoing(topic, KafkaRecord(b"p", b"from the producer", {}))])
            records = await tail.wait_for(lambda r: True, count=2)
        finally:
            await producer.stop()
            await broker.stop()
    assert sorted(r.value for r in records) == [b"from the broker", b"from the producer"]
