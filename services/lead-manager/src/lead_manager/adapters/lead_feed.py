"""Follows ``osb.lead.events.v1`` for the pages' live streams (service/live.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from osb_contracts import ContractError, Message, decode
from osb_contracts.leads import (
    AppointmentCreated,
    AppointmentOffered,
    LeadAnonymised,
    LeadArrived,
    LeadCancelled,
    LeadCancelledByCustomer,
    LeadConfirmedByCustomer,
    LeadCreated,
    LeadNoShow,
    LeadNotificationOutcome,
    LeadOverdue,
    LeadRejected,
    LeadRescheduleRequested,
    LeadUpdated,
)
from osb_contracts.topics import LEAD_EVENTS
from osb_contracts.values import LeadStatus
from osb_platform.kafka import groupless_reader, stop_reader

from lead_manager.service.live import ChangeLog, LeadChange

log = logging.getLogger(__name__)

_STATUS_OF: dict[type[Message], LeadStatus] = {
    LeadRejected: LeadStatus.REJECTED,
    AppointmentCreated: LeadStatus.SCHEDULED,
    LeadCancelled: LeadStatus.CANCELLED,
    LeadCancelledByCustomer: LeadStatus.CANCELLED_BY_CUSTOMER,
    LeadOverdue: LeadStatus.NEW,  # still new, now past its deadline
    LeadNoShow: LeadStatus.NO_SHOW,
    LeadRescheduleRequested: LeadStatus.NEW,  # the customer wants another time
    AppointmentOffered: LeadStatus.OFFERED,
}


def lead_change(record: ConsumerRecord[bytes, bytes]) -> LeadChange | None:
    """What a page needs of a lead event; None for a record that is not one."""
    try:
        message = decode(record.headers, record.value or b"").message
    except ContractError:
        return None  # not ours to judge: lead-manager wrote it; the page reloads anyway
    if isinstance(
        message,
        LeadCreated
        | LeadUpdated
        | LeadNotificationOutcome
        | LeadArrived
        | LeadConfirmedByCustomer
        | LeadAnonymised,
    ):
        status = message.status
    elif type(message) in _STATUS_OF:
        status = _STATUS_OF[type(message)]
    else:
        return None
    return LeadChange(
        lead_id=str(message.lead_id),
        branch_id=message.branch_id,
        kind=type(message).__name__,
        status=status.value,
        partition=record.partition,
        offset=record.offset,
    )


class LeadFeed:
    """A :class:`ChangeLog` kept current from the topic. It starts ``lookback`` records
    before the end of each partition, so a page that reconnects just after this instance
    started still gets what it missed."""

    def __init__(self, bootstrap_servers: str, *, lookback: int = 500, keep: int = 5000) -> None:
        self._bootstrap = bootstrap_servers
        self._lookback = lookback
        self._keep = keep
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.log: ChangeLog | None = None

    async def start(self) -> None:
        consumer = await groupless_reader(self._bootstrap, LEAD_EVENTS)
        partitions = sorted(consumer.assignment(), key=lambda tp: tp.partition)
        first = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        start = [max(first[tp], end[tp] - self._lookback) for tp in partitions]
        for tp, offset in zip(partitions, start, strict=True):
            consumer.seek(tp, offset)
        self._consumer = consumer
        self.log = ChangeLog(tuple(start), keep=self._keep)
        self._task = asyncio.create_task(self._follow(), name="lead-feed")

    async def stop(self) -> None:
        if self.log is not None:
            self.log.close()
        await stop_reader(self._task, self._consumer)

    async def _follow(self) -> None:
        assert self._consumer is not None
        assert self.log is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                self.log.add(_changes(records))


def _changes(records: Iterable[ConsumerRecord[bytes, bytes]]) -> list[LeadChange]:
    return [change for record in records if (change := lead_change(record)) is not None]
