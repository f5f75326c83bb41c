"""The topic registry: the one source of truth for names, keys, partitions and message types.

Infrastructure (deploy/local, the Strimzi manifests), publishers and subscribers all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osb_contracts._base import Message
from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.customers import CustomerMasterUpdateRequested, CustomerRegistered
from osb_contracts.dms import (
    AppointmentDeleted,
    CustomerArrived,
    CustomerMasterChanged,
    VehicleMasterChanged,
)
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    CustomerAnswered,
    LeadAnonymised,
    LeadArrived,
    LeadCancellationRequested,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadConfirmedByCustomer,
    LeadCreated,
    LeadNoShow,
    LeadNotificationOutcome,
    LeadOverdue,
    LeadRejected,
    LeadReminderDue,
    LeadRequested,
    LeadRescheduleRequested,
    LeadUpdated,
    OfferTaken,
)
from osb_contracts.matching import (
    CustomerLookupRequested,
    CustomerLookupResult,
    CustomerRegistrationResult,
    DuplicateSearchRequested,
    DuplicateSearchResult,
    MatchingFailed,
    RegisterCustomerRequested,
    VehicleLookupRequested,
    VehicleLookupResult,
)
from osb_contracts.notifications import (
    NotificationFailed,
    NotificationResendRequested,
    NotificationSent,
)
from osb_contracts.portal import BookingCancelled, BookingSubmitted

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    key: str
    partitions: int
    messages: tuple[type[Message], ...]
    description: str
    has_dlq: bool = True
    config: dict[str, str] = field(default_factory=dict)

    @property
    def dlq(self) -> str:
        if not self.has_dlq:
            raise ValueError(f"{self.name} has no dead-letter topic")
        return self.name + DLQ_SUFFIX

    def accepts(self, message_type: type[Message]) -> bool:
        return message_type in self.messages


PORTAL_BOOKINGS = Topic(
    name="osb.portal.bookings.v1",
    key="booking_id",
    partitions=6,
    messages=(BookingSubmitted, BookingCancelled),
    description="Bookings and cancellations from the web booking portal, as they arrive.",
)
LEAD_REQUESTS = Topic(
    name="osb.lead.requests.v1",
    key="lead_id",
    partitions=6,
    messages=(LeadRequested, LeadCancellationRequested, CustomerAnswered, OfferTaken),
    description=(
        "Validated, normalised lead requests, and customers' cancellations and answers "
        "about their appointments, from lead-intake."
    ),
)
LEAD_EVENTS = Topic(
    name="osb.lead.events.v1",
    key="lead_id",
    partitions=6,
    messages=(
        LeadCreated,
        LeadUpdated,
        LeadRejected,
        AppointmentCreated,
        LeadCancelled,
        LeadCancelledByCustomer,
        LeadOverdue,
        LeadNotificationOutcome,
        LeadArrived,
        LeadNoShow,
        LeadReminderDue,
        LeadConfirmedByCustomer,
        LeadRescheduleRequested,
        AppointmentOffered,
        LeadAnonymised,
    ),
    description=(
        "Every change of a lead, published by lead-manager through its outbox. Kept for "
        "ever: the branches' figures (Auswertung) are a read model rebuilt from its "
        "beginning. The personal fields are sealed with the lead's key (header "
        "ce_osbsealed), which an erasure destroys."
    ),
    config={"retention.ms": "-1"},
)
DMS_APPOINTMENTS = Topic(
    name="osb.dms.appointments.v1",
    key="appointment_id",
    partitions=3,
    messages=(AppointmentDeleted, CustomerArrived),
    description="Appointment changes from the DMS: deletions, customers' arrivals.",
)
DMS_CUSTOMERS = Topic(
    name="osb.dms.customers.v1",
    key="customer_number",
    partitions=3,
    messages=(CustomerMasterChanged,),
    description="Customer master (Kundenstamm) changes from the DMS.",
)
DMS_VEHICLES = Topic(
    name="osb.dms.vehicles.v1",
    key="vin",
    partitions=3,
    messages=(VehicleMasterChanged,),
    description="Vehicle master (Fahrzeugstamm) changes from the DMS.",
)
CUSTOMER_EVENTS = Topic(
    name="osb.customer.events.v1",
    key="customer_number",
    partitions=3,
    messages=(CustomerRegistered, CustomerMasterUpdateRequested),
    description="New customers and master-data update requests for the DMS.",
)
MATCHING_REQUESTS = Topic(
    name="osb.matching.requests.v1",
    key="request_id",
    partitions=3,
    messages=(
        DuplicateSearchRequested,
        CustomerLookupRequested,
        VehicleLookupRequested,
        RegisterCustomerRequested,
    ),
    description="Queries to customer-matching; each names its reply topic in reply_to.",
)
MATCHING_REPLIES = Topic(
    name="osb.matching.replies.v1",
    key="request_id",
    partitions=3,
    messages=(
        DuplicateSearchResult,
        CustomerLookupResult,
        VehicleLookupResult,
        CustomerRegistrationResult,
        MatchingFailed,
    ),
    description=(
        "Replies from customer-matching. Each client reads every partition without a group "
        "and keeps the replies whose correlation id it is waiting for."
    ),
    has_dlq=False,
    config={"retention.ms": str(60 * 60 * 1000)},
)
NOTIFICATION_EVENTS = Topic(
    name="osb.notification.events.v1",
    key="lead_id",
    partitions=3,
    messages=(NotificationSent, NotificationFailed),
    description="The outcome of every e-mail and SMS the notifier sent or gave up on.",
)

NOTIFICATION_COMMANDS = Topic(
    name="osb.notification.commands.v1",
    key="lead_id",
    partitions=3,
    messages=(NotificationResendRequested,),
    description="Requests to the notifier from lead-manager (resend a notification).",
)

BRANCH_SETTINGS = Topic(
    name="osb.branch.settings.v1",
    key="branch_id",
    partitions=1,
    messages=(BranchSettingsChanged,),
    description=(
        "Each branch's OSB settings, published by lead-manager through its outbox on every "
        "change and on start. Compacted: the newest per branch stays. Every notifier "
        "instance reads it whole, without a group."
    ),
    has_dlq=False,
    # Kafka compacts only closed segments and closes one at 1 GB by default: never, for a
    # topic this small, which then grows by every branch at every lead-manager start (on a
    # busy test machine more than a notifier reads within its start deadline).
    config={"cleanup.policy": "compact", "segment.ms": "3600000"},
)

TOPICS: tuple[Topic, ...] = (
    PORTAL_BOOKINGS,
    LEAD_REQUESTS,
    LEAD_EVENTS,
    DMS_APPOINTMENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    CUSTOMER_EVENTS,
    MATCHING_REQUESTS,
    MATCHING_REPLIES,
    NOTIFICATION_EVENTS,
    NOTIFICATION_COMMANDS,
    BRANCH_SETTINGS,
)
DLQ_PARTITIONS = 1
# how long a dead letter is kept (a copy of a record, personal data and all: issue 19)
DLQ_RETENTION_DAYS = 30
DAY_MS = 24 * 60 * 60 * 1000


def all_topic_specs(
    *, dlq_retention_days: int = DLQ_RETENTION_DAYS
) -> list[tuple[str, int, dict[str, str]]]:
    """Every topic to create, dead-letter topics included: (name, partitions, config)."""
    specs = [(t.name, t.partitions, dict(t.config)) for t in TOPICS]
    dlq = {"retention.ms": str(dlq_retention_days * DAY_MS)}
    specs += [(t.dlq, DLQ_PARTITIONS, dict(dlq)) for t in TOPICS if t.has_dlq]
    return specs


def all_message_types() -> tuple[type[Message], ...]:
    return tuple(m for t in TOPICS for m in t.messages)


def message_type_by_name(cloudevents_type: str) -> type[Message]:
    try:
        return _BY_TYPE[cloudevents_type]
    except KeyError:
        raise UnknownMessageTypeError(cloudevents_type) from None


def topic_for(message_type: type[Message]) -> Topic:
    """The one topic a message type is published on."""
    for topic in TOPICS:
        if topic.accepts(message_type):
            return topic
    raise LookupError(f"{message_type.__name__} is on no topic of the registry")


def key_of(message: Message) -> str:
    """The Kafka key of a message: the field its topic is keyed by."""
    return str(getattr(message, topic_for(type(message)).key))


class UnknownMessageTypeError(LookupError):
    """The CloudEvents type names no contract in the registry (or a version we do not know)."""


_BY_TYPE: dict[str, type[Message]] = {m.cloudevents_type(): m for m in all_message_types()}
