"""lead-intake's settings, from the environment (``make run`` provides them)."""

from __future__ import annotations

from osb_platform.settings import ServiceSettings
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from lead_intake.domain.validation import Branch


class BranchSetting(BaseModel):
    country: str = "DE"
    timezone: str = "Europe/Berlin"


DEMO_BRANCHES = {
    "HH-01": BranchSetting(country="DE", timezone="Europe/Berlin"),
    "M-01": BranchSetting(country="DE", timezone="Europe/Berlin"),
    "W-01": BranchSetting(country="AT", timezone="Europe/Vienna"),
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LEAD_INTAKE_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices(
            "LEAD_INTAKE_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    database_url: str = "postgresql://postgres@localhost/lead_intake"
    # Known branches: id -> country (default phone region) and time zone (portal wall clock).
    branches: dict[str, BranchSetting] = DEMO_BRANCHES
    http_host: str = "127.0.0.1"
    http_port: int = 8001
    consumer_group: str = "lead-intake"
    max_batch: int = 500
    max_body_bytes: int = 64 * 1024
    # Checks the links in the customer's messages (the notifier signs them with the same
    # secret, OSB_CUSTOMER_LINK_SECRET for both); without it every link is refused.
    customer_link_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        validation_alias=AliasChoices(
            "LEAD_INTAKE_CUSTOMER_LINK_SECRET", "OSB_CUSTOMER_LINK_SECRET"
        ),
    )

    def branch_map(self) -> dict[str, Branch]:
        return {k: Branch(k, v.country, v.timezone) for k, v in self.branches.items()}
