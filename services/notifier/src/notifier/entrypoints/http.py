"""The SMS gateway's callback with the customers' answers (STOP, START)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Header, Request
from osb_contracts._base import ONE_LINE
from osb_platform.http import ApiError, error_responses
from pydantic import BaseModel, ConfigDict, Field

from notifier.service.sms_replies import ReplyOutcome, SenderInvalidError, take_reply

router = APIRouter(prefix="/api/v1", tags=["sms"])


class SmsReply(BaseModel):
    """An SMS a customer sent to the branch's number, as the gateway forwards it."""

    model_config = ConfigDict(populate_by_name=True)

    sender: Annotated[str, Field(alias="from", min_length=3, max_length=32), ONE_LINE]
    text: Annotated[str, Field(max_length=1600)]


class SmsReplyTaken(BaseModel):
    outcome: ReplyOutcome


@router.post(
    "/sms/replies",
    response_model=SmsReplyTaken,
    responses=error_responses(401, 404, 422),
    summary="A customer's answer to an SMS (the gateway's callback)",
)
async def sms_reply(
    reply: SmsReply, request: Request, authorization: Annotated[str | None, Header()] = None
) -> SmsReplyTaken:
    """STOP (STOPP, ENDE, ABMELDEN) ends the SMS to the sender's number, START allows them
    again; other texts change nothing. The gateway authenticates with the bearer token
    ``NOTIFIER_SMS_REPLY_TOKEN``; without one configured there is no such endpoint."""
    token: str | None = request.app.state.sms_reply_token
    if token is None:
        raise ApiError(404, "SMS replies are not configured", code="NOT_FOUND")
    given = (authorization or "").removeprefix("Bearer ")
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "bearer token missing or wrong", code="UNAUTHORIZED")
    try:
        outcome = await take_reply(request.app.state.store, sender=reply.sender, text=reply.text)
    except SenderInvalidError:
        raise ApiError(422, "the sender is not a phone number", code="INVALID_REQUEST") from None
    return SmsReplyTaken(outcome=outcome)
