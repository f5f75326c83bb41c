"""notifier's settings, from the environment (``make run`` provides them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from osb_platform.settings import ServiceSettings
from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from notifier.domain.plan import BranchChannels
from notifier.domain.texts import CustomerLinks


class BranchSetting(BaseModel):
    name: str
    sender: str
    reply_to: str | None = None
    sms_enabled: bool = False
    timezone: str = "Europe/Berlin"
    templates: dict[str, str] = Field(default_factory=dict)


DEMO_BRANCHES = {
    "HH-01": BranchSetting(
        name="Autohaus Hansa Hamburg",
        sender="service@hansa-hamburg.example",
        reply_to="werkstatt@hansa-hamburg.example",
        sms_enabled=True,
    ),
    "M-01": BranchSetting(name="Autohaus Isar München", sender="service@isar-muenchen.example"),
    "W-01": BranchSetting(
        name="Autohaus Donau Wien", sender="service@donau-wien.example", timezone="Europe/Vienna"
    ),
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices(
            "NOTIFIER_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    database_url: str = "postgresql://postgres@localhost/notifier"
    consumer_group: str = "notifier"
    http_host: str = "127.0.0.1"
    # The endpoints are GETs and the SMS gateway's callback; a body is refused above this.
    max_body_bytes: int = 16 * 1024
    http_port: int = 8004
    # where the keys of the lead events' sealed personal fields are asked for (with the
    # installation's OSB_PRIVACY_TOKEN): lead-manager
    lead_manager_url: str = Field(
        default="http://127.0.0.1:8002",
        validation_alias=AliasChoices("NOTIFIER_LEAD_MANAGER_URL", "OSB_LEAD_MANAGER_URL"),
    )
    # The e-mail sender module: SMTP.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # A CA bundle to trust for STARTTLS/TLS besides the system's (a company relay's own CA).
    smtp_ca_file: Path | None = None
    smtp_timeout_s: float = 15.0
    smtp_connections: int = 4
    # The SMS gateway (see adapters/sms.py for the protocol).
    sms_gateway_url: str = "http://127.0.0.1:8026/sms"
    sms_gateway_token: SecretStr | None = None
    # The gateway's callback with the customers' answers (STOP) authenticates with this;
    # without it POST /api/v1/sms/replies is not offered.
    sms_reply_token: SecretStr | None = None
    # The customer's links in confirmations and reminders (confirm, cancel, another time):
    # lead-intake's public address, and the secret both services sign and check them with
    # (OSB_CUSTOMER_LINK_SECRET for both). Without a secret the messages carry no links.
    customer_link_base_url: str = "http://127.0.0.1:8001"
    customer_link_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        validation_alias=AliasChoices("NOTIFIER_CUSTOMER_LINK_SECRET", "OSB_CUSTOMER_LINK_SECRET"),
    )
    branches: dict[str, BranchSetting] = DEMO_BRANCHES
    retry_max_attempts: int = 8
    retry_base_delay_s: float = 2.0
    retry_max_delay_s: float = 300.0
    dispatch_batch: int = 50
    lease_s: float = 60.0

    def customer_links(self) -> CustomerLinks | None:
        secret = self.customer_link_secret
        return (
            CustomerLinks(self.customer_link_base_url, secret.get_secret_value())
            if secret
            else None
        )

    def branch_channels(self) -> dict[str, BranchChannels]:
        return {
            k: BranchChannels(v.name, v.sender, v.reply_to, v.sms_enabled, v.timezone, v.templates)
            for k, v in self.branches.items()
        }
