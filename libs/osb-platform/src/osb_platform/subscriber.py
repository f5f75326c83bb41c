"""One shape for every subscriber of the services.

A subscriber takes a batch of records per call and is acknowledged after its handler
returned (``AckPolicy.ACK``; ``RetryWithBackoff`` on the broker turns a raise into a
redelivery). Three layers, each on the one below:

- :func:`raw_batch_subscriber`: the records as consumed (lead-intake's portal topic, which
  carries bookings, not contract events).
- :func:`record_subscriber`: records decoded as the topics' contracts; the others
  dead-lettered in one send (and shown to ``refused``, for a request that expects an
  answer); records of types the group does not act on (``only``) skipped; the valid ones
  handled through a :class:`PoisonGuard` as (record, envelope) pairs.
- :func:`batch_subscriber`: the same, the handler taking the envelopes only.

A service declares its subscriptions at module level on a :class:`Subscribers` (its
``entrypoints/subscribers.py``), each handler a module function taking the service's
collaborators first. The broker is built from them when the service starts
(:meth:`Subscribers.broker`), the AsyncAPI document from the same declarations without
any broker (:meth:`Subscribers.consumed`). Not FastStream's routers: a consumer group comes
from the settings and the collaborators exist only once the service runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Generic, Literal, TypeAlias, TypeVar

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from osb_contracts import ContractError, Envelope, Topic, decode

from osb_platform.kafka import (
    RetryWithBackoff,
    header,
    make_broker,
    raw_batch,
    tolerant_batch_parser,
)
from osb_platform.poison import PoisonGuard
from osb_platform.producer import DeadLetter, Producer
from osb_platform.tracing import MAX_LINKS, hop, step

Record: TypeAlias = ConsumerRecord[Any, Any]
Received: TypeAlias = tuple[Record, Envelope[Any]]
RawHandler: TypeAlias = Callable[[Sequence[Record]], Awaitable[None]]
RecordHandler: TypeAlias = Callable[[Sequence[Received]], Awaitable[None]]
EnvelopeHandler: TypeAlias = Callable[[Sequence[Envelope[Any]]], Awaitable[None]]
RefusedHandler: TypeAlias = Callable[[Sequence[tuple[Record, ContractError]]], Awaitable[None]]


def raw_batch_subscriber(
    broker: KafkaBroker,
    *topics: Topic,
    group_id: str,
    handle: RawHandler,
    max_records: int = 500,
    batch_timeout_ms: int = 20,
    auto_offset_reset: Literal["earliest", "latest"] = "earliest",
    prompt: bool = False,
) -> None:
    """``handle`` gets each batch's records as consumed; the batch is committed after it.

    ``prompt``, for requests an asker waits for a few seconds and no longer: each record is
    handled alone as it comes (a batch subscriber that found nothing pauses as long as it
    waited, so a request arriving then waited that much more), and committed in the
    background as it is taken, not after each answer (a commit per answer held the next
    request back by about 5 ms). A request is then answered at most once: redelivered after
    a restart or a failed answer, it would find nobody waiting.
    """
    options: dict[str, Any] = (
        {}
        if prompt
        else {"batch": True, "max_records": max_records, "batch_timeout_ms": batch_timeout_ms}
    )

    subscribe: Callable[[Callable[[Any], Awaitable[None]]], object] = broker.subscriber(
        *(t.name for t in topics),
        group_id=group_id,
        auto_offset_reset=auto_offset_reset,
        ack_policy=AckPolicy.ACK_FIRST if prompt else AckPolicy.ACK,
        decoder=raw_batch,  # the codec parses the bodies, once
        parser=tolerant_batch_parser,  # a header that is not UTF-8 fails one record only
        **options,
    )

    @subscribe
    async def on_batch(records: Any) -> None:
        await handle(records if isinstance(records, tuple) else (records,))


def record_subscriber(
    broker: KafkaBroker,
    *topics: Topic,
    group_id: str,
    producer: Producer,
    service: str,
    handle: RecordHandler,
    only: Collection[str] | None = None,
    refused: RefusedHandler | None = None,
    **options: Any,
) -> None:
    """``handle`` gets the batch's valid records with their envelopes; a record of a type
    not in ``only`` (CloudEvents ``type``; None: every type) is skipped, one the codec
    refuses is dead-lettered (all of a batch in one send) and then passed to ``refused``."""
    expect = tuple(m for t in topics for m in t.messages)
    guard = PoisonGuard(producer, service=service)

    async def process(items: Sequence[Received]) -> None:
        # a batch of one continues its record's trace (its log lines carry the trace id);
        # a larger one is a trace of its own, linked to its records' (as many as a span keeps)
        parents = [envelope.traceparent for _, envelope in items]
        one = parents[0] if len(parents) == 1 else None
        links = () if one else parents[:MAX_LINKS]
        with step(f"handle {topics[0].name}", one, links=links):
            await handle(items)

    async def on_records(records: Sequence[Record]) -> None:
        valid: list[tuple[Record, Received]] = []
        bad: list[tuple[Record, ContractError]] = []
        for record in records:
            if only is not None and header(record, "ce_type") not in only:
                continue
            try:
                envelope = decode(record.headers, record.value or b"", record.key, expect=expect)
            except ContractError as exc:
                bad.append((record, exc))
            else:
                valid.append((record, (record, envelope)))
        if len(valid) == 1:
            # a record of its own gets a span marking its arrival; in a larger batch what
            # each record causes continues its sender's span: no span per record on the
            # busy path (the batch's span links them)
            record, (_, envelope) = valid[0]
            traced = replace(
                envelope,
                traceparent=hop(
                    f"receive {envelope.type}",
                    envelope.traceparent,
                    {"messaging.destination.name": record.topic},
                ),
            )
            valid[0] = (record, (record, traced))
        await producer.dead_letter(
            [DeadLetter.of(r, exc.reason, exc.errors) for r, exc in bad], service=service
        )
        if bad and refused is not None:
            await refused(bad)
        await guard.handle(valid, process)

    raw_batch_subscriber(broker, *topics, group_id=group_id, handle=on_records, **options)


def batch_subscriber(
    broker: KafkaBroker,
    *topics: Topic,
    group_id: str,
    producer: Producer,
    service: str,
    handle: EnvelopeHandler,
    **options: Any,
) -> None:
    """As :func:`record_subscriber`, ``handle`` taking the valid envelopes only."""

    async def envelopes(items: Sequence[Received]) -> None:
        await handle([envelope for _, envelope in items])

    record_subscriber(
        broker,
        *topics,
        group_id=group_id,
        producer=producer,
        service=service,
        handle=envelopes,
        **options,
    )


D = TypeVar("D")  # a service's collaborators, as its handlers take them
Kind: TypeAlias = Literal["raw", "records", "batch"]


@dataclass(frozen=True)
class Subscription:
    topics: tuple[Topic, ...]
    group: str  # appended to the service's consumer group
    kind: Kind
    handle: Callable[..., Awaitable[None]]
    refused: Callable[..., Awaitable[None]] | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Subscribers(Generic[D]):
    """One service's subscriptions, declared where its handlers are defined:

    >>> subscribers: Subscribers[Wiring] = Subscribers("lead-manager")
    >>> @subscribers.batch(LEAD_REQUESTS, group=".requests")
    ... async def lead_requests(w: Wiring, envelopes: Sequence[Envelope[Any]]) -> None: ...
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.declared: list[Subscription] = []

    def _declare(
        self, kind: Kind, topics: tuple[Topic, ...], group: str, **options: Any
    ) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
        refused = options.pop("refused", None)

        def register(handle: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
            self.declared.append(Subscription(topics, group, kind, handle, refused, options))
            return handle

        return register

    def raw(
        self, *topics: Topic, group: str = "", **options: Any
    ) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
        """``handle(deps, records)``, as :func:`raw_batch_subscriber`."""
        return self._declare("raw", topics, group, **options)

    def records(
        self, *topics: Topic, group: str = "", **options: Any
    ) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
        """``handle(deps, [(record, envelope)])``, as :func:`record_subscriber`;
        ``refused=`` a function ``(deps, [(record, error)])``."""
        return self._declare("records", topics, group, **options)

    def batch(
        self, *topics: Topic, group: str = "", **options: Any
    ) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
        """``handle(deps, envelopes)``, as :func:`batch_subscriber`."""
        return self._declare("batch", topics, group, **options)

    def consumed(self, group_id: str) -> list[tuple[Topic, str]]:
        """Each topic with the consumer group that reads it, for the AsyncAPI document."""
        return [(t, group_id + s.group) for s in self.declared for t in s.topics]

    def broker(
        self,
        bootstrap_servers: str,
        *,
        group_id: str,
        deps: D,
        producer: Producer,
        max_records: int | None = None,
    ) -> KafkaBroker:
        """A broker with every declared subscriber, each handler given ``deps``;
        ``max_records`` for the batches that do not set their own."""
        broker = make_broker(
            bootstrap_servers, client_id=self.service, middlewares=[RetryWithBackoff()]
        )
        for s in self.declared:
            options = dict(s.options)
            if max_records is not None and not options.get("prompt"):
                options.setdefault("max_records", max_records)
            group = group_id + s.group
            handle = partial(s.handle, deps)
            if s.kind == "raw":
                raw_batch_subscriber(broker, *s.topics, group_id=group, handle=handle, **options)
                continue
            subscribe = record_subscriber if s.kind == "records" else batch_subscriber
            if s.refused is not None:
                options["refused"] = partial(s.refused, deps)
            subscribe(
                broker,
                *s.topics,
                group_id=group,
                producer=producer,
                service=self.service,
                handle=handle,
                **options,
            )
        return broker
