"""Confirmation texts from the branch's templates, rendered in a sandbox.

Rejections carry their final text (the advisor may have edited it); confirmations are
rendered here from the branch's template with the event's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from zoneinfo import ZoneInfo

from osb_contracts.leads import AppointmentCreated, LeadOverdue, LeadReminderDue
from osb_platform import templates

DEFAULT_TEMPLATES = {
    "confirmation_email_subject": "Ihr Werkstatttermin am {{ date }} bei {{ branch }}",
    "confirmation_email": (
        "Guten Tag {{ name }},\n\n"
        "Ihr Werkstatttermin am {{ date }} um {{ time }} Uhr für {{ vehicle }} ist bestätigt.\n\n"
        "Mit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
    "confirmation_sms": (
        "{{ branch }}: Ihr Werkstatttermin am {{ date }} um {{ time }} Uhr ist bestätigt."
    ),
    "rejection_email_subject": "Ihr Terminwunsch bei {{ branch }}",
    "reminder_email_subject": "Erinnerung: Ihr Werkstatttermin am {{ date }} bei {{ branch }}",
    "reminder_email": (
        "Guten Tag {{ name }},\n\nwir erinnern Sie an Ihren Werkstatttermin am {{ date }} um "
        "{{ time }} Uhr für {{ vehicle }}.\n\nMit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
    "reminder_sms": (
        "{{ branch }}: Erinnerung an Ihren Werkstatttermin am {{ date }} um {{ time }} Uhr."
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


class TemplateFailedError(ValueError):
    """The branch's template cannot be rendered with this event (a permanent failure)."""


def placeholders(
    event: AppointmentCreated | LeadReminderDue, *, branch_name: str, zone: str
) -> dict[str, str]:
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
    }


def render(template: str, values: Mapping[str, str]) -> str:
    try:
        return templates.render(template, values)
    except templates.TemplateRefusedError as exc:
        raise TemplateFailedError(str(exc)) from None


def as_html(text: str, *, title: str) -> str:
    """The HTML part of a mail: the same text, escaped, paragraphs kept."""
    paragraphs = "".join(
        f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p.strip()
    )
    return (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="font-family: sans-serif">{paragraphs}</body></html>'
    )
