"""The infrastructure the tests run on matches the registry."""

from __future__ import annotations

import asyncpg
import pytest
from osb_contracts import all_topic_specs
from osb_local_infra.settings import SERVICE_DATABASES
from osb_local_infra.topics import describe_topics

pytestmark = pytest.mark.integration


async def test_every_registry_topic_exists_with_its_partition_count(
    kafka_bootstrap_servers: str,
) -> None:
    states = await describe_topics(kafka_bootstrap_servers)
    assert {s.name: s.partitions for s in states} == {
        name: partitions for name, partitions, _ in all_topic_specs()
    }


async def test_every_service_has_its_own_database(database_urls: dict[str, str]) -> None:
    assert set(database_urls) == set(SERVICE_DATABASES)
    for service, url in database_urls.items():
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT current_database()") == SERVICE_DATABASES[service]
        finally:
            await conn.close()
