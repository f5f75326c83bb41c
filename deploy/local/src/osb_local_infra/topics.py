"""Create the registry's topics (and their dead-letter topics) with their partition counts,
and bring an existing topic's configuration to the registry's (``retention.ms`` of
``osb.lead.events.v1`` became "for ever" after installations had created it with 7 days)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from osb_contracts.topics import all_topic_specs


@dataclass(frozen=True)
class TopicState:
    name: str
    wanted_partitions: int
    partitions: int | None  # None: missing


async def ensure_topics(
    bootstrap_servers: str,
    specs: list[tuple[str, int, dict[str, str]]] | None = None,
    *,
    replication_factor: int = 1,
    client: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create the missing topics; return the names created. An existing topic whose
    configuration differs from the registry's gets the registry's values (its other
    settings stay as they are); the partitions of an existing topic are left alone.

    ``client``: the admin client's security options (a secured cluster's SASL/TLS settings).
    """
    specs = all_topic_specs() if specs is None else specs
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=30000, **(client or {})
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=config,
            )
            for name, partitions, config in specs
            if name not in existing
        ]
        if missing:
            # Another instance may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        await _reconcile(admin, [(n, c) for n, _, c in specs if n in existing and c])
        return [t.name for t in missing]
    finally:
        await admin.close()


_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' config_source of a value set on the topic


async def _reconcile(admin: AIOKafkaAdminClient, wanted: list[tuple[str, dict[str, str]]]) -> None:
    """Set the registry's values where an existing topic has others. AlterConfigs replaces
    a topic's whole set of values, so the ones set on it before are sent along."""
    if not wanted:
        return
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name, _ in wanted]
    described = {}
    for response in await admin.describe_configs(resources):
        for _error, _message, _type, name, entries in response.resources:
            described[name] = entries
    changes = []
    for name, config in wanted:
        entries = described.get(name, [])
        now = {e[0]: e[1] for e in entries}
        if all(now.get(k) == v for k, v in config.items()):
            continue
        kept = {e[0]: e[1] for e in entries if e[3] == _DYNAMIC_TOPIC_CONFIG}
        changes.append(ConfigResource(ConfigResourceType.TOPIC, name, configs={**kept, **config}))
    if changes:
        await admin.alter_configs(changes)


async def describe_topics(
    bootstrap_servers: str, *, client: Mapping[str, Any] | None = None
) -> list[TopicState]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=10000, **(client or {})
    )
    await admin.start()
    try:
        described = await admin.describe_topics([name for name, _, _ in all_topic_specs()])
        counts = {
            d["topic"]: len(d["partitions"]) for d in described if d.get("error_code", 0) == 0
        }
        return [TopicState(name, wanted, counts.get(name)) for name, wanted, _ in all_topic_specs()]
    finally:
        await admin.close()
