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
    # The duplicate search's Fellegi-Sunter model: its comparison counts are shared every
    # learn_interval_s; the first model once model_min_pairs candidate pairs are counted.
    learn_interval_s: float = 30.0
    model_min_pairs: int = 20_000
    # Bands by a candidate's match probability under the model.
    certain_from: float = 0.999
    likely_from: float = 0.5
    possible_from: float = 0.01
