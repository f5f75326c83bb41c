"""Lead changes pushed to the advisors' pages as they happen.

Every lead-manager instance follows ``osb.lead.events.v1`` (every partition, no consumer
group) and keeps its latest changes in a :class:`ChangeLog`. A page's stream starts at the
log's position, or at the position its browser names after a reconnect (``Last-Event-ID``):
each change's id is the position after it, the next offset of every partition, so a page
that reconnects (to this instance or another) gets every change it missed while the log
still holds them, and is told to reload everything when it does not.

Only what the page needs to refresh goes out (lead, branch, kind of change, status): no
personal data.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

Position = tuple[int, ...]  # the next offset of each partition


def position_text(position: Position) -> str:
    return ".".join(map(str, position))


def parse_position(text: str | None, partitions: int) -> Position | None:
    """A position from a ``Last-Event-ID``; None for none or one this topic cannot have."""
    parts = (text or "").split(".")
    if len(parts) != partitions or not all(p.isdecimal() and len(p) < 19 for p in parts):
        return None
    return tuple(int(p) for p in parts)


@dataclass(frozen=True)
class LeadChange:
    lead_id: str
    branch_id: str
    kind: str  # the event's name: LeadCreated, LeadCancelled, ...
    status: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Pushed:
    """What a stream sends: a change, or ``change is None`` for "reload everything"; ``id``
    is the position after it, for the browser to name when it reconnects."""

    change: LeadChange | None
    id: str


class Subscription:
    """One page's stream: the changes of its branches after its position, in order."""

    def __init__(self, branches: frozenset[str], since: Position, limit: int) -> None:
        self.branches = branches
        self.position = list(since)
        self._limit = limit
        self._queue: deque[Pushed] = deque()
        self._ready = asyncio.Event()
        self.closed = False

    def offer(self, change: LeadChange) -> None:
        if change.offset < self.position[change.partition]:
            return  # seen already (the page came from an instance that had read further)
        self.position[change.partition] = change.offset + 1
        if change.branch_id not in self.branches:
            return
        if len(self._queue) >= self._limit:  # the page does not keep up: start it afresh
            self._queue.clear()
            self._push(None)
        else:
            self._push(change)

    def reload(self) -> None:
        self._queue.clear()
        self._push(None)

    def _push(self, change: LeadChange | None) -> None:
        self._queue.append(Pushed(change, position_text(tuple(self.position))))
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self, timeout: float) -> Pushed | None:
        """The next change, None after ``timeout`` without one or once closed."""
        if not self._queue and not self.closed:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        return self._queue.popleft() if self._queue else None


class ChangeLog:
    """The latest ``keep`` changes of every partition, read from ``start`` on."""

    def __init__(self, start: Position, *, keep: int = 5000, per_page: int = 1000) -> None:
        self.position = list(start)
        self._floor = list(start)  # from here on in each partition, every change is kept
        self._kept: deque[LeadChange] = deque()
        self._keep = keep
        self._per_page = per_page
        self._subscriptions: set[Subscription] = set()

    def add(self, changes: Iterable[LeadChange]) -> None:
        for change in changes:
            self.position[change.partition] = change.offset + 1
            self._kept.append(change)
            if len(self._kept) > self._keep:
                gone = self._kept.popleft()
                self._floor[gone.partition] = gone.offset + 1
            for subscription in self._subscriptions:
                subscription.offer(change)

    def subscribe(self, branches: Iterable[str], since: Position | None) -> Subscription:
        """A stream of ``branches``' changes after ``since`` (or from now); it starts with
        a reload when the log no longer holds everything after ``since``."""
        start = since or tuple(self.position)
        subscription = Subscription(frozenset(branches), start, self._per_page)
        if since is not None and any(s < f for s, f in zip(since, self._floor, strict=True)):
            subscription.position = [max(p, s) for p, s in zip(self.position, since, strict=True)]
            subscription.reload()
        else:
            for change in self._kept:
                subscription.offer(change)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def close(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
