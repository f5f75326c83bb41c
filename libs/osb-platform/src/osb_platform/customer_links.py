"""The links in a customer's messages: signed, naming one appointment (or offer) and one
purpose.

The notifier writes them into confirmations, reminders and counter-offers; lead-intake, the
public-facing service, reads them. A link is an id and a purpose, signed with a secret the
two services share (itsdangerous, HMAC): it cannot be made up or turned into another
appointment's or another purpose's. It carries no personal data and no expiry of its own:
lead-intake knows the appointment's (or offer's) times and state, so a link stops working
when the appointment begins, moves or is cancelled, or the offer is taken or lapses, and
each answer is taken once.

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
    # an offer's times (``about``: the offer): take the first, second or third, or a page
    # with all of them (the SMS's one link)
    TAKE_1 = "take-1"
    TAKE_2 = "take-2"
    TAKE_3 = "take-3"
    OFFER = "offer"


TAKES = (LinkPurpose.TAKE_1, LinkPurpose.TAKE_2, LinkPurpose.TAKE_3)


_CODES = {
    LinkPurpose.CONFIRM: "b",
    LinkPurpose.CANCEL: "a",
    LinkPurpose.OTHER_TIME: "v",
    LinkPurpose.ANY: "t",
    LinkPurpose.TAKE_1: "1",
    LinkPurpose.TAKE_2: "2",
    LinkPurpose.TAKE_3: "3",
    LinkPurpose.OFFER: "o",
}
_PURPOSES = {code: purpose for purpose, code in _CODES.items()}


class LinkRefusedError(ValueError):
    """Not a link this installation signed (tampered, truncated, or another secret's)."""


@dataclass(frozen=True)
class CustomerLink:
    about: uuid.UUID  # the appointment, or the offer for TAKES and OFFER
    purpose: LinkPurpose


def _signer(secret: str) -> Signer:
    return Signer(secret, salt=_SALT)


def sign(secret: str, about: uuid.UUID, purpose: LinkPurpose) -> str:
    """The link's token (URL-safe) for ``purpose`` on the appointment or offer ``about``."""
    ident = base64.urlsafe_b64encode(about.bytes).rstrip(b"=").decode()
    return _signer(secret).sign(ident + _CODES[purpose]).decode()


def read(secret: str, token: str) -> CustomerLink:
    """What a token names; ``LinkRefusedError`` unless it is one this secret signed."""
    try:
        value = _signer(secret).unsign(token).decode()
        ident, code = value[:-1], value[-1:]
        about = uuid.UUID(bytes=base64.urlsafe_b64decode(ident + "=="))
        return CustomerLink(about, _PURPOSES[code])
    except (BadSignature, ValueError, KeyError, UnicodeDecodeError):
        raise LinkRefusedError("not a customer link of this installation") from None


def url(base_url: str, secret: str, about: uuid.UUID, purpose: LinkPurpose) -> str:
    """The whole link: lead-intake's public address and ``/termin/<token>``."""
    return f"{base_url.rstrip('/')}/termin/{sign(secret, about, purpose)}"
