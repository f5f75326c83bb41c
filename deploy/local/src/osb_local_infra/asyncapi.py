"""docs/asyncapi/: each service's AsyncAPI document, generated from its broker and checked in."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[4] / "docs" / "asyncapi"
# Each service's `asyncapi(settings)`; imported by name, as the services are separate packages.
SERVICES = {
    "lead-intake": "lead_intake",
    "lead-manager": "lead_manager",
    "customer-matching": "customer_matching",
    "notifier": "notifier",
}
# Settings a service insists on that do not show in its document.
_REQUIRED = {"lead-manager": {"jwt_secret": "x" * 32}}


def document(service: str) -> dict[str, Any]:
    package = SERVICES[service]
    app = importlib.import_module(f"{package}.entrypoints.app")
    settings = importlib.import_module(f"{package}.settings").Settings(
        _env_file=None, kafka_bootstrap_servers="localhost:9092", **_REQUIRED.get(service, {})
    )
    result: dict[str, Any] = app.asyncapi(settings)
    return result


def rendered(service: str) -> str:
    return json.dumps(document(service), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(folder: Path = DOCS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for service in SERVICES:
        path = folder / f"{service}.json"
        path.write_text(rendered(service), encoding="utf-8")
        written.append(path)
    return written


def stale(folder: Path = DOCS) -> list[str]:
    """The services whose checked-in document differs from what their broker generates."""
    return [
        service
        for service in SERVICES
        if not (folder / f"{service}.json").exists()
        or (folder / f"{service}.json").read_text(encoding="utf-8") != rendered(service)
    ]
