"""Bring the whole infrastructure up or down: external servers when configured, else local ones."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from osb_contracts.topics import all_topic_specs
from osb_platform.kafka_security import KafkaSecurity

from osb_local_infra.kafka import cluster, every_local_broker, start_cluster
from osb_local_infra.postgres import (
    LocalPostgres,
    check_databases,
    ensure_databases,
    service_database_urls,
)
from osb_local_infra.settings import InfraSettings
from osb_local_infra.topics import ensure_topics


@dataclass
class Infra:
    bootstrap_servers: str
    database_urls: dict[str, str]
    started: list[str] = field(default_factory=list)
    topics_created: list[str] = field(default_factory=list)
    databases_created: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment a service process needs to find the infrastructure."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers}
        for service, url in self.database_urls.items():
            env[f"{service.upper().replace('-', '_')}_DATABASE_URL"] = url
        return env


def up(settings: InfraSettings | None = None) -> Infra:
    """Start what is local and missing, then create the topics and databases (idempotent)."""
    settings = settings or InfraSettings()
    started = []
    brokers = cluster(settings)
    local_pg = LocalPostgres(settings)
    if settings.external_kafka:
        bootstrap = str(settings.kafka_bootstrap_servers)
    else:
        if start_cluster(brokers):
            started.append("kafka")
        bootstrap = ",".join(b.bootstrap_servers for b in brokers)
    if not settings.external_postgres and local_pg.start():
        started.append("postgres")
    urls = service_database_urls(settings, local_pg)
    infra = Infra(bootstrap, urls, started)
    replicas = 1 if settings.external_kafka else min(3, len(brokers))  # an external one: its own
    infra.topics_created = asyncio.run(
        ensure_topics(
            bootstrap,
            all_topic_specs(dlq_retention_days=settings.osb_dlq_retention_days),
            replication_factor=replicas,
            client=client_options(settings),
        )
    )
    infra.databases_created = asyncio.run(ensure_databases(urls))
    return infra


def client_options(settings: InfraSettings) -> dict[str, Any]:
    """The admin client's security: the services' KAFKA_SECURITY_* settings for an external
    cluster; the local broker's own listener is plaintext."""
    return KafkaSecurity().aiokafka() if settings.external_kafka else {}


def down(settings: InfraSettings | None = None, *, only: list[str] | None = None) -> list[str]:
    """Stop the local servers (never external ones). Return what was stopped."""
    settings = settings or InfraSettings()
    stopped = []
    # `only=[]` (nothing was started by the caller) stops nothing.
    wanted = {"kafka", "postgres"} if only is None else set(only)
    if "kafka" in wanted and [b for b in every_local_broker(settings) if b.stop()]:
        stopped.append("kafka")
    if "postgres" in wanted and LocalPostgres(settings).stop():
        stopped.append("postgres")
    return stopped


def current(settings: InfraSettings | None = None) -> Infra:
    """The running infrastructure, without starting anything."""
    settings = settings or InfraSettings()
    bootstrap = settings.kafka_bootstrap_servers or ",".join(
        b.bootstrap_servers for b in cluster(settings)
    )
    return Infra(str(bootstrap), service_database_urls(settings))


def database_status(infra: Infra) -> dict[str, str]:
    return asyncio.run(check_databases(infra.database_urls))
