"""The base of every service's settings: environment variables, and secrets from files.

With ``OSB_SECRETS_DIR`` set (compose: ``/run/secrets``; Kubernetes: a mounted Secret), a file
named like a setting's environment variable (``lead_manager_jwt_secret``) supplies it, so no
secret has to pass through the environment or a command line.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def secrets_dir() -> Path | None:
    configured = os.environ.get("OSB_SECRETS_DIR")
    return Path(configured) if configured and Path(configured).is_dir() else None


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", secrets_dir=secrets_dir())

    # the services' shared token for a person's export and erasure (osb_platform.privacy);
    # without it a service offers neither
    privacy_token: SecretStr | None = Field(
        default=None, min_length=24, validation_alias=AliasChoices("OSB_PRIVACY_TOKEN")
    )
