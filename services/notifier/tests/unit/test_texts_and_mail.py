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
