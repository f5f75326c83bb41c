"""E-mail: the MIME message and an SMTP sender (aiosmtplib) with a few reused connections."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from osb_contracts.notifications import FailureCode

from notifier.domain.notification import SendFailedError

Security = Literal["none", "starttls", "tls"]


def _address(value: str) -> Address:
    return Address(addr_spec=value)


class SmtpSender:
    """Sends over up to ``pool_size`` open connections; a broken one is dropped and reopened."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 15.0,
        pool_size: int = 4,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._options = {
            "hostname": host,
            "port": port,
            "timeout": timeout,
            "use_tls": security == "tls",
            "start_tls": security == "starttls",
            "tls_context": tls_context,
        }
        self._login = (username, password) if username else None
        self._idle: asyncio.LifoQueue[aiosmtplib.SMTP] = asyncio.LifoQueue()
        self._slots = asyncio.Semaphore(pool_size)

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(**self._options)  # type: ignore[arg-type]
        try:
            await client.connect()
            if self._login:
                await client.login(*self._login)  # type: ignore[arg-type]
        except BaseException:
            client.close()  # a failed handshake or login must not leak the socket
            raise
        return client

    async def send(self, message: EmailMessage) -> None:
        async with self._slots:
            client = None
            try:
                client = self._idle.get_nowait() if not self._idle.empty() else None
                if client is None or not client.is_connected:
                    client = await self._connect()
                await client.send_message(message)
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                permanent = all(c >= 500 for c in codes)
                reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
                raise SendFailedError(f"SMTP_{min(codes)}", reason, permanent=permanent) from None
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code >= 500:
                    raise SendFailedError(f"SMTP_{exc.code}", exc.message, permanent=True) from None
                raise SendFailedError(f"SMTP_{exc.code}", exc.message, permanent=False) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()
                client = None
                raise SendFailedError(
                    FailureCode.SMTP_UNAVAILABLE, repr(exc), permanent=False
                ) from None
            finally:
                if client is not None and client.is_connected:
                    self._idle.put_nowait(client)

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            with contextlib.suppress(Exception):
                await client.quit()
