"""The privacy officer's export of a person's data (issue 19)."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from fastapi import APIRouter, Query
from osb_contracts._base import ONE_LINE
from osb_platform.http import ApiError, error_responses
from osb_platform.privacy import Subject

from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import CurrentActor
from lead_manager.entrypoints.http.deps import Clock, Privacy
from lead_manager.service.privacy import NotAllowedError, PrivacyExport, export_person

router = APIRouter(
    prefix="/api/v1/privacy", responses=error_responses(401, 403, 422, 503), tags=["privacy"]
)


@router.get("/export", response_model=PrivacyExport)
async def export(
    actor: CurrentActor,
    privacy: Privacy,
    clock: Clock,
    email: Annotated[str | None, Query(max_length=254), ONE_LINE] = None,
    phone: Annotated[str | None, Query(max_length=40), ONE_LINE] = None,
    customer_number: Annotated[str | None, Query(max_length=20), ONE_LINE] = None,
    vin: Annotated[str | None, Query(max_length=17), ONE_LINE] = None,
) -> PrivacyExport:
    """Everything every service holds about the person an e-mail address, a phone number
    (national numbers read as German), a DMS customer number or a VIN identifies, in the
    branches the caller is privacy officer of (``PRIVACY_OFFICER``): each part with the
    service and table it came from, and the topics that carry copies as events."""
    if not any((email, phone, customer_number, vin)):
        raise ApiError(
            422, "name the person: email, phone, customer_number or vin", code="SUBJECT_MISSING"
        )
    subject = Subject(
        emails=[email] if email else [],
        phones=[_e164(phone)] if phone else [],
        customer_numbers=[customer_number] if customer_number else [],
        vins=[vin] if vin else [],
    )
    try:
        return await export_person(
            actor, subject, own=privacy.own, peers=privacy.peers, now=clock()
        )
    except NotAllowedError:
        raise ApiError(
            403,
            "the privacy officer's permission is needed",
            code="PERMISSION_MISSING",
            params={"permission": Permission.PRIVACY_OFFICER.value},
        ) from None


def _e164(phone: str) -> str:
    try:
        number = phonenumbers.parse(phone, "DE")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise ApiError(
            422, "phone is not a phone number", code="INVALID_REQUEST", params={"field": "phone"}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
