"""What the advisor's HTTP API takes and gives beyond the service layer's read models:
request bodies (held to the rules of the contracts that carry them on) and the branch
settings as the administrator edits them."""

from __future__ import annotations

import itertools
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from fastapi import Query
from osb_contracts._base import (
    ONE_LINE,
    CustomerNumber,
    Identifier,
    LongText,
    ShortText,
    Text,
)
from osb_contracts.branches import EmailAddress
from osb_contracts.leads import AppointmentWarning, CustomerChoice, VehicleCase
from osb_contracts.matching import DuplicateCriterion
from osb_contracts.values import Channel, ConfirmationChannel, Customer
from osb_platform import templates as osb_templates
from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from lead_manager.domain.branch import (
    DEFAULT_OPENING_HOURS,
    DEFAULT_REJECTION_REASONS,
    DEFAULT_RESPONSE_MINUTES,
    LEAD_RETENTION_MONTHS,
    NO_SHOW_GRACE,
    OFFER_RESPONSE_HOURS,
    BranchSettings,
)
from lead_manager.domain.permissions import Permission
from lead_manager.domain.reminders import DEFAULT_REMINDER_OFFSETS, QuietHours
from lead_manager.domain.working_time import holiday_regions
from lead_manager.service.queries import LeadView, Model

# What the advisor sends is held to the rules of the contracts that carry it on: the same
# bounds, no control characters, one line where a mail header or a list shows it.
SearchText = Annotated[str, Query(max_length=100, description="live search"), ONE_LINE]


# Every placeholder a template may use (the rejection's here, the confirmation's in the
# notifier), with a value of its kind: a template that fails on them fails at saving.
_SAMPLE = {
    "name": "Frau Dr. Erika Mustermann",
    "salutation": "Frau",
    "first_name": "Erika",
    "last_name": "Mustermann",
    "date": "03.12.2026",
    "time": "09:30",
    "branch": "Autohaus Beispiel",
    "vehicle": "VW Golf HH-AB 123",
    "booking_reference": "B-12345",
    # the customer's links (confirmations and reminders; empty in a rejection)
    "confirm_link": "https://termine.example/termin/b",
    "cancel_link": "https://termine.example/termin/a",
    "other_time_link": "https://termine.example/termin/v",
    "answer_link": "https://termine.example/termin/t",
}


def _usable(template: str) -> str:
    try:
        osb_templates.render(template, _SAMPLE)
    except osb_templates.TemplateRefusedError as exc:
        raise PydanticCustomError("template", str(exc)) from None
    return template


Template = Annotated[LongText, AfterValidator(_usable)]


# a version the client last saw; the columns are PostgreSQL integers
ExpectedVersion = Annotated[int, Field(ge=1, le=2**31 - 1)]


class RejectBody(Model):
    channel: Channel
    text: LongText = Field(min_length=1)
    subject: Text | None = None
    expected_version: ExpectedVersion | None = None
    reason: ShortText | None = Field(
        default=None, description="one of the branch's rejection_reasons"
    )


class CustomerChoiceBody(Model):
    choice: CustomerChoice = CustomerChoice.EXISTING
    customer_number: CustomerNumber | None = None
    apply_to_master: bool = False
    customer: Customer | None = Field(
        default=None,
        description="NEW_CUSTOMER: the master record as completed in the customer mask "
        "(without it, the lead's data)",
    )

    @field_validator("customer")
    @classmethod
    def _only_for_a_new_one(cls, value: Customer | None, info: ValidationInfo) -> Customer | None:
        if value is not None and info.data.get("choice") is not CustomerChoice.NEW_CUSTOMER:
            raise PydanticCustomError("not_new_customer", "only a new customer is entered")
        return value


class ScheduleBody(Model):
    start: datetime
    end: datetime
    acceptor: Identifier
    confirmation: ConfirmationChannel = ConfirmationChannel.NONE
    customer: CustomerChoiceBody = Field(default_factory=CustomerChoiceBody)
    expected_version: ExpectedVersion | None = None
    request_id: UUID | None = Field(
        default=None, description="send the same id again and get the same appointment"
    )


class OfferedTimeBody(Model):
    start: datetime
    end: datetime


class OfferBody(Model):
    """Ablehnen mit Terminvorschlag: one to three times, sent by ``channel``; a time the
    customer takes becomes an appointment with ``acceptor`` for the customer chosen here
    (the cash-sale customer, or a master customer the identification showed)."""

    times: list[OfferedTimeBody] = Field(min_length=1, max_length=3)
    channel: Channel
    acceptor: Identifier
    customer: CustomerChoiceBody = Field(
        default_factory=lambda: CustomerChoiceBody(choice=CustomerChoice.CASH_SALE)
    )
    expected_version: ExpectedVersion | None = None


class AppointmentView(Model):
    lead: LeadView
    appointment_id: UUID
    customer_number: str | None
    vehicle_case: VehicleCase | None
    warnings: list[AppointmentWarning]


class ConfigurationCheck(Model):
    ok: bool
    code: str | None  # the problem, stable
    message: str | None  # the problem as the lead manager shows it (German)


class AcceptorBody(Model):
    id: Identifier
    name: Text = Field(min_length=1)
    active: bool = True


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = list(Weekday)  # Monday first, as datetime.weekday() counts


# a wall-clock time of the branch's day, "08:00" (a JSON Schema "time" would want an offset)
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class OpeningInterval(Model):
    opens: ClockTime
    closes: ClockTime

    @field_validator("closes")
    @classmethod
    def _after_opening(cls, closes: str, info: ValidationInfo) -> str:
        opens = info.data.get("opens")
        if opens is not None and closes <= opens:
            raise PydanticCustomError("closes_before_opening", "closes before it opens")
        return closes


OpeningHours = dict[Weekday, list[OpeningInterval]]


def opening_hours_body(hours: tuple[tuple[tuple[time, time], ...], ...]) -> OpeningHours:
    return {
        day: [OpeningInterval(opens=f"{o:%H:%M}", closes=f"{c:%H:%M}") for o, c in hours[n]]
        for n, day in enumerate(WEEKDAYS)
    }


def opening_hours_of(body: OpeningHours) -> tuple[tuple[tuple[time, time], ...], ...]:
    return tuple(
        tuple(
            (time.fromisoformat(i.opens), time.fromisoformat(i.closes)) for i in body.get(day, [])
        )
        for day in WEEKDAYS
    )


def _known_region(region: str) -> str:
    if region not in holiday_regions():
        raise PydanticCustomError("holiday_region", "not a region whose holidays are known")
    return region


HolidayRegion = Annotated[str, AfterValidator(_known_region)]


class BranchSettingsBody(Model):
    name: Text = Field(min_length=1)
    acceptors: list[AcceptorBody] = Field(default_factory=list, max_length=200)
    sms_enabled: bool = False
    templates: dict[ShortText, Template] = Field(default_factory=dict, max_length=20)
    cash_sale_customer_number: CustomerNumber | None = None
    # as the duplicate search's contract takes them: one to four, each once
    duplicate_criteria: list[DuplicateCriterion] = Field(
        default_factory=lambda: [DuplicateCriterion.ADDRESS], min_length=1, max_length=4
    )
    sender_email: EmailAddress | None = None
    # the response deadline of a new lead: this much opening time, holidays closed; a
    # weekday left out is closed
    opening_hours: OpeningHours = Field(
        default_factory=lambda: opening_hours_body(DEFAULT_OPENING_HOURS)
    )
    holiday_region: HolidayRegion = "DE"
    response_minutes: int = Field(default=DEFAULT_RESPONSE_MINUTES, ge=15, le=7 * 24 * 60)
    escalation_email: EmailAddress | None = None
    # what an advisor chooses from when rejecting (the Auswertung counts them)
    rejection_reasons: list[Annotated[ShortText, Field(min_length=1)]] = Field(
        default_factory=lambda: list(DEFAULT_REJECTION_REASONS), max_length=12
    )
    # minutes after an appointment's start without the customer's arrival: a no-show
    no_show_grace_minutes: int = Field(default=NO_SHOW_GRACE, ge=0, le=24 * 60)
    # an appointment confirmed by e-mail or SMS is reminded this many minutes before its
    # start (none: no reminders); never 21:00-08:00: moved to the evening before or skipped
    reminder_offsets: list[Annotated[int, Field(ge=15, le=14 * 24 * 60)]] = Field(
        default_factory=lambda: list(DEFAULT_REMINDER_OFFSETS), max_length=4
    )
    reminder_quiet: QuietHours = QuietHours.EVENING_BEFORE
    # hours a customer has to take a time of a counter-offer (at most until its first time)
    offer_response_hours: int = Field(default=OFFER_RESPONSE_HOURS, ge=1, le=14 * 24)
    # months after its last change a closed lead is anonymised (issue 19)
    lead_retention_months: int = Field(default=LEAD_RETENTION_MONTHS, ge=1, le=120)

    @field_validator("reminder_offsets")
    @classmethod
    def _offsets_once(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_offset", "each reminder time at most once")
        return sorted(value, reverse=True)

    @field_validator("rejection_reasons")
    @classmethod
    def _reasons_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_reason", "each reason at most once")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _some_hours_without_overlap(cls, value: OpeningHours) -> OpeningHours:
        for intervals in value.values():
            if len(intervals) > 4:
                raise PydanticCustomError("opening_hours_too_many", "at most four a day")
            ordered = sorted(intervals, key=lambda i: i.opens)
            if any(a.closes > b.opens for a, b in itertools.pairwise(ordered)):
                raise PydanticCustomError("opening_hours_overlap", "the intervals overlap")
            intervals[:] = ordered
        if not any(value.values()):
            raise PydanticCustomError("no_opening_hours", "open at least once a week")
        return value

    @field_validator("duplicate_criteria")
    @classmethod
    def _each_once(cls, value: list[DuplicateCriterion]) -> list[DuplicateCriterion]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_criterion", "each criterion at most once")
        return value

    @field_validator("acceptors")
    @classmethod
    def _acceptor_ids_once(cls, value: list[AcceptorBody]) -> list[AcceptorBody]:
        if len({a.id for a in value}) != len(value):
            raise PydanticCustomError("duplicate_acceptor", "each acceptor id at most once")
        return value


class BranchSettingsView(BranchSettingsBody):
    branch_id: str
    version: int
    rejection_channels: list[Channel]


class BranchSettingsUpdate(BranchSettingsBody):
    expected_version: ExpectedVersion | None = None


class BranchAccess(Model):
    id: str
    name: str
    permissions: list[Permission]


class Me(Model):
    id: str
    name: str
    branches: list[BranchAccess]


def settings_view(branch: BranchSettings) -> BranchSettingsView:
    return BranchSettingsView(
        branch_id=branch.branch_id,
        version=branch.version,
        name=branch.name,
        acceptors=[AcceptorBody(id=a.id, name=a.name, active=a.active) for a in branch.acceptors],
        sms_enabled=branch.sms_enabled,
        templates=branch.templates,
        cash_sale_customer_number=branch.cash_sale_customer_number,
        duplicate_criteria=list(branch.duplicate_criteria),
        sender_email=branch.sender_email,
        opening_hours=opening_hours_body(branch.opening_hours),
        holiday_region=branch.holiday_region,
        response_minutes=branch.response_minutes,
        escalation_email=branch.escalation_email,
        rejection_reasons=list(branch.rejection_reasons),
        no_show_grace_minutes=branch.no_show_grace_minutes,
        reminder_offsets=list(branch.reminder_offsets),
        reminder_quiet=branch.reminder_quiet,
        offer_response_hours=branch.offer_response_hours,
        lead_retention_months=branch.lead_retention_months,
        rejection_channels=list(branch.rejection_channels()),
    )
