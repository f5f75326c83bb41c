"""PoisonGuard: bounded retries for a record's own failure, none for the surroundings'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import pytest
from osb_platform.poison import PoisonGuard, is_transient
from osb_platform.producer import DeadLetter
from sqlalchemy import exc as sa_exc


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes = b"{}"
    headers: tuple[tuple[str, bytes], ...] = ()


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def dead_letter(self, letters: Sequence[DeadLetter], *, service: str) -> None:
        assert service == "svc"
        self.sent.extend(letters)


class PoisonedError(Exception):
    pass


class Handler:
    """Fails for every batch holding "bad"; ``down`` fails everything as a lost database."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.calls = 0
        self.down = False

    async def __call__(self, items: Sequence[str]) -> None:
        self.calls += 1
        if self.down:
            raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))
        if "bad" in items:
            raise PoisonedError("row refused: bad")
        self.done.extend(items)


async def no_sleep(_: float) -> None:
    pass


def batch(*values: str) -> list[tuple[Record, str]]:
    return [(Record("t", i % 2, 10 + i), v) for i, v in enumerate(values)]


async def test_a_record_failing_alone_is_dead_lettered_after_the_bounded_tries() -> None:
    letters, handler = Letters(), Handler()
    guard = PoisonGuard(letters, service="svc", attempts=3, sleep=no_sleep)  # type: ignore[arg-type]
    items = batch("a", "bad", "c")
    for _ in range(3):  # each try fails and is redelivered
        with pytest.raises(PoisonedError):
            await guard.handle(items, handler)
    assert handler.done == []
    await guard.handle(items, handler)  # the fourth delivery: one at a time
    assert handler.done == ["a", "c"]
    (letter,) = letters.sent
    assert (letter.topic, letter.partition, letter.offset) == ("t", 1, 11)
    assert letter.reason == "processing failed: PoisonedError"
    assert letter.errors == [("", "row refused: bad")]
    assert guard.failures == {}  # nothing kept once the batch is through


async def test_the_surroundings_failing_are_retried_for_ever_without_dead_letters() -> None:
    letters, handler = Letters(), Handler()
    guard = PoisonGuard(letters, service="svc", attempts=2, sleep=no_sleep)  # type: ignore[arg-type]
    handler.down = True
    for _ in range(10):
        with pytest.raises(sa_exc.OperationalError):
            await guard.handle(batch("a", "b"), handler)
    assert guard.failures == {}
    handler.down = False
    await guard.handle(batch("a", "b"), handler)
    assert (handler.done, letters.sent) == (["a", "b"], [])


async def test_a_batch_that_recovers_is_forgotten() -> None:
    letters, handler = Letters(), Handler()
    guard = PoisonGuard(letters, service="svc", attempts=3, sleep=no_sleep)  # type: ignore[arg-type]
    with pytest.raises(PoisonedError):
        await guard.handle(batch("bad"), handler)
    assert guard.failures == {("t", 0, 10): 1}
    await guard.handle(batch("fine"), handler)  # the same position, handled now
    assert guard.failures == {}
    assert letters.sent == []


async def test_the_database_lost_while_one_at_a_time_stops_the_batch() -> None:
    letters, handler = Letters(), Handler()
    guard = PoisonGuard(letters, service="svc", attempts=1, sleep=no_sleep)  # type: ignore[arg-type]
    items = batch("a", "bad")
    with pytest.raises(PoisonedError):
        await guard.handle(items, handler)
    handler.down = True
    with pytest.raises(sa_exc.OperationalError):
        await guard.handle(items, handler)
    assert letters.sent == []  # nothing dead-lettered for a fault of the surroundings


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (asyncpg.CannotConnectNowError("starting up"), True),
        (asyncpg.exceptions.TooManyConnectionsError("too many"), True),
        (asyncpg.exceptions.SerializationError("retry"), True),
        (asyncpg.exceptions.CharacterNotInRepertoireError("0x00"), False),
        (asyncpg.exceptions.UniqueViolationError("dup"), False),
        (ValueError("bad value"), False),
    ],
)
def test_what_counts_as_a_fault_of_the_surroundings(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient
    wrapped = sa_exc.DBAPIError("INSERT", {}, Exception("adapter"))
    wrapped.__cause__ = error
    assert is_transient(wrapped) is transient
