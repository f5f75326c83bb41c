"""SMS through an HTTP gateway.

Provider interface: ``service.ports.SmsSender``; a provider raises
``SendFailedError`` (permanent for a refusal, transient for anything worth retrying).
``HttpSmsGateway`` speaks the simplest common form: ``POST <url>`` with JSON
``{"to": "+49...", "text": "...", "from": "..."}`` and a bearer token; 2xx is accepted,
4xx a permanent refusal, 5xx, timeouts and connection errors transient.
"""

from __future__ import annotations

import httpx
from osb_contracts.notifications import FailureCode

from notifier.domain.notification import SendFailedError


class HttpSmsGateway:
    def __init__(self, url: str, *, token: str | None = None, timeout: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._url = url
        self._client = httpx.AsyncClient(timeout=timeout, headers=headers)

    async def send(self, *, to: str, text: str, sender: str | None, reference: str) -> None:
        body = {"to": to, "text": text, "from": sender, "reference": reference}
        try:
            response = await self._client.post(self._url, json=body)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise SendFailedError(FailureCode.SMS_UNAVAILABLE, repr(exc), permanent=False) from None
        if response.status_code >= 500:
            raise SendFailedError(
                f"SMS_{response.status_code}", response.text[:500], permanent=False
            )
        if response.status_code >= 400:
            raise SendFailedError(
                f"SMS_{response.status_code}", response.text[:500], permanent=True
            )

    async def close(self) -> None:
        await self._client.aclose()
