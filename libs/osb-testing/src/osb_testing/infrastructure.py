"""Where the tests find Kafka and PostgreSQL.

1. External settings win: ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` (or
   ``<SERVICE>_DATABASE_URL``).
2. ``OSB_TEST_INFRA=containers``: testcontainers (needs a Docker engine).
3. Otherwise the local infrastructure of deploy/local, started once per test run and
   stopped at its end if this run started it.

Whatever cannot be had makes the tests that need it fail, never skip.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from osb_local_infra.infra import down, up
from osb_local_infra.postgres import database_url, ensure_databases
from osb_local_infra.settings import SERVICE_DATABASES, InfraSettings
from osb_local_infra.topics import ensure_topics


class InfrastructureUnavailableError(RuntimeError):
    """The tests could not get a Kafka broker or a PostgreSQL server."""


@dataclass(frozen=True)
class TestInfrastructure:
    bootstrap_servers: str
    database_urls: dict[str, str]
    origin: str

    def database_url(self, service: str, *, driver: str | None = None) -> str:
        url = self.database_urls[service]
        if driver:
            url = url.replace("postgresql://", f"postgresql+{driver}://", 1)
        return url


@contextmanager
def provide() -> Iterator[TestInfrastructure]:
    settings = InfraSettings()
    mode = os.environ.get("OSB_TEST_INFRA", "local")
    if mode not in ("local", "containers"):
        raise InfrastructureUnavailableError(
            f"OSB_TEST_INFRA={mode!r}: use 'local' or 'containers'"
        )
    with ExitStack() as stack:
        try:
            if mode == "containers":
                result = stack.enter_context(_containers(settings))
            else:
                result = stack.enter_context(_local(settings))
        except InfrastructureUnavailableError:
            raise
        except Exception as exc:
            raise InfrastructureUnavailableError(f"{mode} infrastructure: {exc!r}") from exc
        yield result


@contextmanager
def _local(settings: InfraSettings) -> Iterator[TestInfrastructure]:
    started = up(settings)
    origin = "external" if settings.external_kafka and settings.external_postgres else "local"
    try:
        yield TestInfrastructure(started.bootstrap_servers, started.database_urls, origin)
    finally:
        if started.started and not os.environ.get("OSB_TEST_KEEP_INFRA"):
            down(settings, only=started.started)


@contextmanager
def _containers(settings: InfraSettings) -> Iterator[TestInfrastructure]:
    with ExitStack() as stack:
        if settings.external_kafka:
            bootstrap = str(settings.kafka_bootstrap_servers)
        else:
            from testcontainers.community.kafka import KafkaContainer

            kafka = stack.enter_context(KafkaContainer("apache/kafka:4.1.1").with_kraft())
            bootstrap = kafka.get_bootstrap_server()
        if settings.external_postgres:
            server = str(settings.database_url)
        else:
            from testcontainers.community.postgres import PostgresContainer

            pg = stack.enter_context(PostgresContainer("postgres:18"))
            server = pg.get_connection_url(driver=None)
        urls = {
            service: settings.service_database_override(service) or database_url(server, name)
            for service, name in SERVICE_DATABASES.items()
        }
        asyncio.run(ensure_topics(bootstrap))
        asyncio.run(ensure_databases(urls))
        yield TestInfrastructure(bootstrap, urls, "containers")
