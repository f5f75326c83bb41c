"""What the advisor reads, for the API's routes and the page's alike: a lead's notifications
as its history tells them, and the identification proposal (asking customer-matching)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Self
from uuid import UUID

from osb_contracts.leads import AppointmentWarning, VehicleCase
from osb_contracts.matching import (
    DuplicateCandidate,
    DuplicateCriterion,
    DuplicateSearchResult,
    VehicleLookupResult,
    VehicleOwnership,
)
from osb_contracts.values import Channel, Customer, LeadStatus, Vehicle
from pydantic import BaseModel, ConfigDict

from lead_manager.domain.branch import BranchSettings
from lead_manager.domain.identification import preselected, seen_by, vehicle_case
from lead_manager.domain.model import Lead
from lead_manager.service.ports import Identification


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryItem(Model):
    at: datetime
    actor_id: str
    actor_name: str
    action: str
    from_status: LeadStatus | None
    to_status: LeadStatus
    reason: str | None
    details: dict[str, Any]


class NotificationView(Model):
    """One e-mail or SMS sent for the lead, as the notifier last reported it."""

    notification_id: UUID
    channel: Channel
    status: str  # SENT, FAILED or RESEND_REQUESTED
    at: datetime
    attempts: int | None
    reason: str | None


_NOTIFICATION_STATUS = {
    "notification sent": "SENT",
    "notification failed": "FAILED",
    "notification resend requested": "RESEND_REQUESTED",
}


def notifications_of(history: list[HistoryItem]) -> list[NotificationView]:
    """The delivery status per notification: its latest outcome in the lead's history."""
    latest: dict[str, NotificationView] = {}
    for item in history:
        status = _NOTIFICATION_STATUS.get(item.action)
        nid = item.details.get("notification_id")
        if status is None or nid is None:
            continue
        before = latest.get(nid)
        channel = item.details.get("channel") or (before.channel if before else None)
        if channel is None:
            continue
        attempts = item.details.get("attempts")
        latest[nid] = NotificationView(
            notification_id=UUID(nid),
            channel=Channel(channel),
            status=status,
            at=item.at,
            attempts=int(attempts) if attempts else (before.attempts if before else None),
            reason=item.reason,
        )
    return sorted(latest.values(), key=lambda n: n.at)


class VehicleCaseView(Model):
    """The lead's vehicle as it is for one customer, and the warnings saving with them gives."""

    case: VehicleCase
    warnings: list[AppointmentWarning]

    @classmethod
    def of(cls, lead: Lead, lookup: VehicleLookupResult | None, number: str | None) -> Self:
        case, _, warnings = vehicle_case(lead.vehicle, seen_by(lookup, number))
        return cls(case=case, warnings=list(warnings))


class VehicleProposal(Model):
    """``case`` and ``warnings`` for the selected customer (the known one, the preselected
    candidate, else a new customer); ``ownership`` and the owner as the vehicle master
    holds them."""

    case: VehicleCase
    ownership: VehicleOwnership | None
    owner_customer_number: str | None
    vehicle: Vehicle | None
    warnings: list[AppointmentWarning]
    new_customer: VehicleCaseView  # for "Neuer Kunde"


class ProposedCandidate(DuplicateCandidate):
    vehicle: VehicleCaseView  # the lead's vehicle if this candidate is chosen


class IdentificationProposal(Model):
    """What the advisor decides on: the known customer, or the ranked duplicates with the
    one preselected (only a "certain" one ranked first); the vehicle for each."""

    lead_customer: Customer
    customer_number: str | None
    master: Customer | None
    candidates: list[ProposedCandidate]
    selected: str | None
    criteria: list[DuplicateCriterion]
    vehicle: VehicleProposal


async def propose_identification(
    lead: Lead, branch: BranchSettings, matching: Identification
) -> IdentificationProposal:
    """The known customer, or the ranked duplicate candidates with the one preselected,
    and the vehicle case for each choice."""
    number = lead.customer.customer_number
    vin = lead.vehicle.vin

    async def owner() -> VehicleLookupResult | None:
        # the vehicle's owner as the vehicle master holds it: each case is judged against it
        return await matching.vehicle(vin, customer_number=None) if vin else None

    def search() -> Awaitable[DuplicateSearchResult]:
        return matching.duplicates(
            lead.customer,
            branch_id=lead.branch_id,
            criteria=branch.duplicate_criteria,
            vin=vin,
            lead_id=lead.id,
        )

    # each question a round trip to customer-matching; those needed together asked at once
    candidates: list[ProposedCandidate] = []
    found: DuplicateSearchResult | None = None
    if number:
        master, lookup = await asyncio.gather(matching.customer(number), owner())
        if master is None:  # a number the master does not know: search as for none
            found = await search()
    else:
        master = None
        found = await search()  # the search looks the VIN up as well
        lookup = found.vehicle if found.vehicle or not vin else await owner()
    if found is not None:
        candidates = [
            ProposedCandidate(
                **dict(c), vehicle=VehicleCaseView.of(lead, lookup, c.customer_number)
            )
            for c in found.candidates
        ]
    selected = number if master is not None else preselected(candidates)
    case, vehicle, warnings = vehicle_case(lead.vehicle, seen_by(lookup, selected))
    return IdentificationProposal(
        lead_customer=lead.customer,
        customer_number=number if master is not None else None,
        master=master,
        candidates=candidates,
        selected=selected if master is None else None,
        criteria=list(branch.duplicate_criteria),
        vehicle=VehicleProposal(
            case=case,
            ownership=lookup.ownership if lookup else None,
            owner_customer_number=lookup.owner_customer_number if lookup else None,
            vehicle=vehicle,
            warnings=list(warnings),
            new_customer=VehicleCaseView.of(lead, lookup, None),
        ),
    )
