"""The services as real processes on the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from osb_testing.system import LeadSystem, lead_system

JWT_SECRET = "e2e-secret-of-at-least-32-characters!!"


def token_headers() -> dict[str, str]:
    token = issue_token(JWT_SECRET, user="anna", name="Anna", branches={"HH-01": list(Permission)})
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def system(
    kafka_bootstrap_servers: str, database_urls: dict[str, str]
) -> AsyncIterator[LeadSystem]:
    started = await lead_system(
        uuid.uuid4().hex[:8],
        bootstrap=kafka_bootstrap_servers,
        database_urls=database_urls,
        jwt_secret=JWT_SECRET,
    )
    try:
        await asyncio.gather(started.intake.start(), started.manager.start())
        yield started
    finally:
        started.intake.stop()
        started.manager.stop()


@pytest.fixture
def auth() -> dict[str, str]:
    return token_headers()
