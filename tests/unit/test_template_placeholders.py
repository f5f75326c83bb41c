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


def test_the_page_says_every_failure_of_the_notifier_in_german() -> None:
    """Every code the notifier fails a notification with has its German sentence; a mail
    server's or SMS gateway's refusal is said with its number, a retry as one."""
    from lead_manager.entrypoints.labels import FAILURE_LABELS, failure_text
    from osb_contracts.notifications import FailureCode

    assert set(FAILURE_LABELS) == set(FailureCode)
    assert failure_text("SMS_OPTED_OUT", "the customer opted out") == (
        "Kunde hat SMS abbestellt (STOP)."
    )
    assert failure_text("SMS_NOT_ENABLED", "SMS is not enabled for branch HH-01") == (
        "SMS ist für diesen Betrieb nicht freigeschaltet."
    )
    assert failure_text("SMTP_550", "5.1.1 mailbox unavailable") == (
        "Der E-Mail-Server hat die Nachricht abgelehnt (Code 550)."
    )
    assert failure_text("SMS_503", "busy", permanent=False) == (
        "Der SMS-Dienst hat die Nachricht abgelehnt (Code 503). Es wird erneut versucht."
    )
    assert failure_text("SMTP_UNAVAILABLE", "ConnectionRefusedError()", permanent=False) == (
        "Der E-Mail-Server ist nicht erreichbar. Es wird erneut versucht."
    )
    # a code this page does not know yet (a newer notifier): its own words, not nothing
    assert failure_text("SOMETHING_NEW", "a reason") == "a reason"
