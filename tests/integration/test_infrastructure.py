"""The infrastructure the tests run on matches the registry."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from osb_contracts import all_topic_specs
from osb_local_infra.infra import client_options
from osb_local_infra.settings import SERVICE_DATABASES, InfraSettings
from osb_local_infra.topics import describe_topics, ensure_topics
from osb_testing.plugin import SaslKafka

pytestmark = pytest.mark.integration


async def test_every_registry_topic_exists_with_its_partition_count(
    kafka_bootstrap_servers: str,
) -> None:
    states = await describe_topics(kafka_bootstrap_servers)
    assert {s.name: s.partitions for s in states} == {
        name: partitions for name, partitions, _ in all_topic_specs()
    }


async def test_a_dead_letter_is_kept_thirty_days(kafka_bootstrap_servers: str) -> None:
    """A dead letter is a copy of a record, personal data and all (issue 19): it expires;
    the record's own topic keeps its own retention."""
    for name, _, _ in all_topic_specs():
        config = await topic_config(kafka_bootstrap_servers, name)
        if name.endswith(".dlq"):
            assert config["retention.ms"] == str(30 * 24 * 3600 * 1000), name
    assert (await topic_config(kafka_bootstrap_servers, "osb.lead.events.v1"))[
        "retention.ms"
    ] == "-1"


async def test_every_service_has_its_own_database(database_urls: dict[str, str]) -> None:
    assert set(database_urls) == set(SERVICE_DATABASES)
    for service, url in database_urls.items():
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT current_database()") == SERVICE_DATABASES[service]
        finally:
            await conn.close()


async def test_topics_are_created_on_a_cluster_that_requires_sasl(
    kafka_sasl_env: SaslKafka,
) -> None:
    # `osb-infra up` against an external cluster: the services' security settings apply.
    client = client_options(InfraSettings(kafka_bootstrap_servers=kafka_sasl_env.bootstrap_servers))
    assert client["security_protocol"] == "SASL_PLAINTEXT"
    name = f"test.sasl.{uuid.uuid4().hex[:8]}"
    created = await ensure_topics(kafka_sasl_env.bootstrap_servers, [(name, 2, {})], client=client)
    assert created == [name]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_sasl_env.bootstrap_servers, **client)
    await admin.start()
    try:
        [described] = await admin.describe_topics([name])
    finally:
        await admin.close()
    assert len(described["partitions"]) == 2
    # The local broker's own listener stays plaintext.
    assert client_options(InfraSettings(kafka_bootstrap_servers=None)) == {}


async def topic_config(bootstrap: str, name: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        await admin.close()
    [(_, _, _, _, entries)] = response.resources
    return {e[0]: e[1] for e in entries}


async def test_an_existing_topic_gets_the_registry_s_config_and_keeps_its_own(
    kafka_bootstrap_servers: str,
) -> None:
    # created before the registry kept it for ever, with a setting of an operator's own
    name = f"test.config.{uuid.uuid4().hex[:8]}"
    before = {"retention.ms": "3600000", "max.message.bytes": "2000000"}
    assert await ensure_topics(kafka_bootstrap_servers, [(name, 1, before)]) == [name]
    assert await ensure_topics(kafka_bootstrap_servers, [(name, 1, {"retention.ms": "-1"})]) == []
    after = await topic_config(kafka_bootstrap_servers, name)
    assert (after["retention.ms"], after["max.message.bytes"]) == ("-1", "2000000")
    # as wanted already: nothing to change, nothing changed
    assert await ensure_topics(kafka_bootstrap_servers, [(name, 1, {"retention.ms": "-1"})]) == []
    assert await topic_config(kafka_bootstrap_servers, name) == after
