"""pytest fixtures: Kafka and PostgreSQL for the tests, and throw-away topics."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from osb_local_infra.kafka import cluster
from osb_local_infra.postgres import database_url, ensure_databases
from osb_local_infra.settings import InfraSettings

from osb_testing.infrastructure import InfrastructureUnavailableError, TestInfrastructure, provide
from osb_testing.mail import sms_gateway, smtp


@pytest.fixture(scope="session")
def osb_infra() -> Iterator[TestInfrastructure]:
    """Kafka and PostgreSQL for this test run; a test asking for them fails if they are missing."""
    try:
        with provide() as infra:
            yield infra
    except InfrastructureUnavailableError as exc:
        pytest.fail(f"Kafka/PostgreSQL unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(osb_infra: TestInfrastructure) -> str:
    return osb_infra.bootstrap_servers


@pytest.fixture(scope="session")
def database_urls(osb_infra: TestInfrastructure) -> dict[str, str]:
    return osb_infra.database_urls


@pytest.fixture
async def scratch_database(osb_infra: TestInfrastructure) -> AsyncIterator[str]:
    """The URL of a database of the test's own on the test server, dropped afterwards: for
    state a test must not share (the services' own databases outlive a kept infrastructure)."""
    name = f"scratch_{uuid.uuid4().hex[:10]}"
    url = database_url(osb_infra.database_urls["lead-manager"], name)
    await ensure_databases({name: url})
    yield url
    admin = await asyncpg.connect(database_url(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass(frozen=True)
class SaslKafka:
    """Where to try the clients' SASL settings: a listener that requires SASL/PLAIN."""

    bootstrap_servers: str
    username: str
    password: str


@pytest.fixture(scope="session")
def kafka_sasl(osb_infra: TestInfrastructure) -> SaslKafka:
    given = [
        os.environ.get(f"OSB_TEST_KAFKA_SASL_{k}") for k in ("BOOTSTRAP", "USERNAME", "PASSWORD")
    ]
    if all(given):
        return SaslKafka(*(str(g) for g in given))
    settings = InfraSettings()
    if osb_infra.origin != "local" or settings.external_kafka:
        pytest.fail(
            "no SASL listener known: set OSB_TEST_KAFKA_SASL_BOOTSTRAP, _USERNAME and _PASSWORD",
            pytrace=False,
        )
    kafka = cluster(settings)[0]  # the SASL listener of the (first) local broker
    return SaslKafka(kafka.sasl_bootstrap_servers, *kafka.sasl_credentials())


@pytest.fixture
def kafka_sasl_env(kafka_sasl: SaslKafka, monkeypatch: pytest.MonkeyPatch) -> SaslKafka:
    """The SASL listener, with the clients' KAFKA_SECURITY_* settings pointing at it."""
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", kafka_sasl.username)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", kafka_sasl.password)
    return kafka_sasl


NewTopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def kafka_topic(kafka_bootstrap_servers: str) -> AsyncIterator[NewTopicFactory]:
    """Create throw-away topics with a unique name; deleted after the test."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap_servers)
    await admin.start()
    created: list[str] = []

    async def make(prefix: str = "test", *, partitions: int = 3, dlq: bool = False) -> str:
        """A topic; with ``dlq`` its dead-letter topic (``<name>.dlq``, one partition) too."""
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        topics = [NewTopic(name, partitions, 1)] + ([NewTopic(name + ".dlq", 1, 1)] if dlq else [])
        await admin.create_topics(topics)
        created.extend(t.name for t in topics)
        return name

    try:
        yield make
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()


__all__ = [
    "database_urls",
    "kafka_bootstrap_servers",
    "kafka_sasl",
    "kafka_sasl_env",
    "kafka_topic",
    "osb_infra",
    "scratch_database",
    "sms_gateway",
    "smtp",
]
