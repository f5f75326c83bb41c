"""The privacy officer's export of a person's data (issue 19)."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from fastapi import APIRouter, Depends, Query
from osb_contracts._base import ONE_LINE
from osb_platform.http import ApiError, error_responses
from osb_platform.privacy import Subject

from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import CurrentActor
from lead_manager.entrypoints.http.deps import Clock, Privacy
from lead_manager.service.privacy import (
    NotAllowedError,
    OpenLeadsError,
    PrivacyErasure,
    PrivacyExport,
    erase_person,
    export_person,
)

# what names a person well enough to look for them (and erase them) everywhere
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"

router = APIRouter(
    prefix="/api/v1/privacy", responses=error_responses(401, 403, 422, 503), tags=["privacy"]
)


async def named_subject(
    email: Annotated[str | None, Query(max_length=254, pattern=EMAIL), ONE_LINE] = None,
    phone: Annotated[str | None, Query(max_length=40), ONE_LINE] = None,
    customer_number: Annotated[
        str | None, Query(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9-]+$")
    ] = None,
    vin: Annotated[str | None, Query(pattern=r"^(?i:[A-HJ-NPR-Z0-9]{17})$")] = None,
) -> Subject:
    """The person as the request names them: an e-mail address, a phone number (national
    numbers read as German), a DMS customer number or a VIN."""
    if not any((email, phone, customer_number, vin)):
        raise ApiError(
            422, "name the person: email, phone, customer_number or vin", code="SUBJECT_MISSING"
        )
    return Subject(
        emails=[email] if email else [],
        phones=[_e164(phone)] if phone else [],
        customer_numbers=[customer_number] if customer_number else [],
        vins=[vin] if vin else [],
    )


Named = Annotated[Subject, Depends(named_subject)]
FORBIDDEN = ApiError(
    403,
    "the privacy officer's permission is needed",
    code="PERMISSION_MISSING",
    params={"permission": Permission.PRIVACY_OFFICER.value},
)


@router.get("/export", response_model=PrivacyExport)
async def export(
    actor: CurrentActor, privacy: Privacy, clock: Clock, subject: Named
) -> PrivacyExport:
    """Everything every service holds about the person, in the branches the caller is
    privacy officer of (``PRIVACY_OFFICER``): each part with the service and table it came
    from, and the topics that carry copies as events."""
    try:
        return await export_person(
            actor, subject, own=privacy.own, peers=privacy.peers, now=clock()
        )
    except NotAllowedError:
        raise FORBIDDEN from None


@router.post("/erase", response_model=PrivacyErasure, responses=error_responses(409))
async def erase(
    actor: CurrentActor, privacy: Privacy, clock: Clock, subject: Named
) -> PrivacyErasure:
    """The person's data erased from every service's database (GDPR Art. 17): their leads
    in the caller's branches anonymised in place (statuses, times and the Auswertung's
    figures stay), messages' recipients and texts, the DMS replica's records, search labels
    and a STOP gone. Refused (409, ``OPEN_LEADS``) while one of their leads is still open.
    Dead letters holding them go from every dead-letter topic, the work topics are cut at
    what every consumer has read, the leads' keys are destroyed (their events' personal
    fields no longer open) and the DMS is told (``LeadAnonymised``). ``not_yet`` says what
    it does not reach. Asking again does no harm."""
    try:
        return await erase_person(
            actor,
            subject,
            widen=privacy.widen,
            own=privacy.erase,
            peers=privacy.peers,
            dead_letters=privacy.dead_letters,
            work_topics=privacy.work_topics,
            now=clock(),
            sealed=privacy.sealed,
            one_at_a_time=privacy.one_at_a_time,
        )
    except NotAllowedError:
        raise FORBIDDEN from None
    except OpenLeadsError as exc:
        raise ApiError(
            409,
            "the person has leads still open: decide or cancel them first",
            code="OPEN_LEADS",
            params={"leads": ", ".join(str(i) for i in exc.lead_ids)},
        ) from None


def _e164(phone: str) -> str:
    try:
        number = phonenumbers.parse(phone, "DE")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ApiError(
            422, "phone is not a phone number", code="INVALID_REQUEST", params={"field": "phone"}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
