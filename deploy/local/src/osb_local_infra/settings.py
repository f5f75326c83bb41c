"""Where the infrastructure is: external servers from the environment, else the local one."""

from __future__ import annotations

import os
from pathlib import Path

from osb_contracts.topics import DLQ_RETENTION_DAYS
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# deploy/local/src/osb_local_infra/settings.py -> the checkout's root
REPO_ROOT = Path(__file__).resolve().parents[4]

SERVICE_DATABASES: dict[str, str] = {
    "lead-intake": "lead_intake",
    "lead-manager": "lead_manager",
    "customer-matching": "customer_matching",
    "notifier": "notifier",
}


class InfraSettings(BaseSettings):
    """``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` point at external servers; then
    nothing local is started. ``DATABASE_URL`` names any database on the server: each
    service's database is derived from it by name (or given by ``<SERVICE>_DATABASE_URL``).
    """

    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str | None = None
    database_url: str | None = None
    osb_run_dir: Path = Field(default=REPO_ROOT / ".local")
    osb_kafka_port: int = 9092
    osb_kafka_controller_port: int = 9093
    osb_kafka_sasl_port: int = 9094
    osb_kafka_heap: str = "768m"
    # 3: a local cluster of three nodes (replication 3, min.insync.replicas 2) instead of one
    osb_kafka_brokers: int = Field(default=1, ge=1, le=5)
    osb_kafka_cluster_heap: str = "512m"
    # make run's HTTP and SMTP ports: the services at +1 to +4, SMTP +25, SMS +26, DMS +27
    osb_run_port_base: int = 8000
    # how long a dead letter is kept (set on the .dlq topics at every `osb-infra up`)
    osb_dlq_retention_days: int = Field(default=DLQ_RETENTION_DAYS, ge=1, le=3650)

    @property
    def run_dir(self) -> Path:
        return self.osb_run_dir.resolve()

    @property
    def external_kafka(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

    @property
    def external_postgres(self) -> bool:
        return bool(self.database_url)

    def service_database_override(self, service: str) -> str | None:
        return os.environ.get(f"{service.upper().replace('-', '_')}_DATABASE_URL") or None
