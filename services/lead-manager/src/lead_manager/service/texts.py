"""Pre-filled texts from the branch's templates (Textbausteine), rendered in a sandbox."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from osb_platform import templates

from lead_manager.domain.branch import REJECTION_SUBJECT, BranchSettings
from lead_manager.domain.model import Lead, RuleViolationError

# Where the dealerships are: texts and the page show times in this zone.
DISPLAY_ZONE = ZoneInfo("Europe/Berlin")


def placeholders(lead: Lead, branch: BranchSettings) -> dict[str, str]:
    c, v = lead.customer, lead.vehicle
    start = lead.requested_start.astimezone(DISPLAY_ZONE)
    return {
        "name": " ".join(p for p in (c.salutation, c.title, c.first_name, c.last_name) if p),
        "salutation": c.salutation or "",
        "first_name": c.first_name or "",
        "last_name": c.last_name,
        "date": start.strftime("%d.%m.%Y"),
        "time": start.strftime("%H:%M"),
        "branch": branch.name,
        "vehicle": " ".join(p for p in (v.make, v.model, v.licence_plate) if p) or "Ihr Fahrzeug",
        "booking_reference": lead.booking_id,
        # a rejection has no appointment to answer about: no links (the templates test them)
        "confirm_link": "",
        "cancel_link": "",
        "other_time_link": "",
        "answer_link": "",
    }


def render(template: str, lead: Lead, branch: BranchSettings) -> str:
    try:
        return templates.render(template, placeholders(lead, branch))
    except templates.TemplateRefusedError as exc:
        raise RuleViolationError("template", str(exc), code="TEMPLATE_INVALID") from None


def rejection_subject(branch: BranchSettings) -> str:
    return REJECTION_SUBJECT.format(branch=branch.name)
