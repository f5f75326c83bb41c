"""POST a booking, for portals that cannot produce to Kafka."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, cast

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from osb_contracts.portal import BookingSubmitted
from osb_platform.http import error_responses, field_errors
from pydantic import BaseModel

from lead_intake.adapters.idempotency import StoredResponse
from lead_intake.domain.validation import BookingInvalidError, lead_id_for
from lead_intake.entrypoints.wiring import Wiring
from lead_intake.service.intake import lead_request

router = APIRouter(prefix="/api/v1", tags=["bookings"])


async def _wiring(request: Request) -> Wiring:
    return cast(Wiring, request.app.state.wiring)


Wired = Annotated[Wiring, Depends(_wiring)]


class BookingAccepted(BaseModel):
    booking_reference: str
    lead_id: str
    status: str = "accepted"


@router.post(
    "/bookings",
    status_code=202,
    response_model=BookingAccepted,
    responses=error_responses(400, 409, 413, 422, 503),
    summary="Submit a portal booking",
)
async def submit_booking(
    booking: BookingSubmitted,
    request: Request,
    deps: Wired,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Validate the booking and queue it as a lead request; 202 with the booking reference.

    With an ``Idempotency-Key`` header a retry gets the first answer again, and the key with a
    different body is refused with 409. Without one, the same booking id still never makes a
    second lead.
    """
    request_hash = hashlib.sha256(await request.body()).hexdigest()
    if idempotency_key:
        stored = await deps.store.get(idempotency_key)
        if stored is not None:
            return _replay(stored, request_hash, replayed=True)
    try:
        outgoing = lead_request(
            booking,
            cause=f"http:{booking.booking_id}",
            correlation_id=idempotency_key or booking.booking_id,
            now=deps.clock(),
            branches=deps.branches,
        )
    except BookingInvalidError as exc:
        response = StoredResponse(
            request_hash,
            422,
            {
                "error": "invalid booking",
                "code": "BOOKING_INVALID",
                "params": {},
                "errors": [{"field": e.field, "reason": e.reason} for e in exc.errors],
            },
        )
    else:
        await deps.producer.send_many([outgoing])
        accepted = BookingAccepted(
            booking_reference=booking.booking_id, lead_id=str(lead_id_for(booking.booking_id))
        )
        response = StoredResponse(request_hash, 202, accepted.model_dump())
    if idempotency_key:
        stored = await deps.store.put(idempotency_key, response)
        # another request with the key may have stored its answer first
        return _replay(stored, request_hash, replayed=stored != response)
    return JSONResponse(status_code=response.status_code, content=response.body)


def _replay(stored: StoredResponse, request_hash: str, *, replayed: bool) -> JSONResponse:
    if stored.request_hash != request_hash:
        return field_errors(
            409,
            [("Idempotency-Key", "already used for a different request")],
            "idempotency key reused",
        )
    return JSONResponse(
        status_code=stored.status_code,
        content=json.loads(json.dumps(stored.body)),
        headers={"Idempotent-Replayed": "true"} if replayed else None,
    )
