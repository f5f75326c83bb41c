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


def test_both_services_default_to_the_same_confirmation_and_reminder_texts() -> None:
    """A branch that never edited them: the settings dialog shows what the notifier sends."""
    from lead_manager.domain.branch import DEFAULT_TEMPLATES as SHOWN
    from notifier.domain.texts import DEFAULT_TEMPLATES as SENT

    for name in ("confirmation_email", "confirmation_sms", "reminder_email", "reminder_sms"):
        assert SHOWN[name] == SENT[name], name


def test_the_page_says_the_notifier_s_stop_refusal_in_german() -> None:
    from lead_manager.entrypoints.labels import HISTORY_LABELS
    from notifier.service.dispatch import OPTED_OUT

    assert HISTORY_LABELS[OPTED_OUT] == "Kunde hat SMS abbestellt (STOP)"
