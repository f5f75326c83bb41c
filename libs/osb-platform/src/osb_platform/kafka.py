"""FastStream on Kafka with the project's rules baked in.

- Topics come from the registry: the broker never auto-creates one (it would get 1 partition).
- Producers are idempotent (acks=all), so a retried send is not written twice.
- Subscribers commit after the handler returned (``AckPolicy.ACK``, never the at-most-once
  default); ``RetryWithBackoff`` turns a handler's exception into a delayed redelivery of the
  same record instead of the acknowledgement ``AckPolicy.ACK`` would give it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream import BaseMiddleware
from faststream.exceptions import HandlerException, NackMessage
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from osb_contracts import Envelope, Message, Topic, decode, encode

from osb_platform.aiokafka_patches import raise_offset_fetch_errors
from osb_platform.kafka_security import KafkaSecurity
from osb_platform.observability import CONSUMED, FAILED, HANDLER_SECONDS, handling
from osb_platform.producer import partition_for
from osb_platform.tracing import traceparent_here

log = logging.getLogger(__name__)

raise_offset_fetch_errors()  # every consumer group of the process; see aiokafka_patches


def make_broker(bootstrap_servers: str, *, client_id: str, **options: Any) -> KafkaBroker:
    """A broker connecting as ``KAFKA_SECURITY_PROTOCOL`` and friends say (plaintext if unset)."""
    if "security" not in options:
        options["security"] = KafkaSecurity().faststream()
    return KafkaBroker(
        # FastStream takes a string for one server: "a:9092,b:9092" would be one host name
        [server.strip() for server in bootstrap_servers.split(",")],
        client_id=client_id,
        allow_auto_create_topics=False,
        enable_idempotence=True,
        partitioner=options.pop("partitioner", partition_for),
        # A plain logger: its records take the process's (JSON) formatting.
        logger=options.pop("logger", logging.getLogger("faststream.osb")),
        # FastStream's "Received" and "Processed" per batch: two lines for every request
        # answered, kept for debugging; a failure is still logged as an error
        log_level=logging.DEBUG,
        **options,
    )


async def publish(
    broker: KafkaBroker,
    message: Message,
    *,
    topic: Topic,
    key: str,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> None:
    """Publish a contract message as a CloudEvent on its registry topic."""
    if not topic.accepts(type(message)):
        raise ValueError(f"{type(message).__name__} does not belong on {topic.name}")
    record = encode(
        message,
        key=key,
        source=source,
        event_id=event_id,
        time=time,
        correlation_id=correlation_id,
        causation_id=causation_id,
        traceparent=traceparent_here(f"publish {message.cloudevents_type()}"),
    )
    await broker.publish(record.value, topic.name, key=record.key, headers=record.headers)


def read_envelope(
    message: KafkaMessage, expect: type[Message] | tuple[type[Message], ...] | None = None
) -> Envelope[Any]:
    """Decode a received record's CloudEvents headers and payload; raise ``ContractError``."""
    raw = message.raw_message
    record = raw[0] if isinstance(raw, tuple) else raw
    return decode(record.headers, record.value or b"", record.key, expect=expect)


class RetryWithBackoff:
    """Subscriber middleware: a handler that raised gets its record again after a pause.

    The pause grows exponentially with jitter per record, so a fault (database down) is
    ridden out without spinning; nothing is acknowledged until the handler succeeds.
    Poison messages must be dead-lettered by the handler before they reach this point.
    """

    def __init__(
        self,
        *,
        initial: float = 0.2,
        maximum: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.sleep = sleep
        self.failures: dict[tuple[str, int, int], int] = {}

    def delay(self, attempt: int) -> float:
        base: float = min(self.maximum, self.initial * 2 ** (attempt - 1))
        return base / 2 + random.uniform(0, base / 2)  # noqa: S311 - jitter, not security

    def __call__(self, msg: Any, /, **kwargs: Any) -> BaseMiddleware:
        return _Retry(self, msg, **kwargs)


class _Retry(BaseMiddleware):
    def __init__(self, policy: RetryWithBackoff, msg: Any, /, **kwargs: Any) -> None:
        super().__init__(msg, **kwargs)
        self.policy = policy

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        raw = msg.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        record = records[0]
        where = (record.topic, record.partition, record.offset)
        started = time.perf_counter()
        try:
            correlation = header(record, "ce_correlationid")
            with handling(record.topic, correlation, partition=record.partition):
                result = await call_next(msg)
        except HandlerException:
            raise
        except Exception as exc:
            FAILED.labels(record.topic).inc(len(records))
            attempt = self.policy.failures.get(where, 0) + 1
            self.policy.failures[where] = attempt
            pause = self.policy.delay(attempt)
            log.warning(
                "handler failed on %s[%d]@%d (attempt %d, retry in %.1fs): %r",
                *where,
                attempt,
                pause,
                exc,
            )
            await self.policy.sleep(pause)
            raise NackMessage() from exc
        self.policy.failures.pop(where, None)
        HANDLER_SECONDS.labels(record.topic).observe(time.perf_counter() - started)
        CONSUMED.labels(record.topic).inc(len(records))
        return result


def header(record: Any, name: str) -> str | None:
    """A consumed record's header as text (None when absent); bytes that are not UTF-8 are
    replaced, not raised on."""
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None


async def raw_batch(msg: StreamMessage[Any]) -> Any:
    """A subscriber's decoder: the records as consumed, parsed later by the codec.

    FastStream's default would JSON-decode every body first, twice the work, and fail the
    whole batch on one bad body instead of dead-lettering that one record. The handler takes
    the records as its body: asking for the message instead costs a context lookup that
    FastStream runs in a worker thread, once per call.
    """
    return msg.raw_message


async def tolerant_batch_parser(
    records: tuple[ConsumerRecord[Any, Any], ...] | ConsumerRecord[Any, Any],
    original: Callable[[Any], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """A subscriber's parser (of a batch or of one record) that survives a header that is
    not UTF-8.

    FastStream decodes every header of a batch as UTF-8; one bad byte fails the whole batch
    before the handler runs, and ``AckPolicy.ACK`` then commits it: every valid record in
    that batch would be lost. Here FastStream parses sanitised copies, while the handler
    still gets the original records, so the codec dead-letters the bad one as it is.
    """
    batch = records if isinstance(records, tuple) else (records,)
    sanitised = tuple(
        replace(r, headers=[(k, v.decode(errors="replace").encode()) for k, v in r.headers])
        if any(not _is_utf8(v) for _, v in r.headers)
        else r
        for r in batch
    )
    message = await original(sanitised if isinstance(records, tuple) else sanitised[0])
    message.raw_message = records
    return message


def _is_utf8(value: bytes | None) -> bool:
    if value is None:
        return True
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


async def groupless_reader(bootstrap_servers: str, topic: Topic) -> AIOKafkaConsumer:
    """A started consumer holding every partition of ``topic``, in no consumer group: for
    an instance that must see every record (replies, tables), committing nothing."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        **KafkaSecurity().aiokafka(),
    )
    await consumer.start()
    consumer.assign([TopicPartition(topic.name, p) for p in range(topic.partitions)])
    return consumer


async def stop_reader(task: asyncio.Task[None] | None, consumer: AIOKafkaConsumer | None) -> None:
    """Cancel the task reading ``consumer``, then stop the consumer."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if consumer is not None:
        await consumer.stop()
