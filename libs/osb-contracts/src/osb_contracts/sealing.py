"""A message's personal fields sealed with a key of their own (crypto-shredding).

``osb.lead.events.v1`` is kept for ever and no record of a log can be taken out, so a lead
event's personal fields (marked :class:`~osb_contracts._base.Personal`) travel encrypted
with the lead's key (AES-256-GCM): the payload keeps every other field as it is and the
personal ones in ``sealed`` (base64 of nonce and ciphertext), the ``ce_osbsealed`` header
says so. Destroying the lead's key makes every copy unreadable at once. The associated
data binds a box to its message type and record key: it cannot be moved to another lead.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic_core import from_json, to_json

from osb_contracts._base import Message

HEADER = "ce_osbsealed"  # a CloudEvents extension attribute: the personal fields are sealed
ALGORITHM = "A256GCM"
FIELD = "sealed"
_NONCE = 12


class UnsealableError(ValueError):
    """A sealed box the key does not open (another lead's key, or the box was altered)."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _associated(cloudevents_type: str, key: str) -> bytes:
    return f"{cloudevents_type}\n{key}".encode()


def seal(message: Message, key: bytes, *, record_key: str) -> bytes:
    """The message's JSON with its personal fields sealed under ``key``."""
    payload = message.model_dump(mode="json")
    personal = {name: payload.pop(name) for name in message.personal}
    nonce = os.urandom(_NONCE)
    box = AESGCM(key).encrypt(
        nonce, to_json(personal), _associated(message.cloudevents_type(), record_key)
    )
    payload[FIELD] = base64.b64encode(nonce + box).decode()
    return to_json(payload)


def split(value: bytes) -> tuple[dict[str, Any], str]:
    """A sealed payload's open fields and its box (``ValueError`` when it is no such)."""
    payload = from_json(value)
    if not isinstance(payload, dict) or not isinstance(payload.get(FIELD), str):
        raise ValueError(f"a sealed payload carries its personal fields in {FIELD!r}")
    box = payload.pop(FIELD)
    return payload, box


def unseal(box: str, key: bytes, *, cloudevents_type: str, record_key: str) -> dict[str, Any]:
    """The personal fields in ``box``, as JSON values."""
    try:
        raw = base64.b64decode(box, validate=True)
        plain = AESGCM(key).decrypt(
            raw[:_NONCE], raw[_NONCE:], _associated(cloudevents_type, record_key)
        )
    except (InvalidTag, ValueError):
        raise UnsealableError(f"the sealed fields of a {cloudevents_type} do not open") from None
    fields = from_json(plain)
    if not isinstance(fields, dict):
        raise UnsealableError(f"the sealed fields of a {cloudevents_type} are not an object")
    return fields
