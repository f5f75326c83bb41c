"""lead-manager's settings, from the environment (``make run`` provides them)."""

from __future__ import annotations

from osb_platform.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEAD_MANAGER_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices(
            "LEAD_MANAGER_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    database_url: str = "postgresql://postgres@localhost/lead_manager"
    # the other services asked for a person's data (issue 19), by name: their base URLs
    privacy_peers: dict[str, str] = Field(default_factory=dict)
    # the installation's consumer groups (by prefix): an erasure cuts the work topics at
    # what they have all read
    privacy_groups: list[str] = Field(
        default_factory=lambda: ["lead-intake", "lead-manager", "customer-matching", "notifier"]
    )
    # Signs the advisors' bearer tokens; from a secret store in production.
    jwt_secret: SecretStr = Field(min_length=32)
    http_host: str = "127.0.0.1"
    http_port: int = 8002
    consumer_group: str = "lead-manager"
    max_batch: int = 500
    db_pool_size: int = 10
    max_body_bytes: int = 64 * 1024
    # How long the advisor's screen waits for customer-matching before a clear 503.
    matching_timeout_s: float = 3.0
    # How often the new leads past their deadline and the no-shows are looked for (each
    # reported within this).
    overdue_scan_s: float = Field(default=20.0, gt=0, le=60)
    # How often closed leads past their branch's retention are looked for (issue 19).
    retention_scan_s: float = Field(default=3600.0, gt=0)
    # Whether this instance keeps the Auswertung's read model current (at least one must;
    # every instance that does reads the whole lead-events topic).
    insight_feed: bool = True
    # The read model applies the lead events at most this often unless a batch is full:
    # the figures may be this late, the pipeline's database is spared.
    insight_interval_s: float = Field(default=1.0, ge=0, le=60)
