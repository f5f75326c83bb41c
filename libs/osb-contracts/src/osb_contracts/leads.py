"""Validated lead requests (lead-intake) and the lead's events (lead-manager)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, model_validator

from osb_contracts._base import (
    AwareDatetime,
    BranchId,
    Contract,
    CustomerNumber,
    Identifier,
    LongText,
    Message,
    Personal,
    ShortText,
    Text,
)
from osb_contracts.branches import EmailAddress
from osb_contracts.values import Channel, ConfirmationChannel, Customer, LeadStatus, Vehicle

# A lead event's personal fields, sealed with the lead's key on osb.lead.events.v1 (the
# codec, given the key), and what each reads once the key is destroyed (an erasure).
ERASED = "(gelöscht)"
PersonalCustomer = Annotated[Customer, Personal(Customer(last_name=ERASED))]
PersonalVehicle = Annotated[Vehicle, Personal(Vehicle())]
PersonalText = Annotated[Text, Personal(ERASED)]


class Unusable(StrEnum):
    """Why a value the customer typed cannot be used as it is."""

    EMAIL_INVALID = "EMAIL_INVALID"
    PHONE_INVALID = "PHONE_INVALID"
    DATE_INVALID = "DATE_INVALID"  # not a date in a form we read
    BIRTH_DATE_IMPLAUSIBLE = "BIRTH_DATE_IMPLAUSIBLE"  # before 1900 or in the future
    COUNTRY_UNKNOWN = "COUNTRY_UNKNOWN"
    CUSTOMER_NUMBER_INVALID = "CUSTOMER_NUMBER_INVALID"
    VIN_INVALID = "VIN_INVALID"
    LICENCE_PLATE_INVALID = "LICENCE_PLATE_INVALID"
    MILEAGE_INVALID = "MILEAGE_INVALID"


class UnusableValue(Contract):
    """An optional field the customer filled in that cannot be used: the booking becomes a
    lead all the same, the value is kept as typed for the advisor to read, and it is used
    neither for sending nor for matching (the field itself is left empty)."""

    field: ShortText  # where, e.g. "customer.mobile"
    value: Text  # as typed
    code: Unusable


class LeadRequested(Message):
    """A portal booking that passed validation; lead-manager makes it a NEW lead.

    ``lead_id`` is derived from the booking id, so a redelivered booking names the same lead.
    """

    message_type = "osb.lead.LeadRequested"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    received_at: AwareDatetime
    requested_start: AwareDatetime
    requested_end: AwareDatetime | None = None
    services: tuple[Text, ...] = Field(default=(), max_length=30)
    customer: Customer
    vehicle: Vehicle = Vehicle()
    comment: LongText | None = None
    warnings: tuple[Text, ...] = Field(default=(), max_length=20)
    unusable: tuple[UnusableValue, ...] = Field(default=(), max_length=20)


class LeadCancellationRequested(Message):
    """The customer cancelled, on the portal or by a link in a message about the
    appointment; the lead becomes CANCELLED_BY_CUSTOMER. ``appointment_id``: the
    appointment the link named (refused when the lead has another by now)."""

    message_type = "osb.lead.LeadCancellationRequested"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    cancelled_at: AwareDatetime
    reason: LongText | None = None
    appointment_id: UUID | None = None


class CustomerAnswer(StrEnum):
    CONFIRMED = "CONFIRMED"  # the customer will come
    OTHER_TIME = "OTHER_TIME"  # the customer asks for another time


class CustomerAnswered(Message):
    """The customer answered about the appointment by a link in a confirmation or a
    reminder (lead-intake's page); a cancellation is a ``LeadCancellationRequested``.
    ``requested_start``: the time the customer would like instead (OTHER_TIME)."""

    message_type = "osb.lead.CustomerAnswered"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    appointment_id: UUID
    answer: CustomerAnswer
    requested_start: AwareDatetime | None = None
    note: LongText | None = None  # what the customer wrote
    answered_at: AwareDatetime

    @model_validator(mode="after")
    def _other_time_names_it(self) -> CustomerAnswered:
        if (self.answer is CustomerAnswer.OTHER_TIME) != (self.requested_start is not None):
            raise ValueError("requested_start goes with OTHER_TIME, and only with it")
        return self


class LeadCreated(Message):
    message_type = "osb.lead.LeadCreated"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    status: LeadStatus = LeadStatus.NEW
    created_at: AwareDatetime
    requested_start: AwareDatetime
    requested_end: AwareDatetime | None = None
    services: tuple[Text, ...] = Field(default=(), max_length=30)
    customer: PersonalCustomer
    vehicle: PersonalVehicle = Vehicle()
    # what the customer typed that cannot be used (not in ``customer`` or ``vehicle``)
    unusable: Annotated[tuple[UnusableValue, ...], Personal(())] = Field(default=(), max_length=20)


class LeadUpdated(Message):
    """An advisor corrected the lead's data; ``changed_fields`` names what changed."""

    message_type = "osb.lead.LeadUpdated"

    lead_id: UUID
    branch_id: BranchId
    status: LeadStatus
    updated_by: Identifier
    updated_at: AwareDatetime
    changed_fields: tuple[ShortText, ...] = Field(max_length=40)
    customer: PersonalCustomer
    vehicle: PersonalVehicle = Vehicle()


class LeadRejected(Message):
    """An advisor rejected the lead; ``text`` is the final text the customer gets."""

    message_type = "osb.lead.LeadRejected"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    rejected_by: Identifier
    rejected_at: AwareDatetime
    channel: Channel
    recipient: PersonalText = Field(min_length=1)
    subject: Annotated[Text | None, Personal(None)] = None
    text: Annotated[LongText, Personal(ERASED)] = Field(min_length=1)
    customer: PersonalCustomer
    # the reason the advisor chose from the branch's list (for the branch's figures)
    reason: ShortText | None = None


class VehicleCase(StrEnum):
    OWNED_BY_CUSTOMER = "OWNED_BY_CUSTOMER"
    OWNED_BY_OTHER = "OWNED_BY_OTHER"
    TRANSIT = "TRANSIT"


class CustomerChoice(StrEnum):
    EXISTING = "EXISTING"
    MERGE_LEAD_DATA = "MERGE_LEAD_DATA"
    MERGE_MASTER_DATA = "MERGE_MASTER_DATA"
    NEW_CUSTOMER = "NEW_CUSTOMER"
    CASH_SALE = "CASH_SALE"


class AppointmentWarning(Contract):
    code: ShortText
    message: Text


class AppointmentCreated(Message):
    """A lead became a real appointment: everything the DMS and the notifier need."""

    message_type = "osb.lead.AppointmentCreated"

    lead_id: UUID
    appointment_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    start: AwareDatetime
    end: AwareDatetime
    acceptor: Identifier
    customer_number: CustomerNumber
    customer_choice: CustomerChoice
    customer: PersonalCustomer
    vehicle: PersonalVehicle
    vehicle_case: VehicleCase
    warnings: Annotated[tuple[AppointmentWarning, ...], Personal(())] = Field(
        default=(), max_length=10
    )
    services: tuple[Text, ...] = Field(default=(), max_length=30)
    confirmation: ConfirmationChannel = ConfirmationChannel.NONE
    recipient: Annotated[Text | None, Personal(None)] = None
    created_by: Identifier
    created_at: AwareDatetime


class LeadCancelled(Message):
    """The DMS deleted the lead's appointment."""

    message_type = "osb.lead.LeadCancelled"

    lead_id: UUID
    appointment_id: UUID
    branch_id: BranchId
    cancelled_at: AwareDatetime
    reason: Text | None = None


class LeadOverdue(Message):
    """A new lead was not answered by its deadline (the branch's response time in its
    opening hours): once per lead. ``escalation_email``: where the branch wants to hear of
    it (None: it set no address)."""

    message_type = "osb.lead.LeadOverdue"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    received_at: AwareDatetime
    respond_by: AwareDatetime
    overdue_at: AwareDatetime
    escalation_email: EmailAddress | None = None


class NotificationPurpose(StrEnum):
    CUSTOMER = "CUSTOMER"  # a confirmation or rejection to the customer
    REMINDER = "REMINDER"  # an appointment's reminder to the customer
    ESCALATION = "ESCALATION"  # a new lead past its deadline, to the branch's address


class LeadNotificationOutcome(Message):
    """The notifier's outcome of an e-mail or SMS about the lead, as lead-manager recorded
    it on the lead: the live pages show the delivery, the branch's figures count the
    failures. No recipient, no text."""

    message_type = "osb.lead.LeadNotificationOutcome"

    lead_id: UUID
    branch_id: BranchId
    status: LeadStatus  # the lead's, unchanged by the outcome
    notification_id: UUID
    channel: Channel
    purpose: NotificationPurpose
    delivered: bool
    error_code: ShortText | None = None
    at: AwareDatetime


class LeadReminderDue(Message):
    """An appointment's reminder is due (the branch's offset before its start, outside the
    quiet hours): the notifier sends it by the confirmation's channel, once. ``start`` and
    ``end`` as the customer was told; the notifier does not send it after ``start``."""

    message_type = "osb.lead.LeadReminderDue"

    lead_id: UUID
    reminder_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    appointment_id: UUID
    start: AwareDatetime
    end: AwareDatetime
    channel: Channel
    recipient: PersonalText
    customer: PersonalCustomer
    vehicle: PersonalVehicle
    services: tuple[Text, ...] = Field(default=(), max_length=30)
    due_at: AwareDatetime


class OfferedTime(Contract):
    start: AwareDatetime
    end: AwareDatetime


class AppointmentOffered(Message):
    """Instead of a plain rejection the advisor proposed one to three other times; the
    notifier sends them with a link per time. Not taken by ``respond_by``: the lead is
    rejected with the branch's text."""

    message_type = "osb.lead.AppointmentOffered"

    lead_id: UUID
    offer_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    times: tuple[OfferedTime, ...] = Field(min_length=1, max_length=3)
    respond_by: AwareDatetime
    channel: Channel
    recipient: PersonalText = Field(min_length=1)
    customer: PersonalCustomer
    vehicle: PersonalVehicle = Vehicle()
    services: tuple[Text, ...] = Field(default=(), max_length=30)
    offered_by: Identifier
    offered_at: AwareDatetime


class OfferTaken(Message):
    """The customer took one of the offered times by its link (lead-intake's page)."""

    message_type = "osb.lead.OfferTaken"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    offer_id: UUID
    time_index: int = Field(ge=0, le=2)
    taken_at: AwareDatetime


class LeadArrived(Message):
    """The DMS reported the customer's arrival for the lead's appointment (a lead marked a
    no-show before is SCHEDULED again: the customer came late)."""

    message_type = "osb.lead.LeadArrived"

    lead_id: UUID
    branch_id: BranchId
    appointment_id: UUID
    arrived_at: AwareDatetime
    status: LeadStatus


class LeadNoShow(Message):
    """No arrival reported by the appointment's start and the branch's grace."""

    message_type = "osb.lead.LeadNoShow"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    appointment_id: UUID
    appointment_start: AwareDatetime
    noted_at: AwareDatetime


class LeadConfirmedByCustomer(Message):
    """The customer confirmed the lead's appointment by a link (the lead stays SCHEDULED)."""

    message_type = "osb.lead.LeadConfirmedByCustomer"

    lead_id: UUID
    branch_id: BranchId
    status: LeadStatus
    appointment_id: UUID
    confirmed_at: AwareDatetime


class LeadRescheduleRequested(Message):
    """The customer asked for another time by a link: the lead is NEW again with the
    customer's wish as its requested time; carries the appointment so the DMS removes it."""

    message_type = "osb.lead.LeadRescheduleRequested"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    appointment_id: UUID
    requested_start: AwareDatetime
    note: Annotated[LongText | None, Personal(None)] = None
    requested_at: AwareDatetime


class LeadCancelledByCustomer(Message):
    """The customer cancelled; carries the appointment, if any, so the DMS removes it."""

    message_type = "osb.lead.LeadCancelledByCustomer"

    lead_id: UUID
    booking_id: Identifier
    branch_id: BranchId
    appointment_id: UUID | None = None
    cancelled_at: AwareDatetime
    previous_status: LeadStatus


class AnonymisedBy(StrEnum):
    ERASURE = "ERASURE"  # the person asked for it (GDPR Art. 17)
    RETENTION = "RETENTION"  # the branch's retention time had passed


class LeadAnonymised(Message):
    """The lead's personal data is gone: its rows anonymised, its key destroyed (the
    personal fields of its events on this topic no longer open). After an erasure
    ``customer_numbers`` names the DMS's customers who are the person: the DMS erases
    them. The event carries nothing of what the erasure removed."""

    message_type = "osb.lead.LeadAnonymised"

    lead_id: UUID
    branch_id: BranchId
    status: LeadStatus  # the lead's, unchanged
    by: AnonymisedBy
    customer_numbers: tuple[CustomerNumber, ...] = Field(default=(), max_length=100)
    anonymised_at: AwareDatetime


__all__ = [
    "AnonymisedBy",
    "AppointmentCreated",
    "AppointmentOffered",
    "AppointmentWarning",
    "CustomerAnswer",
    "CustomerAnswered",
    "CustomerChoice",
    "LeadAnonymised",
    "LeadArrived",
    "LeadCancellationRequested",
    "LeadCancelled",
    "LeadCancelledByCustomer",
    "LeadConfirmedByCustomer",
    "LeadCreated",
    "LeadNoShow",
    "LeadNotificationOutcome",
    "LeadOverdue",
    "LeadRejected",
    "LeadReminderDue",
    "LeadRequested",
    "LeadRescheduleRequested",
    "LeadUpdated",
    "NotificationPurpose",
    "OfferTaken",
    "OfferedTime",
    "VehicleCase",
]
