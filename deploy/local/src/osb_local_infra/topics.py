"""Create the registry's topics (and their dead-letter topics) with their partition counts."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
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
    """Create the missing topics; return the names created. Existing topics are left as they are.

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
        return [t.name for t in missing]
    finally:
        await admin.close()


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
