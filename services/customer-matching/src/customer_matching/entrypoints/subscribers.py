"""Subscribers: the DMS masters into the replica, requests answered, and the advisor's
decisions as labels for what a search showed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from osb_contracts import ContractError, Envelope, Message, encode, one_line
from osb_contracts.dms import CustomerMasterChanged, VehicleMasterChanged
from osb_contracts.leads import AppointmentCreated
from osb_contracts.matching import MatchingFailed
from osb_contracts.topics import (
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    LEAD_EVENTS,
    MATCHING_REPLIES,
    MATCHING_REQUESTS,
)
from osb_platform import Outgoing, Producer
from osb_platform.kafka import header
from osb_platform.matching import REPLY_TO
from osb_platform.subscriber import Received, Record, Subscribers
from osb_platform.tracing import traceparent_here
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_matching import SERVICE, SOURCE
from customer_matching.adapters.decisions import ShownRecorder, record_decisions
from customer_matching.adapters.replica import apply_customer_changes, apply_vehicle_changes
from customer_matching.domain.index import CustomerIndex, Scoring
from customer_matching.service.answers import answer
from customer_matching.service.ports import Registration, Shown, VehicleMaster

NIL = uuid.UUID(int=0)
DECIDED = AppointmentCreated.cloudevents_type()  # of the lead events, the one it learns from


@dataclass(frozen=True)
class Consuming:
    engine: AsyncEngine
    index: CustomerIndex
    scoring: Scoring
    vehicles: VehicleMaster
    registrar: Registration
    shown: ShownRecorder
    replies: Producer  # answers to requests: sent at once


subscribers: Subscribers[Consuming] = Subscribers(SERVICE)


@subscribers.batch(DMS_CUSTOMERS, DMS_VEHICLES, group=".replica")
async def master_changes(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    """Committed after the replica's transaction."""
    async with c.engine.begin() as conn:
        await apply_customer_changes(
            conn, [e.message for e in envelopes if isinstance(e.message, CustomerMasterChanged)]
        )
        await apply_vehicle_changes(
            conn, [e.message for e in envelopes if isinstance(e.message, VehicleMasterChanged)]
        )


async def refuse(c: Consuming, refused: Sequence[tuple[Record, ContractError]]) -> None:
    """A request the codec refused is answered, so its asker need not wait."""
    answers: list[Outgoing] = []
    for record, exc in refused:
        failed = MatchingFailed(request_id=NIL, code="INVALID_REQUEST", reason=one_line(exc.reason))
        answers += _reply(record, failed, causation=None)
    await c.replies.send_many(answers)


@subscribers.records(
    MATCHING_REQUESTS,
    refused=refuse,
    prompt=True,
    auto_offset_reset="latest",  # a request nobody answered in time is not waited for
)
async def requests(c: Consuming, received: Sequence[Received]) -> None:
    answers: list[Outgoing] = []
    shown: list[tuple[uuid.UUID, list[Shown]]] = []
    for record, envelope in received:
        reply = await answer(
            envelope.message,
            index=c.index,
            scoring=c.scoring,
            vehicles=c.vehicles,
            registrar=c.registrar,
            shown=shown,
        )
        answers += _reply(record, reply, causation=envelope.id)
    await c.replies.send_many(answers)
    for lead_id, candidates in shown:  # recorded after the answers are out
        c.shown.add(lead_id, candidates)


@subscribers.batch(LEAD_EVENTS, group=".decisions", only={DECIDED})
async def decisions(c: Consuming, envelopes: Sequence[Envelope[Any]]) -> None:
    """The advisor's decisions label what they were shown; twice, the same."""
    await c.shown.flush()  # a decision labels what its lead's search showed
    async with c.engine.begin() as conn:
        await record_decisions(conn, [e.message for e in envelopes])


def _reply(record: Any, reply: Message, *, causation: str | None) -> list[Outgoing]:
    """The reply to a request, where its asker waits for it (none when nobody does)."""
    reply_to = header(record, REPLY_TO)
    correlation = header(record, "ce_correlationid")
    if reply_to != MATCHING_REPLIES.name or correlation is None:
        return []  # nobody waits for it where we may answer
    key = (record.key or b"").decode(errors="replace") or str(NIL)
    return [
        Outgoing(
            MATCHING_REPLIES.name,
            encode(
                reply,
                key=key,
                source=SOURCE,
                correlation_id=correlation,
                causation_id=causation,
                traceparent=traceparent_here(f"reply {reply.cloudevents_type()}"),
            ),
        )
    ]
