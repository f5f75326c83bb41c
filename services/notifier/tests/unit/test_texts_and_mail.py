from __future__ import annotations

import email
import email.policy
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notifier.domain.notification import RetryPolicy, SendFailedError, Status
from notifier.domain.plan import BranchChannels, notification_id, plan
from notifier.domain.texts import (
    CustomerLinks,
    TemplateFailedError,
    as_html,
    placeholders,
    render,
)
from notifier.service.mail import build_message
from osb_contracts import Envelope, Message
from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.leads import AppointmentOffered, LeadOverdue, OfferedTime
from osb_contracts.values import Channel, ConfirmationChannel, Vehicle
from osb_platform import customer_links
from osb_platform.customer_links import LinkPurpose
from osb_testing.factories import appointment, rejection, reminder

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
    assert ok.text == (
        "Autohaus Hansa Hamburg: Ihr Werkstatttermin am 03.12.2026 um 09:30 Uhr ist bestätigt."
        " Keine SMS mehr? Antworten Sie STOP."
    )
    (refused,) = plan(env(appointment(ConfirmationChannel.SMS, branch="M-01")), BRANCHES)
    assert refused.failure is not None
    assert (refused.failure.code, refused.failure.permanent) == ("SMS_NOT_ENABLED", True)


def test_placeholders_without_a_first_name_or_vehicle_data() -> None:
    event = appointment(ConfirmationChannel.EMAIL)
    bare = event.model_copy(
        update={
            "customer": event.customer.model_copy(update={"first_name": None, "title": None}),
            "vehicle": Vehicle(),
        }
    )
    values = placeholders(bare, branch_name="Autohaus Hansa", zone="Europe/Berlin")
    assert values["first_name"] == ""
    assert values["name"] == "Frau Größmann-Öztürk"
    assert values["vehicle"] == "Ihr Fahrzeug"
    assert (values["date"], values["time"]) == ("03.12.2026", "09:30")


def test_texts_are_not_html_escaped_and_the_html_part_is() -> None:
    assert render("{{ name }}", {"name": "Müller & Söhne <GmbH>"}) == "Müller & Söhne <GmbH>"
    html = as_html("Zeile 1\nZeile 2\n\n  \n\nA & B", title="T <1>")
    assert html == (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        "<title>T &lt;1&gt;</title></head>"
        '<body style="font-family: sans-serif"><p>Zeile 1<br>Zeile 2</p><p>A &amp; B</p>'
        "</body></html>"
    )


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


class Fixed(random.Random):
    """A source of jitter that always draws the same share."""

    def __init__(self, share: float) -> None:
        super().__init__()
        self.share = share

    def random(self) -> float:
        return self.share


def test_the_default_plan_doubles_from_two_seconds_for_eight_attempts() -> None:
    policy = RetryPolicy()
    low = [(policy.next_attempt(n, NOW, Fixed(0.0)) - NOW).total_seconds() for n in range(1, 8)]  # type: ignore[operator]
    assert low == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]  # half the delay at the lowest jitter
    high = policy.next_attempt(3, NOW, Fixed(0.5))
    assert high == NOW + timedelta(seconds=6)  # three quarters of 8 s
    assert policy.next_attempt(8, NOW, Fixed(0.0)) is None
    longer = RetryPolicy(max_attempts=20)
    assert longer.next_attempt(10, NOW, Fixed(0.0)) == NOW + timedelta(seconds=150)  # 300 s cap


def test_a_send_failure_carries_its_code_reason_and_permanence() -> None:
    error = SendFailedError("SMTP_550", "mailbox unavailable", permanent=True)
    assert (error.code, error.reason, error.permanent) == ("SMTP_550", "mailbox unavailable", True)
    assert str(error) == "SMTP_550: mailbox unavailable"


def test_the_stored_states_keep_their_names() -> None:
    assert [s.value for s in Status] == ["PENDING", "SENT", "FAILED"]


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


def test_an_overdue_lead_is_reported_to_the_branch_s_escalation_address_only() -> None:
    received = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # 16:00 in Hamburg
    overdue = LeadOverdue(
        lead_id=uuid.uuid4(),
        booking_id="B-4711",
        branch_id="HH-01",
        received_at=received,
        respond_by=received + timedelta(hours=2),
        overdue_at=received + timedelta(hours=2, seconds=20),
        escalation_email="leitung@hansa.example",
    )
    (draft,) = plan(env(overdue), BRANCHES)
    assert (draft.channel, draft.recipient) == (Channel.EMAIL, "leitung@hansa.example")
    assert draft.subject == "Frist überschritten: Terminlead B-4711"
    assert "eingegangen am 04.12.2026 um 16:00 Uhr" in draft.text
    assert "bis 04.12.2026 18:00 Uhr zu beantworten" in draft.text
    assert draft.failure is None
    assert plan(env(overdue.model_copy(update={"escalation_email": None})), BRANCHES) == []


START = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)  # 09:30 in Berlin


def test_a_reminder_is_rendered_from_its_templates_by_the_confirmation_s_channel() -> None:
    due = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)  # 09:30 in Berlin, the day before
    (mail,) = plan(env(reminder(start=START, due_at=due)), BRANCHES, now=due)
    assert mail.failure is None
    assert (
        mail.subject == "Erinnerung: Ihr Werkstatttermin am 03.12.2026 bei Autohaus Hansa Hamburg"
    )
    assert "an Ihren Werkstatttermin am 03.12.2026 um 09:30 Uhr für VW Käfer HH-AB 1" in mail.text
    (sms,) = plan(env(reminder(Channel.SMS, start=START, due_at=due), "evt-2"), BRANCHES, now=due)
    assert sms.text == (
        "Autohaus Hansa Hamburg: Erinnerung an Ihren Werkstatttermin am 03.12.2026 um 09:30 Uhr."
        " Keine SMS mehr? Antworten Sie STOP."
    )


def test_a_reminder_read_late_in_the_quiet_hours_or_after_the_start_is_missed() -> None:
    evening = datetime(2026, 12, 2, 19, 30, tzinfo=UTC)  # 20:30 in Berlin, planned so
    (on_time,) = plan(env(reminder(start=START, due_at=evening)), BRANCHES, now=evening)
    assert on_time.failure is None
    # the notifier was away: read at 21:10 in Berlin, 40 minutes late
    late = evening + timedelta(minutes=40)
    (quiet,) = plan(env(reminder(start=START, due_at=evening)), BRANCHES, now=late)
    assert quiet.failure is not None
    assert (quiet.failure.code, quiet.failure.permanent) == ("REMINDER_MISSED", True)
    morning = datetime(2026, 12, 3, 8, 31, tzinfo=UTC)  # 09:31: the appointment began
    (after,) = plan(env(reminder(start=START, due_at=evening)), BRANCHES, now=morning)
    assert after.failure is not None
    assert after.failure.code == "REMINDER_MISSED"


LINKS = CustomerLinks("https://termine.example/", "a-secret-of-at-least-thirty-two-chars")


def _tokens(text: str) -> list[customer_links.CustomerLink]:
    urls = [w for w in text.split() if w.startswith("https://termine.example/termin/")]
    return [customer_links.read(LINKS.secret, u.rsplit("/", 1)[1]) for u in urls]


def test_a_confirmation_and_a_reminder_carry_the_customers_links_to_their_appointment() -> None:
    event = appointment(ConfirmationChannel.EMAIL)
    (confirmation,) = plan(env(event), BRANCHES, links=LINKS)
    assert "Termin absagen: https://termine.example/termin/" in confirmation.text
    assert [(t.about, t.purpose) for t in _tokens(confirmation.text)] == [
        (event.appointment_id, LinkPurpose.CANCEL),
        (event.appointment_id, LinkPurpose.OTHER_TIME),
    ]
    assert confirmation.html is not None
    assert confirmation.html.count('<a href="https://termine.example/termin/') == 2
    due = reminder(channel=Channel.EMAIL)
    (mail,) = plan(env(due), BRANCHES, links=LINKS, now=due.due_at)
    assert [t.purpose for t in _tokens(mail.text)] == [
        LinkPurpose.CONFIRM,
        LinkPurpose.CANCEL,
        LinkPurpose.OTHER_TIME,
    ]
    assert {t.about for t in _tokens(mail.text)} == {due.appointment_id}
    sms = reminder(channel=Channel.SMS, recipient="+4917612345678")
    (short,) = plan(env(sms), BRANCHES, links=LINKS, now=sms.due_at)
    (link,) = _tokens(short.text)
    assert link.purpose is LinkPurpose.ANY
    assert short.text.endswith("Keine SMS mehr? Antworten Sie STOP.")
    assert len(short.text) <= 2 * 153  # two SMS at most


def test_without_a_link_secret_the_messages_carry_no_links() -> None:
    (confirmation,) = plan(env(appointment(ConfirmationChannel.EMAIL)), BRANCHES)
    assert "/termin/" not in confirmation.text
    assert "Passt der Termin nicht mehr?" not in confirmation.text
    assert confirmation.text.endswith("Ihr Serviceteam Autohaus Hansa Hamburg")


def _offer(channel: Channel) -> AppointmentOffered:
    c = appointment(ConfirmationChannel.EMAIL).customer
    first = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)  # 09:00 in Berlin, a Thursday
    return AppointmentOffered(
        lead_id=uuid.uuid4(),
        offer_id=uuid.uuid4(),
        booking_id="B-1",
        branch_id="HH-01",
        times=tuple(
            OfferedTime(start=first + timedelta(days=d), end=first + timedelta(days=d, hours=1))
            for d in (0, 1)
        ),
        respond_by=datetime(2026, 12, 8, 17, 0, tzinfo=UTC),
        channel=channel,
        recipient=c.email if channel is Channel.EMAIL else "+4917612345678",
        customer=c,
        offered_by="anna",
        offered_at=NOW,
    )


def test_a_counter_offer_has_a_link_per_time_and_the_sms_one_to_all() -> None:
    event = _offer(Channel.EMAIL)
    (mail,) = plan(env(event), BRANCHES, links=LINKS)
    assert mail.subject == "Terminvorschläge von Autohaus Hansa Hamburg"
    assert "1. Donnerstag, 10.12.2026 um 09:00 Uhr: https://termine.example/termin/" in mail.text
    assert "2. Freitag, 11.12.2026 um 09:00 Uhr: https://termine.example/termin/" in mail.text
    assert "gelten bis 08.12.2026 um 18:00 Uhr" in mail.text
    assert [(t.about, t.purpose) for t in _tokens(mail.text)] == [
        (event.offer_id, LinkPurpose.TAKE_1),
        (event.offer_id, LinkPurpose.TAKE_2),
    ]
    (sms,) = plan(env(_offer(Channel.SMS)), BRANCHES, links=LINKS)
    (link,) = _tokens(sms.text)
    assert link.purpose is LinkPurpose.OFFER
    assert sms.subject is None
    assert "bis 08.12. 18:00 Uhr" in sms.text
    (unlinked,) = plan(env(event), BRANCHES)
    assert "Bitte rufen Sie uns an" in unlinked.text
    assert "/termin/" not in unlinked.text
