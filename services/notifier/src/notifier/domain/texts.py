"""Confirmation texts from the branch's templates, rendered in a sandbox.

Rejections carry their final text (the advisor may have edited it); confirmations are
rendered here from the branch's template with the event's data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from zoneinfo import ZoneInfo

from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    LeadOverdue,
    LeadReminderDue,
)
from osb_platform import customer_links, templates
from osb_platform.customer_links import TAKES, LinkPurpose

DEFAULT_TEMPLATES = {
    "confirmation_email_subject": "Ihr Werkstatttermin am {{ date }} bei {{ branch }}",
    "confirmation_email": (
        "Guten Tag {{ name }},\n\nIhr Werkstatttermin am {{ date }} um {{ time }} Uhr für "
        "{{ vehicle }} ist bestätigt.\n\n{% if cancel_link %}Passt der Termin nicht mehr?\n"
        "Termin absagen: {{ cancel_link }}\nAnderen Termin wünschen: {{ other_time_link }}"
        "\n\n{% endif %}Mit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
    "confirmation_sms": (
        "{{ branch }}: Ihr Werkstatttermin am {{ date }} um {{ time }} Uhr ist bestätigt."
        "{% if answer_link %} Absagen oder verschieben: {{ answer_link }}{% endif %}"
        " Keine SMS mehr? Antworten Sie STOP."
    ),
    "rejection_email_subject": "Ihr Terminwunsch bei {{ branch }}",
    "reminder_email_subject": "Erinnerung: Ihr Werkstatttermin am {{ date }} bei {{ branch }}",
    "reminder_email": (
        "Guten Tag {{ name }},\n\nwir erinnern Sie an Ihren Werkstatttermin am {{ date }} um "
        "{{ time }} Uhr für {{ vehicle }}.\n\n{% if confirm_link %}Kommen Sie wie geplant? "
        "Termin bestätigen: {{ confirm_link }}\nTermin absagen: {{ cancel_link }}\n"
        "Anderen Termin wünschen: {{ other_time_link }}\n\n{% endif %}"
        "Mit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
    "reminder_sms": (
        "{{ branch }}: Erinnerung an Ihren Werkstatttermin am {{ date }} um {{ time }} Uhr."
        "{% if answer_link %} Bestätigen, absagen, verschieben: {{ answer_link }}{% endif %}"
        " Keine SMS mehr? Antworten Sie STOP."
    ),
}


def escalation(event: LeadOverdue, *, branch_name: str, zone: str) -> tuple[str, str]:
    """The e-mail to the branch's escalation address when a new lead passed its deadline:
    a fixed text (no customer data: the lead is one click away in the lead manager)."""
    local = ZoneInfo(zone)
    received, due = event.received_at.astimezone(local), event.respond_by.astimezone(local)
    subject = f"Frist überschritten: Terminlead {event.booking_id}"
    text = (
        "Guten Tag,\n\n"
        f"der Terminlead {event.booking_id} ({branch_name}), eingegangen am "
        f"{received:%d.%m.%Y um %H:%M} Uhr, war bis {due:%d.%m.%Y %H:%M} Uhr zu beantworten "
        "und ist noch offen.\n\n"
        "Bitte bearbeiten Sie ihn im Servicetermin Leadmanager.\n\n"
        "Ihre Online-Terminbuchung"
    )
    return subject, text


_WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")


def counter_offer(
    event: AppointmentOffered, *, branch_name: str, zone: str, links: CustomerLinks | None
) -> tuple[str, str, str]:
    """A counter-offer's e-mail (subject, text) and SMS: fixed German texts, a link per
    time (the SMS: one link to all of them); without links the customer is asked to call."""
    local = ZoneInfo(zone)
    c = event.customer
    name = " ".join(p for p in (c.salutation, c.title, c.first_name, c.last_name) if p)
    until = event.respond_by.astimezone(local)
    lines = []
    for i, time in enumerate(event.times):
        start = time.start.astimezone(local)
        when = f"{_WEEKDAYS[start.weekday()]}, {start:%d.%m.%Y} um {start:%H:%M} Uhr"
        link = f": {links(event.offer_id, TAKES[i])}" if links else ""
        lines.append(f"{i + 1}. {when}{link}")
    take = (
        "Ein Klick auf den Link bestätigt Ihnen den Termin."
        if links
        else "Bitte rufen Sie uns an, um einen der Termine zu vereinbaren."
    )
    subject = f"Terminvorschläge von {branch_name}"
    text = (
        f"Guten Tag {name},\n\n"
        "leider können wir Ihren Wunschtermin nicht bestätigen. Wir schlagen Ihnen diese "
        "Termine vor:\n\n" + "\n".join(lines) + f"\n\n{take} Die Vorschläge gelten bis "
        f"{until:%d.%m.%Y} um {until:%H:%M} Uhr.\n\n"
        f"Mit freundlichen Grüßen\nIhr Serviceteam {branch_name}"
    )
    page = f" {links(event.offer_id, LinkPurpose.OFFER)}" if links else " Bitte rufen Sie uns an."
    sms = (
        f"{branch_name}: Ihr Wunschtermin ist leider nicht möglich. Unsere Vorschläge bis "
        f"{until:%d.%m. %H:%M} Uhr:{page} Keine SMS mehr? Antworten Sie STOP."
    )
    return subject, text, sms


class TemplateFailedError(ValueError):
    """The branch's template cannot be rendered with this event (a permanent failure)."""


@dataclass(frozen=True)
class CustomerLinks:
    """Where the customer answers (lead-intake's public address) and the secret the links
    are signed with (shared with lead-intake)."""

    base_url: str
    secret: str

    def __call__(self, appointment_id: uuid.UUID, purpose: LinkPurpose) -> str:
        return customer_links.url(self.base_url, self.secret, appointment_id, purpose)


# the link placeholders; empty where the notifier makes no links (templates test them)
LINK_PLACEHOLDERS = {
    "confirm_link": LinkPurpose.CONFIRM,
    "cancel_link": LinkPurpose.CANCEL,
    "other_time_link": LinkPurpose.OTHER_TIME,
    "answer_link": LinkPurpose.ANY,
}


def placeholders(
    event: AppointmentCreated | LeadReminderDue,
    *,
    branch_name: str,
    zone: str,
    links: CustomerLinks | None = None,
) -> dict[str, str]:
    """``links``: the customer's links to answer about the appointment (None: none)."""
    c, v = event.customer, event.vehicle
    start = event.start.astimezone(ZoneInfo(zone))
    return {
        "name": " ".join(p for p in (c.salutation, c.title, c.first_name, c.last_name) if p),
        "salutation": c.salutation or "",  # as the settings' check allows it
        "first_name": c.first_name or "",
        "last_name": c.last_name,
        "date": start.strftime("%d.%m.%Y"),
        "time": start.strftime("%H:%M"),
        "branch": branch_name,
        "vehicle": " ".join(p for p in (v.make, v.model, v.licence_plate) if p) or "Ihr Fahrzeug",
        "booking_reference": event.booking_id,
        **{
            name: links(event.appointment_id, purpose) if links else ""
            for name, purpose in LINK_PLACEHOLDERS.items()
        },
    }


def render(template: str, values: Mapping[str, str]) -> str:
    try:
        return templates.render(template, values)
    except templates.TemplateRefusedError as exc:
        raise TemplateFailedError(str(exc)) from None


_URL = re.compile(r"https?://[^\s<>\"']+")


def as_html(text: str, *, title: str) -> str:
    """The HTML part of a mail: the same text, escaped, paragraphs kept, addresses linked."""
    paragraphs = "".join(
        f"<p>{_linked(escape(p)).replace(chr(10), '<br>')}</p>"
        for p in text.split("\n\n")
        if p.strip()
    )
    return (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="font-family: sans-serif">{paragraphs}</body></html>'
    )


def _linked(escaped: str) -> str:
    return _URL.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', escaped)
