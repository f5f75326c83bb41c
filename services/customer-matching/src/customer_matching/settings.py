"""customer-matching's settings, from the environment (``make run`` provides them)."""

from __future__ import annotations

from osb_platform.settings import ServiceSettings
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOMER_MATCHING_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices(
            "CUSTOMER_MATCHING_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    database_url: str = "postgresql://postgres@localhost/customer_matching"
    # The replica writers share one group; answering requests, any instance will do.
    consumer_group: str = "customer-matching"
    http_host: str = "127.0.0.1"
    # Every endpoint here is a GET; a body is refused above this.
    max_body_bytes: int = 16 * 1024
    http_port: int = 8003
    # New customer numbers: prefix and zero-padded number from first to last.
    number_prefix: str = "OSB"
    number_first: int = 1
    number_last: int = 999_999
    number_digits: int = 6
    too_common: int = 20
    follow_interval_s: float = 0.1
