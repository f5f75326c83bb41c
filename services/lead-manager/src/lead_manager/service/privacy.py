"""A person's data from every service, for the privacy officer (GDPR Art. 15; issue 19).

lead-manager finds the person's leads in the branches the officer answers for, widens what
identifies them by what those leads say, and asks the other services for theirs. The topics
carry copies of the same records as events, each for as long as its retention says: the
document names them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from osb_contracts.topics import TOPICS
from osb_platform.privacy import Part, ServiceExport, Subject
from pydantic import BaseModel

from lead_manager.domain.permissions import Actor, Permission


class Peer(Protocol):
    name: str

    async def export(self, subject: Subject) -> ServiceExport: ...


class TopicCopy(BaseModel):
    topic: str
    about: str
    kept: str  # how long a record stays


class PrivacyExport(BaseModel):
    subject: Subject  # as asked
    found_by: Subject  # as widened by the person's leads
    branches: list[str]
    exported_at: datetime
    exported_by: str
    services: list[ServiceExport]
    topics: list[TopicCopy]


class NotAllowedError(Exception):
    """The actor is privacy officer of no branch."""


OwnExport = Callable[[Subject, list[str]], Awaitable[tuple[list[Part], Subject]]]


async def export_person(
    actor: Actor,
    subject: Subject,
    *,
    own: OwnExport,
    peers: Sequence[Peer],
    now: datetime,
    service: str = "lead-manager",
) -> PrivacyExport:
    branches = actor.branches_with(Permission.PRIVACY_OFFICER)
    if not branches:
        raise NotAllowedError
    parts, widened = await own(subject, branches)
    others = await asyncio.gather(*(p.export(widened) for p in peers))
    return PrivacyExport(
        subject=subject,
        found_by=widened,
        branches=branches,
        exported_at=now,
        exported_by=actor.id,
        services=[ServiceExport(service=service, parts=parts), *others],
        topics=topic_copies(),
    )


def topic_copies() -> list[TopicCopy]:
    copies = []
    for topic in TOPICS:
        copies.append(
            TopicCopy(topic=topic.name, about=topic.description, kept=_kept(topic.config))
        )
        if topic.has_dlq:
            copies.append(
                TopicCopy(
                    topic=topic.dlq,
                    about=f"Records of {topic.name} that could not be processed.",
                    kept=_kept({}),
                )
            )
    return copies


def _kept(config: dict[str, Any]) -> str:
    if config.get("cleanup.policy") == "compact":
        return "the latest record per key, until it is deleted"
    retention = config.get("retention.ms")
    if retention == "-1":
        return "for ever"
    if retention is None:
        return "the cluster's retention (7 days by default)"
    return f"{int(retention) / 3_600_000:g} hours"
