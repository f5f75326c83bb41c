"""A real SMTP server (aiosmtpd) and a real HTTP SMS gateway on loopback, for tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from osb_local_infra.mailsink import MailSink, start
from osb_local_infra.smssink import SmsSink

from osb_testing.processes import free_port


class Smtp:
    """The real aiosmtpd server on loopback; can go away and come back on its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sink = MailSink()
        self.controller: Controller | None = start(self.sink, port=self.port)

    def down(self) -> None:
        assert self.controller is not None
        self.controller.stop()
        self.controller = None

    def up(self) -> None:
        self.controller = start(self.sink, port=self.port)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp()
    yield server
    if server.controller is not None:
        server.controller.stop()


@contextlib.asynccontextmanager
async def serving_sms_sink() -> AsyncIterator[tuple[SmsSink, str]]:
    """The SMS sink serving the gateway protocol on loopback, and its URL."""
    sink = SmsSink()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(sink.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield sink, f"http://127.0.0.1:{port}/sms"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def sms_gateway() -> AsyncIterator[tuple[SmsSink, str]]:
    """The SMS sink serving the gateway protocol, and its URL."""
    async with serving_sms_sink() as served:
        yield served
