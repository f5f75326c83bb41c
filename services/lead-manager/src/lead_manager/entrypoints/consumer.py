"""Subscribers: lead requests and DMS appointment changes, a batch per transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaBroker
from osb_contracts import Envelope, Topic
from osb_contracts.topics import DMS_APPOINTMENTS, LEAD_REQUESTS, NOTIFICATION_EVENTS
from osb_platform import Producer, RetryWithBackoff, make_broker
from osb_platform.subscriber import batch_subscriber
from sqlalchemy.ext.asyncio import AsyncEngine

from lead_manager import SERVICE
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.service.events import (
    handle_dms_appointments,
    handle_lead_requests,
    handle_notification_outcomes,
)
from lead_manager.service.ports import UnitOfWork

Handler = Callable[..., Awaitable[None]]


def build_broker(
    *,
    bootstrap_servers: str,
    group_id: str,
    engine: AsyncEngine,
    producer: Producer,
    clock: Callable[[], datetime],
    max_records: int = 500,
) -> KafkaBroker:
    broker = make_broker(bootstrap_servers, client_id=SERVICE, middlewares=[RetryWithBackoff()])

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine, clock)

    def subscribe(topic: Topic, handle: Handler) -> None:
        async def process(envelopes: Sequence[Envelope[Any]]) -> None:
            await handle(uow(), envelopes, clock=clock)  # one transaction per batch

        batch_subscriber(
            broker,
            topic,
            group_id=f"{group_id}.{topic.name}",
            producer=producer,
            service=SERVICE,
            handle=process,
            max_records=max_records,
        )

    subscribe(LEAD_REQUESTS, handle_lead_requests)
    subscribe(DMS_APPOINTMENTS, handle_dms_appointments)
    subscribe(NOTIFICATION_EVENTS, handle_notification_outcomes)
    return broker
