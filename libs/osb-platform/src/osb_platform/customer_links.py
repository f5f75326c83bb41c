"""The links in a customer's messages: signed, naming one appointment and one purpose.

The notifier writes them into confirmations and reminders; lead-intake, the public-facing
service, reads them. A link is an appointment's id and a purpose, signed with a secret the
two services share (itsdangerous, HMAC): it cannot be made up or turned into another
appointment's or another purpose's. It carries no personal data and no expiry of its own:
lead-intake knows the appointment's start and state, so a link stops working when the
appointment begins, moves or is cancelled, and each answer is taken once.

Kept short for an SMS: 22 characters of id, one of purpose, 27 of signature.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from enum import StrEnum

from itsdangerous import BadSignature, Signer

_SALT = "osb.customer-link.v1"


class LinkPurpose(StrEnum):
    CONFIRM = "confirm"  # the customer confirms the appointment
    CANCEL = "cancel"  # the customer cancels it
    OTHER_TIME = "other-time"  # the customer asks for another time
    ANY = "any"  # a page offering all three (the SMS's one link)


_CODES = {
    LinkPurpose.CONFIRM: "b",
    LinkPurpose.CANCEL: "a",
    LinkPurpose.OTHER_TIME: "v",
    LinkPurpose.ANY: "t",
}
_PURPOSES = {code: purpose for purpose, code in _CODES.items()}


class LinkRefusedError(ValueError):
    """Not a link this installation signed (tampered, truncated, or another secret's)."""


@dataclass(frozen=True)
class CustomerLink:
    appointment_id: uuid.UUID
    purpose: LinkPurpose


def _signer(secret: str) -> Signer:
    return Signer(secret, salt=_SALT)


def sign(secret: str, appointment_id: uuid.UUID, purpose: LinkPurpose) -> str:
    """The link's token (URL-safe) for ``purpose`` on the appointment."""
    ident = base64.urlsafe_b64encode(appointment_id.bytes).rstrip(b"=").decode()
    return _signer(secret).sign(ident + _CODES[purpose]).decode()


def read(secret: str, token: str) -> CustomerLink:
    """What a token names; ``LinkRefusedError`` unless it is one this secret signed."""
    try:
        value = _signer(secret).unsign(token).decode()
        ident, code = value[:-1], value[-1:]
        appointment_id = uuid.UUID(bytes=base64.urlsafe_b64decode(ident + "=="))
        return CustomerLink(appointment_id, _PURPOSES[code])
    except (BadSignature, ValueError, KeyError, UnicodeDecodeError):
        raise LinkRefusedError("not a customer link of this installation") from None


def url(base_url: str, secret: str, appointment_id: uuid.UUID, purpose: LinkPurpose) -> str:
    """The whole link: lead-intake's public address and ``/termin/<token>``."""
    return f"{base_url.rstrip('/')}/termin/{sign(secret, appointment_id, purpose)}"
