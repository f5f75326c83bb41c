"""The leads' keys handed out by lead-manager and the Keyring opening sealed lead events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from osb_contracts import Envelope, decode, encode
from osb_contracts.leads import LeadRejected
from osb_contracts.sealing import new_key
from osb_contracts.values import Channel, Customer
from osb_platform.http import install_error_handlers
from osb_platform.keys import Keyring, KeysUnavailableError, install_keys
from pydantic import SecretStr

TOKEN = SecretStr("keys-test-token-of-24-characters")
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
KEPT, ERASED = uuid.UUID(int=1), uuid.UUID(int=2)


def sealed(lead: uuid.UUID, key: bytes) -> Envelope[Any]:
    message = LeadRejected(
        lead_id=lead,
        booking_id="B-1",
        branch_id="HH-01",
        rejected_by="anna",
        rejected_at=NOW,
        channel=Channel.EMAIL,
        recipient="vogelsang@example.de",
        text="Leider ausgebucht.",
        customer=Customer(last_name="Vogelsang"),
    )
    record = encode(message, key=str(lead), source="/t", seal_key=key)
    return decode(record.header_list, record.value, record.key)


def lead_manager(keys: dict[uuid.UUID, bytes], asked: list[list[uuid.UUID]]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    async def give(leads: list[uuid.UUID]) -> dict[uuid.UUID, bytes]:
        asked.append(leads)
        return {lead: keys[lead] for lead in leads if lead in keys}

    install_keys(app, TOKEN, lambda: give)
    return app


async def test_a_batch_is_opened_with_one_request_and_an_erased_lead_s_events_stay_sealed() -> None:
    key = new_key()
    asked: list[list[uuid.UUID]] = []
    transport = httpx.ASGITransport(app=lead_manager({KEPT: key}, asked))
    keyring = Keyring("http://lead-manager", TOKEN, transport=transport)
    try:
        batch = [sealed(KEPT, key), sealed(ERASED, new_key()), sealed(KEPT, key)]
        opened = await keyring.open(batch)
        assert [e.sealed is None for e in opened] == [True, False, True]
        assert opened[0].message.recipient == "vogelsang@example.de"
        assert opened[1].message.recipient == "(gelöscht)"
        assert [sorted(a) for a in asked] == [[KEPT, ERASED]]
        await keyring.open(batch)  # kept in memory, the erased one too: not asked again
        assert len(asked) == 1
    finally:
        await keyring.close()


async def test_a_wrong_token_is_refused_and_no_token_is_a_fault_tried_again() -> None:
    app = lead_manager({}, [])
    wrong = Keyring(
        "http://lead-manager",
        SecretStr("another-token-of-24-characters"),
        transport=httpx.ASGITransport(app=app),
    )
    try:
        with pytest.raises(httpx.HTTPStatusError, match="401"):
            await wrong.open([sealed(KEPT, new_key())])
    finally:
        await wrong.close()
    # a notifier without the address or the token cannot open: it says so and the batch
    # is tried again (a ConnectionError: transient to the subscriber's guard)
    with pytest.raises(KeysUnavailableError, match="OSB_PRIVACY_TOKEN"):
        await Keyring(None, None).open([sealed(KEPT, new_key())])
    assert issubclass(KeysUnavailableError, ConnectionError)
    # nothing sealed: nothing to ask
    assert await Keyring(None, None).open([]) == []
