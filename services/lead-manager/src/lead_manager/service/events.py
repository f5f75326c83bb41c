"""Handlers for what arrives on the bus, a whole batch in one transaction.

Each record's event id goes through the inbox first; a record seen before is skipped. A
trigger the lead's status does not allow is logged and counted, and the lead is left as
it is (it is no poison message: retrying cannot change the answer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

from osb_contracts import Envelope
from osb_contracts.dms import AppointmentDeleted, CustomerArrived
from osb_contracts.leads import (
    CustomerAnswer,
    CustomerAnswered,
    LeadCancellationRequested,
    LeadRequested,
    OfferTaken,
)
from osb_contracts.notifications import NotificationFailed, NotificationSent
from prometheus_client import Counter

from lead_manager.domain.model import Lead, RuleViolationError, TransitionRefusedError
from lead_manager.domain.permissions import SYSTEM_DMS, SYSTEM_PORTAL
from lead_manager.service.commands import settings_of, take_offer
from lead_manager.service.ports import Identification, UnitOfWork

log = logging.getLogger(__name__)

LEAD_REQUESTS_CONSUMER = "lead-manager.lead-requests"
DMS_CONSUMER = "lead-manager.dms-appointments"

EVENTS_IGNORED = Counter(
    "osb_lead_manager_events_ignored_total",
    "Bus events that changed no lead, by reason",
    ["consumer", "reason"],
)
LEADS_CREATED = Counter("osb_lead_manager_leads_created_total", "NEW leads created")


async def handle_lead_requests(
    uow: UnitOfWork, envelopes: Sequence[Envelope[Any]], *, clock: Callable[[], datetime]
) -> None:
    """LeadRequested makes a NEW lead; LeadCancellationRequested makes it
    CANCELLED_BY_CUSTOMER; CustomerAnswered records the customer's answer about the
    appointment."""
    async with uow:
        fresh = await uow.first_seen(LEAD_REQUESTS_CONSUMER, [e.id for e in envelopes])
        pending: list[tuple[Lead, Envelope[Any]]] = []

        async def create_pending() -> None:
            await _set_deadlines(uow, [lead for lead, _ in pending])
            created = await uow.leads.add_new([lead for lead, _ in pending])
            LEADS_CREATED.inc(len(created))
            for lead, envelope in pending:
                # The same booking twice in one batch: the first one created the lead.
                if lead.id in created:
                    created.discard(lead.id)
                    _track(uow, lead, envelope)
                else:
                    EVENTS_IGNORED.labels(LEAD_REQUESTS_CONSUMER, "lead exists").inc()
            pending.clear()

        for envelope in envelopes:
            if envelope.id not in fresh:
                EVENTS_IGNORED.labels(LEAD_REQUESTS_CONSUMER, "seen before").inc()
                continue
            fresh.discard(envelope.id)  # a record published twice can sit in one batch
            message = envelope.message
            if isinstance(message, LeadRequested):
                lead = Lead.create(message, actor=SYSTEM_PORTAL, at=clock())
                lead.trace_parent = envelope.traceparent  # the booking's trace, kept
                pending.append((lead, envelope))
            elif isinstance(message, LeadCancellationRequested | CustomerAnswered):
                await create_pending()  # the lead may be in this very batch
                await _from_customer(uow, message, envelope, clock)
        await create_pending()
        await uow.commit()


async def _set_deadlines(uow: UnitOfWork, new: Sequence[Lead]) -> None:
    """Each new lead's response deadline from its branch's settings (as they are now)."""
    branches = await settings_of(uow, [lead.branch_id for lead in new])
    for lead in new:
        lead.respond_by = branches[lead.branch_id].respond_by(lead.received_at)


async def _from_customer(
    uow: UnitOfWork,
    message: LeadCancellationRequested | CustomerAnswered,
    envelope: Envelope[Any],
    clock: Callable[[], datetime],
) -> None:
    lead = await uow.leads.get(message.lead_id, for_update=True)
    if lead is None:
        log.warning("%s for unknown lead %s", envelope.type, message.lead_id)
        EVENTS_IGNORED.labels(LEAD_REQUESTS_CONSUMER, "unknown lead").inc()
        return
    try:
        if isinstance(message, LeadCancellationRequested):
            lead.cancel_by_customer(
                actor=SYSTEM_PORTAL,
                at=clock(),
                reason=message.reason,
                appointment_id=message.appointment_id,
            )
        elif message.answer is CustomerAnswer.CONFIRMED:
            lead.confirm_by_customer(
                actor=SYSTEM_PORTAL, appointment_id=message.appointment_id, at=clock()
            )
        else:
            assert message.requested_start is not None  # the contract holds it to OTHER_TIME
            lead.request_other_time(
                actor=SYSTEM_PORTAL,
                appointment_id=message.appointment_id,
                requested_start=message.requested_start,
                note=message.note,
                at=clock(),
            )
            # to be answered anew, from now
            settings = await settings_of(uow, [lead.branch_id])
            lead.respond_by = settings[lead.branch_id].respond_by(clock())
    except TransitionRefusedError as refused:
        log.warning("%s of lead %s refused: %s", envelope.type, lead.id, refused.reason)
        EVENTS_IGNORED.labels(LEAD_REQUESTS_CONSUMER, "transition refused").inc()
        return
    await uow.leads.save(lead)
    _track(uow, lead, envelope)


def _track(uow: UnitOfWork, lead: Lead, envelope: Envelope[Any]) -> None:
    """The lead's events as caused by ``envelope``, in its trace."""
    uow.track(
        lead,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.id,
        traceparent=envelope.traceparent,
    )


async def handle_dms_appointments(
    uow: UnitOfWork, envelopes: Sequence[Envelope[Any]], *, clock: Callable[[], datetime]
) -> None:
    """AppointmentDeleted makes the lead of that appointment CANCELLED; CustomerArrived
    records the customer's arrival (a no-show SCHEDULED again)."""
    async with uow:
        fresh = await uow.first_seen(DMS_CONSUMER, [e.id for e in envelopes])
        for envelope in envelopes:
            message = envelope.message
            if envelope.id not in fresh:
                continue
            fresh.discard(envelope.id)  # a record published twice can sit in one batch
            lead = await uow.leads.by_appointment(message.appointment_id)
            if lead is None:
                log.warning("%s for unknown appointment %s", envelope.type, message.appointment_id)
                EVENTS_IGNORED.labels(DMS_CONSUMER, "unknown appointment").inc()
                continue
            try:
                if isinstance(message, AppointmentDeleted):
                    lead.cancel_for_deleted_appointment(
                        actor=SYSTEM_DMS,
                        appointment_id=message.appointment_id,
                        at=clock(),
                        reason=message.reason,
                    )
                elif isinstance(message, CustomerArrived):
                    lead.arrive(
                        actor=SYSTEM_DMS,
                        appointment_id=message.appointment_id,
                        at=message.arrived_at,
                    )
            except TransitionRefusedError as refused:
                log.warning("%s for lead %s refused: %s", envelope.type, lead.id, refused.reason)
                EVENTS_IGNORED.labels(DMS_CONSUMER, "transition refused").inc()
                continue
            await uow.leads.save(lead)
            if isinstance(message, AppointmentDeleted):
                await uow.leads.mark_appointment_deleted(message.appointment_id, message.deleted_at)
            _track(uow, lead, envelope)
        await uow.commit()


NOTIFICATIONS_CONSUMER = "lead-manager.notifications"


async def handle_notification_outcomes(
    uow: UnitOfWork, envelopes: Sequence[Envelope[Any]], *, clock: Callable[[], datetime]
) -> None:
    """NotificationSent / NotificationFailed go into the lead's history."""
    async with uow:
        fresh = await uow.first_seen(NOTIFICATIONS_CONSUMER, [e.id for e in envelopes])
        for envelope in envelopes:
            message = envelope.message
            if envelope.id not in fresh or not isinstance(
                message, NotificationSent | NotificationFailed
            ):
                continue
            fresh.discard(envelope.id)  # a record published twice can sit in one batch
            lead = await uow.leads.get(message.lead_id)
            if lead is None:
                EVENTS_IGNORED.labels(NOTIFICATIONS_CONSUMER, "unknown lead").inc()
                continue
            lead.note_notification(message)
            _track(uow, lead, envelope)
        await uow.commit()


async def take_offer_once(
    make_uow: Callable[[], UnitOfWork],
    taken: OfferTaken,
    *,
    clock: Callable[[], datetime],
    matching: Identification,
) -> None:
    """The customer's taken time scheduled; one that cannot be (the offer lapsed, the
    lead decided otherwise, the plan no longer fits the branch) is logged and counted:
    retrying cannot change the answer."""
    try:
        lead = await take_offer(make_uow, taken, clock=clock, new_id=uuid4, matching=matching)
    except (TransitionRefusedError, RuleViolationError) as refused:
        log.warning("offer %s taken, not scheduled: %s", taken.offer_id, refused.reason)
        EVENTS_IGNORED.labels(LEAD_REQUESTS_CONSUMER, "offer not scheduled").inc()
        return
    if lead is None:
        log.warning("offer %s taken but not open", taken.offer_id)
        EVENTS_IGNORED.labels(LEAD_REQUESTS_CONSUMER, "offer not open").inc()
