"""The client lead-manager uses to ask customer-matching, by request/reply over Kafka.

A request carries ``osb_reply_to`` (the replies topic) and a correlation id in
``ce_correlationid``. customer-matching answers on the replies topic with the same
correlation id. Each client reads every partition of the replies topic without a consumer
group, from the moment it started, and resolves the request waiting for that id; the
others' replies it ignores. No answer within the timeout raises MatchingUnavailableError.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TypeVar

from aiokafka import AIOKafkaConsumer
from osb_contracts import ContractError, Message, decode, encode
from osb_contracts.matching import (
    CustomerLookupRequested,
    CustomerLookupResult,
    CustomerRegistrationResult,
    DuplicateCriterion,
    DuplicateSearchRequested,
    DuplicateSearchResult,
    MatchingFailed,
    RegisterCustomerRequested,
    VehicleLookupRequested,
    VehicleLookupResult,
)
from osb_contracts.topics import MATCHING_REPLIES, MATCHING_REQUESTS
from osb_contracts.values import Customer

from osb_platform.kafka import groupless_reader, stop_reader
from osb_platform.producer import Outgoing, Producer
from osb_platform.tracing import traceparent_here

log = logging.getLogger(__name__)
REPLY_TO = "osb_reply_to"
R = TypeVar("R", bound=Message)


class MatchingError(Exception):
    """customer-matching could not answer."""


class MatchingUnavailableError(MatchingError):
    """No answer within the timeout: customer-matching is down or overloaded."""


class MatchingRefusedError(MatchingError):
    """customer-matching answered with an error (bad request, range exhausted, ...)."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


class MatchingClient:
    def __init__(
        self, bootstrap_servers: str, producer: Producer, *, source: str, timeout: float = 3.0
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._producer = producer
        self._source = source
        self.timeout = timeout
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = await groupless_reader(self._bootstrap, MATCHING_REPLIES)
        partitions = list(consumer.assignment())
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # fix the start now: replies to our first request come after it
            await consumer.position(tp)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read(), name="matching-replies")

    async def stop(self) -> None:
        await stop_reader(self._task, self._consumer)
        for future in self._pending.values():
            future.cancel()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    correlation = next(
                        (v.decode() for k, v in record.headers if k == "ce_correlationid"), None
                    )
                    future = self._pending.get(correlation or "")
                    if future is None or future.done():
                        continue
                    try:
                        future.set_result(decode(record.headers, record.value or b"").message)
                    except ContractError as exc:
                        future.set_exception(MatchingRefusedError("BAD_REPLY", exc.reason))

    async def ask(self, request: Message, reply_type: type[R], *, key: str) -> R:
        correlation = str(uuid.uuid4())
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = future
        record = encode(
            request,
            key=key,
            source=self._source,
            correlation_id=correlation,
            traceparent=traceparent_here(f"ask {request.cloudevents_type()}"),
        )
        record.headers[REPLY_TO] = MATCHING_REPLIES.name
        try:
            await self._producer.send_many([Outgoing(MATCHING_REQUESTS.name, record)])
            reply = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise MatchingUnavailableError(
                f"customer-matching did not answer within {self.timeout:g} s"
            ) from None
        finally:
            self._pending.pop(correlation, None)
        if isinstance(reply, MatchingFailed):
            raise MatchingRefusedError(reply.code, reply.reason)
        if not isinstance(reply, reply_type):
            raise MatchingRefusedError("BAD_REPLY", f"expected {reply_type.__name__}")
        return reply

    async def duplicates(
        self,
        customer: Customer,
        *,
        branch_id: str,
        criteria: tuple[DuplicateCriterion, ...],
        limit: int = 10,
        vin: str | None = None,
        lead_id: uuid.UUID | None = None,
    ) -> DuplicateSearchResult:
        request_id = uuid.uuid4()
        request = DuplicateSearchRequested(
            request_id=request_id,
            branch_id=branch_id,
            customer=customer,
            criteria=criteria,
            limit=limit,
            vin=vin,
            lead_id=lead_id,
        )
        return await self.ask(request, DuplicateSearchResult, key=str(request_id))

    async def customer(self, customer_number: str) -> Customer | None:
        request_id = uuid.uuid4()
        request = CustomerLookupRequested(request_id=request_id, customer_number=customer_number)
        result = await self.ask(request, CustomerLookupResult, key=str(request_id))
        return result.customer

    async def vehicle(self, vin: str, *, customer_number: str | None) -> VehicleLookupResult:
        request_id = uuid.uuid4()
        request = VehicleLookupRequested(
            request_id=request_id, vin=vin, customer_number=customer_number
        )
        return await self.ask(request, VehicleLookupResult, key=str(request_id))

    async def register(
        self,
        customer: Customer,
        *,
        branch_id: str,
        requested_by: str,
        lead_id: uuid.UUID | None,
        request_id: uuid.UUID | None = None,
    ) -> CustomerRegistrationResult:
        """``request_id`` makes a retry safe: the same id gets the same customer number."""
        request_id = request_id or uuid.uuid4()
        request = RegisterCustomerRequested(
            request_id=request_id,
            branch_id=branch_id,
            customer=customer,
            lead_id=lead_id,
            requested_by=requested_by,
        )
        return await self.ask(request, CustomerRegistrationResult, key=str(request_id))
