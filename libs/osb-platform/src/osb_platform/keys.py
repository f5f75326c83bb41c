"""The leads' keys: lead-manager hands them out, the services that need a lead event's
personal fields (the notifier, the DMS adapter) open the events with them.

lead-manager seals the personal fields of every lead event with the lead's key
(:mod:`osb_contracts.sealing`) and keeps the keys in its database; an erasure destroys
them. ``POST /internal/v1/privacy/keys`` answers the keys of the leads asked for, to the
holders of the installation's ``OSB_PRIVACY_TOKEN``; a lead without a key (erased) is left
out. A :class:`Keyring` asks for what a batch needs and keeps keys in memory for minutes,
never on disk.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any
from uuid import UUID

import httpx
from cachetools import TTLCache
from fastapi import APIRouter, FastAPI, Header
from osb_contracts import ContractError, Envelope, opened
from pydantic import BaseModel, Field, SecretStr

from osb_platform.http import error_responses
from osb_platform.privacy import MANY, check_service_token

log = logging.getLogger(__name__)

PATH = "/internal/v1/privacy/keys"


class KeysAsked(BaseModel):
    leads: list[UUID] = Field(max_length=MANY)


class KeysGiven(BaseModel):
    keys: dict[UUID, str]  # base64; a lead left out has no key (erased)


Keys = Callable[[list[UUID]], Awaitable[dict[UUID, bytes]]]


def install_keys(app: FastAPI, token: SecretStr | None, keys: Callable[[], Keys]) -> None:
    """lead-manager's ``POST /internal/v1/privacy/keys``."""
    router = APIRouter(tags=["privacy"])

    @router.post(
        PATH,
        response_model=KeysGiven,
        responses=error_responses(401, 404, 422),
        summary="The keys of the leads' sealed personal fields (for the notifier, the DMS)",
    )
    async def give_keys(
        asked: KeysAsked, authorization: Annotated[str | None, Header()] = None
    ) -> KeysGiven:
        check_service_token(token, authorization)
        found = await keys()(asked.leads)
        return KeysGiven(keys={lead: base64.b64encode(k).decode() for lead, k in found.items()})

    app.include_router(router)


class KeysUnavailableError(ConnectionError):
    """lead-manager could not be asked (a transient fault: the batch is tried again)."""


class Keyring:
    """Opens sealed lead events with keys asked of lead-manager (``url``), each kept
    ``ttl_s`` in memory; an erased lead's events stay sealed (their ``sealed`` set)."""

    def __init__(
        self,
        url: str | None,
        token: SecretStr | None,
        *,
        ttl_s: float = 300.0,
        size: int = 100_000,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url, self._token, self._timeout = url, token, timeout
        self._transport = transport
        self._cache: TTLCache[str, bytes | None] = TTLCache(maxsize=size, ttl=ttl_s)
        self._client: httpx.AsyncClient | None = None

    async def open(self, envelopes: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
        """The envelopes, the sealed ones opened where their lead has a key."""
        wanted = {e.key for e in envelopes if e.sealed is not None and e.key}
        missing = [k for k in wanted if k not in self._cache]
        if missing:
            await self._fetch(missing)
        return [self._opened(e) for e in envelopes]

    def _opened(self, envelope: Envelope[Any]) -> Envelope[Any]:
        key = self._cache.get(envelope.key) if envelope.sealed and envelope.key else None
        if key is None:
            return envelope
        try:
            return opened(envelope, key)
        except ContractError:
            log.error("a sealed lead event does not open", extra={"event_id": envelope.id})
            return envelope

    async def _fetch(self, leads: list[str]) -> None:
        if self._url is None or self._token is None:
            raise KeysUnavailableError(
                "sealed lead events need lead-manager's address and OSB_PRIVACY_TOKEN"
            )
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._url.rstrip("/"),
                timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
                transport=self._transport,
            )
        for start in range(0, len(leads), MANY):
            chunk = leads[start : start + MANY]
            try:
                response = await self._client.post(PATH, json={"leads": chunk})
            except httpx.TransportError as exc:
                raise KeysUnavailableError(f"lead-manager's keys: {type(exc).__name__}") from None
            if response.status_code >= 500:
                raise KeysUnavailableError(f"lead-manager's keys: HTTP {response.status_code}")
            response.raise_for_status()
            given = KeysGiven.model_validate_json(response.content).keys
            for lead in chunk:
                found = given.get(UUID(lead))
                self._cache[lead] = base64.b64decode(found) if found is not None else None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


__all__ = ["Keyring", "KeysUnavailableError", "install_keys"]
