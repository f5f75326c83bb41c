"""Every service refuses an oversized request body with 413, whatever the endpoint."""

from __future__ import annotations

import importlib
from typing import Any

import httpx
import pytest

SERVICES = {
    "lead-intake": ("lead_intake", {}),
    "lead-manager": ("lead_manager", {"jwt_secret": "x" * 32}),
    "customer-matching": ("customer_matching", {}),
    "notifier": ("notifier", {}),
}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_an_oversized_body_is_refused(service: str) -> None:
    package, required = SERVICES[service]
    settings: Any = importlib.import_module(f"{package}.settings").Settings(**required)
    app = importlib.import_module(f"{package}.entrypoints.app").create_app(settings)
    too_big = b"x" * (settings.max_body_bytes + 1)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as http:
        refused = await http.post("/health/live", content=too_big)
    assert refused.status_code == 413
