"""What an operator sees of a service: Prometheus metrics and JSON logs with correlation ids.

Metrics carry topics, groups, channels and outcomes as labels, never customer data. Logs are
one JSON object per line (structlog; uvicorn's and FastStream's records go through the same
formatter) with the service, the topic and the CloudEvents correlation id of what is being
handled; log calls name ids, never a customer's data, and what a library's message quotes
(an address, a number, a VIN) is masked on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

import phonenumbers
import structlog
from phonenumbers import Leniency
from prometheus_client import Counter, Gauge, Histogram

from osb_platform.tracing import add_trace_ids

CONSUMED = Counter("osb_messages_consumed_total", "Records handled successfully", ["topic"])
FAILED = Counter("osb_messages_failed_total", "Handler failures (the batch is retried)", ["topic"])
DEAD_LETTERED = Counter(
    "osb_messages_dead_lettered_total", "Records sent to a dead-letter topic", ["topic"]
)
PUBLISHED = Counter("osb_messages_published_total", "Records acknowledged by Kafka", ["topic"])
HANDLER_SECONDS = Histogram(
    "osb_handler_seconds",
    "Time to handle one batch, its transaction included",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("osb_outbox_backlog", "Outbox rows not yet acknowledged by Kafka")
SUPPRESSED = Counter(
    "osb_log_lines_suppressed_total",
    "Repeats of a Kafka client's log line held back (broker unreachable: thousands a minute)",
    ["logger"],
)
KAFKA_REACHABLE = Gauge(
    "osb_kafka_reachable", "1 while the Kafka cluster answers metadata requests, else 0"
)
CONSUMER_LAG = Gauge(
    "osb_consumer_lag",
    "Records between a group's position and the partition's end",
    ["topic", "group"],
)

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def configure_logging(service: str, *, level: int = logging.INFO) -> None:
    """JSON lines on stdout for this process's own, uvicorn's and FastStream's records."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),  # FastStream's topic, group and message id
        _add_service(service),
        add_trace_ids,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                scrub_personal_data,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream", "faststream.access"):
        named = logging.getLogger(name)
        named.handlers[:] = []
        named.propagate = True
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _PathOnly) for f in access.filters):
        access.addFilter(_PathOnly())
    if not any(isinstance(f, Repeats) for f in handler.filters):
        handler.addFilter(Repeats())


_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# where a phone number may begin: "+49...", "0151..." (not inside an id, a time or an address)
_MAYBE_PHONE = re.compile(r"(?<![\w.:-])(?:\+|0)\d")
# a VIN: 17 of its letters (no I, O or Q) and digits, at least one of each
_VIN = re.compile(r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b")


def scrub(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers (as phonenumbers finds them, written
    either way) and VINs masked."""
    if "@" in text:
        text = _EMAIL.sub("<e-mail>", text)
    if _MAYBE_PHONE.search(text):  # the matcher costs 0.1 ms a line: only where one may be
        matches = phonenumbers.PhoneNumberMatcher(text, "DE", leniency=Leniency.VALID)
        for start, end in reversed([(m.start, m.end) for m in matches]):
            text = text[:start] + "<phone>" + text[end:]
    return _VIN.sub("<VIN>", text)


def scrub_personal_data(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The last line of defence: log calls name ids, never a customer's data, but an
    exception's message (a library's, in a traceback) may quote what it failed on: a mail
    server names the address it refused, a gateway the number."""
    for key, value in event.items():
        if isinstance(value, str) and key not in _AS_IS:
            event[key] = scrub(value)
    return event


# written by this code, never holding a customer's data (and looking like numbers)
_AS_IS = frozenset({"timestamp", "trace_id", "span_id", "correlation_id", "level", "logger"})


class Repeats(logging.Filter):
    """The Kafka client's lines once, not thousands of times: while a broker is away,
    aiokafka logs a failed connection per node and try. The first line of a kind (logger,
    level, message before its arguments) passes; repeats within ``quiet_s`` are held back
    and counted (``osb_log_lines_suppressed_total``); the first after that passes with
    ``suppressed``, how many were held back."""

    def __init__(
        self,
        *,
        prefixes: tuple[str, ...] = ("aiokafka",),
        quiet_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.prefixes, self.quiet_s, self.clock = prefixes, quiet_s, clock
        self.seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        since, held = self.seen.get(key, (None, 0))
        if since is not None and now - since < self.quiet_s:
            self.seen[key] = (since, held + 1)
            SUPPRESSED.labels(record.name).inc()
            return False
        self.seen[key] = (now, 0)
        if held:
            record.suppressed = held
        return True


class _PathOnly(logging.Filter):
    """uvicorn's access line with the path only: a query string holds what was searched for
    (customers' names in the live search), and logs hold no personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].partition("?")[0], *args[3:])
        return True


def _add_service(service: str) -> Any:
    def add(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        event.pop("color_message", None)  # uvicorn's terminal copy of the message
        return event

    return add


@contextlib.contextmanager
def handling(topic: str, correlation: str | None, **more: Any) -> Any:
    """Bind the topic and correlation id to every log record while a batch is handled."""
    tokens = structlog.contextvars.bind_contextvars(topic=topic, correlation_id=correlation, **more)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


class LagWatch:
    """Keeps ``osb_consumer_lag`` current for a broker's subscribers while the service runs."""

    def __init__(self, broker: Any, *, every: float = 5.0) -> None:
        self._broker = broker
        self._every = every
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-lag")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def update(self) -> None:
        for subscriber in self._broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None or not (assigned := list(consumer.assignment())):
                continue
            # The partitions' ends from the broker: the fetcher's highwater is unset until a
            # fetch returns records, which an idle group never sees.
            ends = await consumer.end_offsets(assigned)
            for tp in assigned:
                position = await consumer.position(tp)
                CONSUMER_LAG.labels(tp.topic, subscriber.group_id).set(max(0, ends[tp] - position))

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.update()
            except Exception:  # a rebalance in progress: next round
                logging.getLogger(__name__).debug("consumer lag not read", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._every)


class BrokerWatch:
    """One line when Kafka stops answering and one when it answers again (with how long it
    was away), and ``osb_kafka_reachable``: the client's own lines repeat thousands of
    times a minute meanwhile and are held back (:class:`Repeats`).

    ``ask`` is a metadata request that returns whether the cluster answered."""

    def __init__(
        self,
        ask: Callable[[], Awaitable[bool]],
        *,
        every: float = 2.0,
        timeout: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ask, self._every, self._timeout, self._clock = ask, every, timeout, clock
        self.lost_at: float | None = None
        self._log = logging.getLogger("osb_platform.kafka")
        KAFKA_REACHABLE.set(1)

    async def check(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                answered = await self._ask()
            problem = None if answered else "no answer to a metadata request"
        except Exception as exc:  # whatever it is, Kafka is not answering
            problem = repr(exc)
        if problem is None and self.lost_at is not None:
            away = self._clock() - self.lost_at
            self.lost_at = None
            KAFKA_REACHABLE.set(1)
            self._log.info("Kafka reachable again", extra={"away_s": round(away, 1)})
        elif problem is not None and self.lost_at is None:
            self.lost_at = self._clock()
            KAFKA_REACHABLE.set(0)
            self._log.warning("Kafka unreachable", extra={"problem": problem})

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every)
