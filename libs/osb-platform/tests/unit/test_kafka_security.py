"""Kafka connection settings: what each protocol hands to aiokafka and to FastStream."""

from __future__ import annotations

import ssl

import pytest
from faststream.security import SASLScram512
from osb_platform.kafka_security import KafkaSecurity
from pydantic import ValidationError


def test_plaintext_by_default() -> None:
    security = KafkaSecurity(_env_file=None)
    assert security.aiokafka() == {"security_protocol": "PLAINTEXT"}
    assert security.faststream() is None


def test_sasl_over_tls_with_scram() -> None:
    security = KafkaSecurity(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="osb",
        sasl_password="pw",
    )
    options = security.aiokafka()
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == ("SCRAM-SHA-512", "osb")
    assert options["sasl_plain_password"] == "pw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert isinstance(security.faststream(), SASLScram512)
    assert "pw" not in repr(security)


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME"):
        KafkaSecurity(security_protocol="SASL_PLAINTEXT")
