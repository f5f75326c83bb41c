"""How every Kafka client of the pipeline connects: plaintext, TLS, SASL or SASL over TLS.

One set of variables for all services and tools (like ``KAFKA_BOOTSTRAP_SERVERS``):
``KAFKA_SECURITY_PROTOCOL`` (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), ``KAFKA_SASL_MECHANISM``
(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), ``KAFKA_SASL_USERNAME``, ``KAFKA_SASL_PASSWORD`` (a
secret: from ``OSB_SECRETS_DIR/kafka_sasl_password`` in production) and ``KAFKA_SSL_CA_FILE``
for a private CA.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from osb_platform.settings import ServiceSettings

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


class KafkaSecurity(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_file: Path | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        if self.sasl and not (self.sasl_username and self.sasl_password):
            raise ValueError(f"{self.security_protocol} needs KAFKA_SASL_USERNAME and _PASSWORD")
        return self

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        cafile = str(self.ssl_ca_file) if self.ssl_ca_file else None
        context: ssl.SSLContext = create_ssl_context(cafile=cafile)
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and the admin client."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            assert self.sasl_password is not None
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        return options

    def faststream(self) -> BaseSecurity | None:
        """The same, as FastStream's ``security=`` object."""
        if self.security_protocol == "PLAINTEXT":
            return None
        if not self.sasl:
            return BaseSecurity(ssl_context=self.ssl_context(), use_ssl=True)
        assert self.sasl_username is not None
        assert self.sasl_password is not None
        return _SASL[self.sasl_mechanism](
            self.sasl_username,
            self.sasl_password.get_secret_value(),
            ssl_context=self.ssl_context(),
            use_ssl=self.tls,
        )
