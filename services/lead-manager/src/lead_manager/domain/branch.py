"""OSB settings of a branch (Betrieb) and what the advisor's screen derives from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from osb_contracts.matching import DuplicateCriterion
from osb_contracts.values import Channel

from lead_manager.domain.reminders import DEFAULT_REMINDER_OFFSETS, QuietHours
from lead_manager.domain.working_time import (
    COUNTRY_ZONES,
    Interval,
    WorkingCalendar,
    public_holidays,
)

NO_ACTIVE_ACCEPTOR = "NO_ACTIVE_ACCEPTOR"  # a configuration problem, phrased by the page

DEFAULT_TEMPLATES = {
    "rejection_email": (
        "Guten Tag {{ name }},\n\n"
        "leider können wir Ihren Terminwunsch für den {{ date }} um {{ time }} Uhr nicht "
        "bestätigen. Bitte buchen Sie einen anderen Termin oder rufen Sie uns an.\n\n"
        "Mit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
    "rejection_sms": (
        "{{ branch }}: Ihr Terminwunsch am {{ date }} um {{ time }} Uhr ist leider nicht "
        "möglich. Bitte buchen Sie einen anderen Termin."
    ),
    "confirmation_email": (
        "Guten Tag {{ name }},\n\nIhr Werkstatttermin am {{ date }} um {{ time }} Uhr für "
        "{{ vehicle }} ist bestätigt.\n\n{% if cancel_link %}Passt der Termin nicht mehr?\n"
        "Termin absagen: {{ cancel_link }}\nAnderen Termin wünschen: {{ other_time_link }}"
        "\n\n{% endif %}Mit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
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
    "confirmation_sms": (
        "{{ branch }}: Ihr Werkstatttermin am {{ date }} um {{ time }} Uhr ist bestätigt."
        "{% if answer_link %} Absagen oder verschieben: {{ answer_link }}{% endif %}"
        " Keine SMS mehr? Antworten Sie STOP."
    ),
}
REJECTION_SUBJECT = "Ihr Terminwunsch bei {branch}"

# Per weekday (Monday first) until a branch sets its own: Monday to Friday 08:00-18:00.
DEFAULT_OPENING_HOURS: tuple[tuple[Interval, ...], ...] = (((time(8), time(18)),),) * 5 + ((), ())
DEFAULT_RESPONSE_MINUTES = 120  # two working hours to answer a new lead
NO_SHOW_GRACE = 30  # minutes after an appointment's start without the customer: a no-show
OFFER_RESPONSE_HOURS = 48  # how long a customer has to take an offered time
LEAD_RETENTION_MONTHS = 24  # a closed lead is anonymised this long after its last change
# what an advisor chooses from when rejecting, for the branch's figures (Auswertung)
DEFAULT_REJECTION_REASONS = (
    "Kein freier Termin",
    "Leistung wird nicht angeboten",
    "Fahrzeug wird nicht betreut",
    "Doppelte Buchung",
    "Sonstiges",
)


@dataclass(frozen=True)
class Deadline:
    """``working``: the opening time left, or since the deadline passed when ``overdue``."""

    respond_by: datetime
    overdue: bool
    near: bool
    working: timedelta


@dataclass(frozen=True)
class Acceptor:
    id: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class BranchSettings:
    branch_id: str
    name: str
    acceptors: tuple[Acceptor, ...] = ()
    sms_enabled: bool = False
    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    cash_sale_customer_number: str | None = None
    duplicate_criteria: tuple[DuplicateCriterion, ...] = (DuplicateCriterion.ADDRESS,)
    sender_email: str | None = None
    opening_hours: tuple[tuple[Interval, ...], ...] = DEFAULT_OPENING_HOURS
    holiday_region: str = "DE"  # "DE-HH", "AT-9", "CH-ZH": whose public holidays close it
    response_minutes: int = DEFAULT_RESPONSE_MINUTES
    escalation_email: str | None = None
    rejection_reasons: tuple[str, ...] = DEFAULT_REJECTION_REASONS
    # an appointment's customer not checked in this long after its start: a no-show
    no_show_grace_minutes: int = NO_SHOW_GRACE
    # an appointment confirmed by e-mail or SMS is reminded this many minutes before, the
    # same way; a reminder in the quiet hours (21:00-08:00) moved to the evening or left out
    reminder_offsets: tuple[int, ...] = DEFAULT_REMINDER_OFFSETS
    reminder_quiet: QuietHours = QuietHours.EVENING_BEFORE
    # a counter-offer not taken this long after it was sent (or by its first time): rejected
    offer_response_hours: int = OFFER_RESPONSE_HOURS
    # a closed lead is anonymised this many months after its last change (issue 19)
    lead_retention_months: int = LEAD_RETENTION_MONTHS
    version: int = 1

    def template(self, name: str) -> str:
        """The branch's text template, or the default of one added since it saved its own."""
        return self.templates.get(name) or DEFAULT_TEMPLATES[name]

    def calendar(self) -> WorkingCalendar:
        country = self.holiday_region.partition("-")[0]
        return WorkingCalendar(
            dict(enumerate(self.opening_hours)),
            ZoneInfo(COUNTRY_ZONES[country]),
            public_holidays(self.holiday_region),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(COUNTRY_ZONES[self.holiday_region.partition("-")[0]])

    def respond_by(self, received_at: datetime) -> datetime:
        """When a lead received then must have been answered: ``response_minutes`` of
        opening time later."""
        return self.calendar().add(received_at, timedelta(minutes=self.response_minutes))

    def deadline(self, respond_by: datetime, now: datetime) -> Deadline:
        """How a new lead's deadline stands at ``now``, counted in opening time."""
        calendar = self.calendar()
        if now >= respond_by:
            past = calendar.between(respond_by, now)
            return Deadline(respond_by, overdue=True, near=False, working=past)
        left = calendar.between(now, respond_by)
        # close: a quarter of the response time left, at least a quarter of an hour
        close = max(timedelta(minutes=15), timedelta(minutes=self.response_minutes) / 4)
        return Deadline(respond_by, overdue=False, near=left <= close, working=left)

    def configuration_problem(self) -> str | None:
        """The problem the lead manager shows on opening (a code), or None when all is set."""
        if not any(a.active for a in self.acceptors):
            return NO_ACTIVE_ACCEPTOR
        return None

    def rejection_channels(self) -> tuple[Channel, ...]:
        """With SMS licensed, a submenu offers both; without, e-mail only."""
        return (Channel.SMS, Channel.EMAIL) if self.sms_enabled else (Channel.EMAIL,)

    def is_active_acceptor(self, acceptor_id: str) -> bool:
        return any(a.id == acceptor_id and a.active for a in self.acceptors)


def default_branch(branch_id: str) -> BranchSettings:
    """A branch nobody has configured yet: its id for a name, every default."""
    return BranchSettings(branch_id=branch_id, name=branch_id)


def open_counter_text(count: int) -> str:
    """The badge on the button that opens the lead manager: "9+" above nine."""
    return "9+" if count > 9 else str(count)
