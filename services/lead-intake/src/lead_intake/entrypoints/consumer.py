"""The portal-topic subscriber: batches in, lead requests and dead letters out, then commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from osb_contracts.topics import PORTAL_BOOKINGS
from osb_platform import (
    Producer,
    RetryWithBackoff,
    make_broker,
    raw_batch,
    tolerant_batch_parser,
)

from lead_intake.domain.validation import Branch
from lead_intake.service.intake import SERVICE, process_batch


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

    @broker.subscriber(
        PORTAL_BOOKINGS.name,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=20,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,  # commit after both sends below are acknowledged
        decoder=raw_batch,
        parser=tolerant_batch_parser,
    )
    async def on_portal_records(_: Any, msg: KafkaMessage) -> None:
        records = msg.raw_message
        assert isinstance(records, tuple)
        result = process_batch(records, clock=clock, branches=branches)
        await producer.dead_letter(result.dead_letters, service=SERVICE)
        await producer.send_many(result.outgoing)

    return broker
