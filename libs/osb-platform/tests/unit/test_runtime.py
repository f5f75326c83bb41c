"""A service's runtime stops what it started in reverse: consumers, tasks, then the rest."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any, cast

from osb_platform.service import Runtime


class FakeBroker:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def start(self) -> None:
        self.log.append("broker started")

    async def stop(self) -> None:
        self.log.append("broker stopped")


async def test_consumers_stop_before_background_tasks_and_those_before_the_rest() -> None:
    log: list[str] = []

    async def relay(stop: asyncio.Event) -> None:
        await stop.wait()
        log.append("relay finished")

    async def producer_stop() -> None:
        log.append("producer stopped")

    async with AsyncExitStack() as stack:
        stack.push_async_callback(producer_stop)
        run = Runtime(cast(Any, None), cast(Any, None), stack)
        run.background(relay, "relay")
        await run.consume(cast(Any, FakeBroker(log)))
        await asyncio.sleep(0)
        assert log == ["broker started"]
    assert log == ["broker started", "broker stopped", "relay finished", "producer stopped"]
