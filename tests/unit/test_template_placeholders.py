"""The branch's templates are checked in lead-manager and rendered by both services: the
placeholders the settings accept are the ones each renderer fills."""

from __future__ import annotations

from lead_manager.entrypoints.http.schemas import _SAMPLE
from notifier.domain.texts import placeholders
from osb_contracts.values import ConfirmationChannel
from osb_testing.factories import appointment


def test_the_notifier_fills_every_placeholder_the_settings_accept() -> None:
    filled = placeholders(
        appointment(ConfirmationChannel.EMAIL), branch_name="Autohaus Hansa", zone="Europe/Berlin"
    )
    assert set(filled) == set(_SAMPLE)
