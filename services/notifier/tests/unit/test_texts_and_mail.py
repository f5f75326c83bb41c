from __future__ import annotations

import email
import email.policy
import random
from datetime import UTC, datetime

import pytest
from notifier.adapters.email import build_message
from notifier.domain.notification import RetryPolicy
from notifier.domain.plan import BranchChannels, notification_id, plan
from notifier.domain.texts import TemplateFailedError, render
from osb_contracts import Envelope, Message
from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.values import Channel, ConfirmationChannel
from osb_testing.factories import appointment, rejection

BRANCHES = {
    "HH-01": BranchChannels(
        "Autohaus Hansa Hamburg",
        "service@hansa.example",
        "werkstatt@hansa.example",
        sms_enabled=True,
    ),
    "M-01": BranchChannels("Autohaus Isar München", "service@isar.example"),
}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def env(message: Message, event_id: str = "evt-1") -> Envelope[Message]:
    return Envelope(event_id, "t", "/t", NOW, "c", None, None, message)


def test_a_rejection_keeps_the_advisors_text_and_a_stable_message_id() -> None:
    event = rejection(text="Bitte rufen Sie uns an – Grüße!")
    (draft,) = plan(env(event), BRANCHES)
    assert draft.text == "Bitte rufen Sie uns an – Grüße!"
    assert draft.subject == "Ihr Terminwunsch bei Autohaus Hansa Hamburg"
    assert draft.id == notification_id("evt-1", Channel.EMAIL)
    assert draft.id != notification_id("evt-1", Channel.SMS)  # one record per channel
    assert draft.message_id == f"<{draft.id}@hansa.example>"
    (again,) = plan(env(event), BRANCHES)
    assert again.message_id == draft.message_id


def test_the_mime_message_as_sent() -> None:
    (draft,) = plan(env(rejection(text="Größe: Äpfel & Öl\n\nZweiter Absatz")), BRANCHES)
    raw = build_message(draft, sender_name="Autohaus Hansa Hamburg", now_utc=NOW).as_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["From"] == "Autohaus Hansa Hamburg <service@hansa.example>"
    assert message["Reply-To"] == "werkstatt@hansa.example"
    assert message["Message-ID"] == draft.message_id
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().strip() == "Größe: Äpfel & Öl\n\nZweiter Absatz"
    assert "<p>Größe: Äpfel &amp; Öl</p><p>Zweiter Absatz</p>" in html.get_content()


def test_a_confirmation_is_rendered_from_the_template() -> None:
    (draft,) = plan(env(appointment(ConfirmationChannel.EMAIL)), BRANCHES)
    assert draft.subject == "Ihr Werkstatttermin am 03.12.2026 bei Autohaus Hansa Hamburg"
    assert "am 03.12.2026 um 09:30 Uhr für VW Käfer HH-AB 1" in draft.text
    assert draft.text.startswith("Guten Tag Frau Jürgen Größmann-Öztürk,")
    assert plan(env(appointment(ConfirmationChannel.NONE)), BRANCHES) == []


def test_sms_only_where_the_branch_has_it() -> None:
    (ok,) = plan(env(appointment(ConfirmationChannel.SMS, branch="HH-01")), BRANCHES)
    assert ok.failure is None
    assert (
        ok.text
        == "Autohaus Hansa Hamburg: Ihr Werkstatttermin am 03.12.2026 um 09:30 Uhr ist bestätigt."
    )
    (refused,) = plan(env(appointment(ConfirmationChannel.SMS, branch="M-01")), BRANCHES)
    assert refused.failure is not None
    assert (refused.failure.code, refused.failure.permanent) == ("SMS_NOT_ENABLED", True)


def test_templates_are_sandboxed() -> None:
    with pytest.raises(TemplateFailedError):
        render("{{ name.__class__.__mro__[1].__subclasses__() }}", {"name": "x"})
    with pytest.raises(TemplateFailedError):
        render("{{ missing }}", {})
    broken = {
        **BRANCHES,
        "HH-01": BranchChannels("H", "s@h.example", templates={"confirmation_email": "{{ oops"}),
    }
    (draft,) = plan(env(appointment(ConfirmationChannel.EMAIL)), broken)
    assert draft.failure is not None
    assert draft.failure.code == "TEMPLATE"


def test_retries_back_off_with_jitter_then_give_up() -> None:
    policy = RetryPolicy(max_attempts=4, base_delay_s=2, max_delay_s=5)
    rng = random.Random(1)
    delays = [(policy.next_attempt(n, NOW, rng) - NOW).total_seconds() for n in (1, 2, 3)]  # type: ignore[operator]
    assert 1 <= delays[0] <= 2
    assert 2 <= delays[1] <= 4
    assert 2.5 <= delays[2] <= 5  # capped
    assert policy.next_attempt(4, NOW, rng) is None


def test_a_branch_without_a_sender_cannot_mail() -> None:
    branches = {"X-01": BranchChannels("Autohaus X", "", sms_enabled=True)}
    (draft,) = plan(env(rejection(branch="X-01")), branches)
    assert draft.failure is not None
    assert (draft.failure.code, draft.failure.permanent) == ("NO_SENDER", True)
    assert (draft.sender, draft.message_id) == (None, f"<{draft.id}@osb.invalid>")
    (sms,) = plan(env(rejection(Channel.SMS, branch="X-01")), branches)
    assert sms.failure is None  # an SMS needs no sender address


def test_an_unknown_branch_has_neither_sender_nor_sms() -> None:
    (mail,) = plan(env(rejection(branch="Q-01")), BRANCHES)
    assert mail.failure is not None
    assert mail.failure.code == "NO_SENDER"
    assert mail.subject == "Ihr Terminwunsch bei Q-01"
    (sms,) = plan(env(rejection(Channel.SMS, branch="Q-01")), BRANCHES)
    assert sms.failure is not None
    assert sms.failure.code == "SMS_NOT_ENABLED"


def test_an_sms_rejection_has_no_subject_html_or_message_id() -> None:
    event = rejection(Channel.SMS, subject="Betreff", text="Leider belegt.")
    (draft,) = plan(env(event), BRANCHES)
    assert (draft.channel, draft.recipient, draft.text) == (
        Channel.SMS,
        event.recipient,
        "Leider belegt.",
    )
    assert (draft.subject, draft.html, draft.message_id, draft.failure) == (
        None,
        None,
        None,
        None,
    )


def test_the_advisors_subject_wins_and_the_draft_names_its_source() -> None:
    event = rejection(subject="Ihr Termin am Montag")
    (draft,) = plan(env(event, "evt-9"), BRANCHES)
    assert draft.subject == "Ihr Termin am Montag"
    assert (draft.source_event_id, draft.source_event_type) == ("evt-9", "t")
    assert (draft.lead_id, draft.branch_id) == (event.lead_id, "HH-01")
    assert (draft.sender, draft.reply_to) == ("service@hansa.example", "werkstatt@hansa.example")
    assert draft.html is not None
    assert "Ihr Termin am Montag" in draft.html


def test_a_confirmation_without_a_recipient_and_unrelated_events_plan_nothing() -> None:
    no_one = appointment(ConfirmationChannel.EMAIL).model_copy(update={"recipient": None})
    assert plan(env(no_one), BRANCHES) == []
    unrelated = BranchSettingsChanged(
        branch_id="HH-01", settings_version=1, name="X", sms_enabled=True, changed_at=NOW
    )
    assert plan(env(unrelated), BRANCHES) == []


def test_a_template_that_fails_is_a_permanent_failure() -> None:
    broken = {
        "HH-01": BranchChannels(
            "Autohaus Hansa Hamburg",
            "service@hansa.example",
            templates={"confirmation_email": "{{ name.missing.deeper }}"},
        )
    }
    (draft,) = plan(env(appointment(ConfirmationChannel.EMAIL)), broken)
    assert draft.failure is not None
    assert (draft.failure.code, draft.failure.permanent) == ("TEMPLATE", True)
    assert (draft.subject, draft.text) == (None, "")


def test_a_branch_template_overrides_the_default() -> None:
    own = {
        "HH-01": BranchChannels(
            "Autohaus Hansa Hamburg",
            "service@hansa.example",
            templates={"confirmation_email_subject": "Termin {{ date }}", "confirmation_email": ""},
        )
    }
    (draft,) = plan(env(appointment(ConfirmationChannel.EMAIL)), own)
    assert draft.subject == "Termin 03.12.2026"
    assert draft.text.startswith("Guten Tag")  # an empty template falls back to the default
