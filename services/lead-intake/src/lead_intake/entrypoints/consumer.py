"""The portal-topic subscriber: batches in, lead requests and dead letters out, then commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from faststream.kafka import KafkaBroker
from osb_contracts.topics import PORTAL_BOOKINGS
from osb_platform import Producer, RetryWithBackoff, make_broker
from osb_platform.subscriber import Record, raw_batch_subscriber

from lead_intake import SERVICE
from lead_intake.domain.validation import Branch
from lead_intake.service.intake import process_batch


def build_broker(
    *,
    bootstrap_servers: str,
    group_id: str,
    producer: Producer,
    branches: Mapping[str, Branch],
    clock: Callable[[], datetime],
    max_records: int = 500,
) -> KafkaBroker:
    broker = make_broker(bootstrap_servers, client_id=SERVICE, middlewares=[RetryWithBackoff()])

    async def on_portal_records(records: Sequence[Record]) -> None:
        # bookings, not contract events: validated here, answered by lead requests or
        # dead letters; committed after both sends are acknowledged
        result = process_batch(records, clock=clock, branches=branches)
        await producer.dead_letter(result.dead_letters, service=SERVICE)
        await producer.send_many(result.outgoing)

    raw_batch_subscriber(
        broker,
        PORTAL_BOOKINGS,
        group_id=group_id,
        handle=on_portal_records,
        max_records=max_records,
    )
    return broker
