"""A record that keeps failing for a reason of its own must not stop its partition.

A batch whose handler raised is redelivered (``RetryWithBackoff``). A failure of the
surroundings (database or broker down, a timeout) is retried for ever: dead-lettering
then would empty the topic into the dead-letter topic. Any other failure is retried a
bounded number of times; after that the batch's records are handled one at a time, each
record that still fails alone goes to the dead-letter topic with the reason, and the rest
flows on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import asyncpg
from aiokafka.errors import KafkaError
from sqlalchemy import exc as sa_exc

from osb_platform.producer import DeadLetter, Producer

log = logging.getLogger(__name__)

T = TypeVar("T")

_TRANSIENT_POSTGRES = (
    asyncpg.PostgresConnectionError,  # refused, lost, starting up, shutting down
    asyncpg.InterfaceError,  # the connection went away under a query
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, query cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # serialization failure, deadlock
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error and its causes, SQLAlchemy's wrapped driver error (``orig``) included."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        causes = (current.__cause__, orig, current.__context__)
        current = next((c for c in causes if isinstance(c, BaseException)), None)


def root_cause(exc: BaseException) -> BaseException:
    """The first cause (asyncpg's error under SQLAlchemy's): it names the reason best."""
    *_, root = _chain(exc)
    return root


def is_transient(exc: BaseException) -> bool:
    """A fault of the surroundings, not of the record: trying again later can help."""
    for e in _chain(exc):
        if isinstance(e, (OSError, TimeoutError, *_TRANSIENT_POSTGRES)):
            return True
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True
        if isinstance(e, KafkaError) and e.retriable:
            return True
    return False


class PoisonGuard:
    """Per subscriber: counts the failed tries of each record and, once a record has failed
    ``attempts`` times for a reason of its own, handles its batch one record at a time."""

    def __init__(
        self,
        producer: Producer,
        *,
        service: str,
        attempts: int = 3,
        pause: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.producer, self.service = producer, service
        self.attempts, self.pause, self.sleep = attempts, pause, sleep
        self.failures: dict[tuple[str, int, int], int] = {}

    async def handle(
        self,
        items: Sequence[tuple[Any, T]],
        process: Callable[[Sequence[T]], Awaitable[None]],
    ) -> None:
        """``items`` pairs each consumed record with what ``process`` takes for it."""
        if not items:
            return
        where = [(r.topic, r.partition, r.offset) for r, _ in items]
        if max(self.failures.get(w, 0) for w in where) < self.attempts:
            try:
                await process([item for _, item in items])
            except Exception as exc:
                if not is_transient(exc):
                    for w in where:
                        self.failures[w] = self.failures.get(w, 0) + 1
                raise
        else:
            await self._one_by_one(items, process)
        for w in where:
            self.failures.pop(w, None)

    async def _one_by_one(
        self,
        items: Sequence[tuple[Any, T]],
        process: Callable[[Sequence[T]], Awaitable[None]],
    ) -> None:
        letters: list[DeadLetter] = []
        for record, item in items:
            for attempt in range(1, self.attempts + 1):
                try:
                    await process([item])
                    break
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    if attempt == self.attempts:
                        # only the root cause's class in the reason (it is logged); the
                        # message may quote the record, so only the dead letter holds it
                        letters.append(
                            DeadLetter.of(
                                record,
                                f"processing failed: {type(root_cause(exc)).__name__}",
                                [("", str(exc)[:1000])],
                            )
                        )
                    else:
                        await self.sleep(self.pause * attempt)
        await self.producer.dead_letter(letters, service=self.service)
