"""Sends due notifications; a failing one is rescheduled without holding up the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from osb_contracts.notifications import FailureCode
from osb_contracts.values import Channel
from osb_platform.tracing import step
from prometheus_client import Counter

from notifier.domain.notification import Claimed, RetryPolicy, SendFailedError
from notifier.domain.plan import BranchChannels
from notifier.service.mail import build_message
from notifier.service.ports import EmailSender, NotificationQueue, SmsSender

log = logging.getLogger(__name__)

OUTCOMES = Counter(
    "osb_notifications_total",
    "Notification attempts by channel and outcome",
    ["channel", "outcome"],
)


# the reason a notification to a number that answered STOP fails with (phrased on the page)
OPTED_OUT = "the customer opted out of SMS (STOP)"


class Dispatcher:
    def __init__(
        self,
        store: NotificationQueue,
        *,
        email: EmailSender,
        sms: SmsSender,
        branches: Mapping[str, BranchChannels],
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        batch_size: int = 50,
        lease: timedelta = timedelta(seconds=60),
        idle_sleep: float = 0.05,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._email = email
        self._sms = sms
        self._branches = branches
        self._policy = policy
        self._clock = clock
        self._batch_size = batch_size
        self._lease = lease
        self._idle_sleep = idle_sleep
        self._rng = rng or random.Random()  # noqa: S311 - retry jitter
        self.wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                claimed = await self._store.claim(self._batch_size, self._lease)
                failures = 0
            except Exception:
                failures += 1
                log.exception("claiming notifications failed (attempt %d)", failures)
                await self._sleep(stop, min(30.0, 0.2 * 2**failures))
                continue
            if not claimed:
                await self._sleep(stop, self._idle_sleep)
                continue
            # Outcomes are stored one by one as the sends finish: the window in which a
            # crash leaves a sent notification unmarked is one send, not a batch.
            outcomes = await asyncio.gather(
                *(self._deliver(c) for c in claimed), return_exceptions=True
            )
            unrecorded = [o for o in outcomes if isinstance(o, Exception)]
            if unrecorded:
                # The database went away while outcomes were stored: the dispatcher lives on;
                # the unrecorded ones are claimed again when their lease runs out.
                failures += 1
                log.error(
                    "%d outcome(s) not stored (attempt %d): %r",
                    len(unrecorded),
                    failures,
                    unrecorded[0],
                )
                await self._sleep(stop, min(30.0, 0.2 * 2**failures))

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        self.wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), timeout=seconds
            )
        for waiter in waiters:
            waiter.cancel()

    async def _deliver(self, claimed: Claimed) -> None:
        draft = claimed.draft
        name = f"send {draft.channel.value.lower()}"
        attributes = {"osb.notification_id": str(claimed.id), "osb.attempt": claimed.attempts + 1}
        # the outcome's event goes out in the same trace, from this span
        with step(name, draft.trace_parent, attributes=attributes):
            await self._deliver_traced(claimed)

    async def _deliver_traced(self, claimed: Claimed) -> None:
        draft = claimed.draft
        try:
            if draft.channel is Channel.EMAIL:
                branch = self._branches.get(draft.branch_id)
                try:
                    message = build_message(
                        draft, sender_name=branch.name if branch else None, now_utc=self._clock()
                    )
                except (ValueError, TypeError) as exc:
                    # built from the stored draft alone: trying again builds the same again
                    raise SendFailedError(
                        FailureCode.MESSAGE_INVALID, str(exc), permanent=True
                    ) from None
                await self._email.send(message)
            else:
                if await self._store.opted_out(draft.recipient):
                    raise SendFailedError(FailureCode.SMS_OPTED_OUT, OPTED_OUT, permanent=True)
                await self._sms.send(
                    to=draft.recipient, text=draft.text, sender=None, reference=str(draft.id)
                )
        except SendFailedError as error:
            await self._failed(claimed, error)
            return
        except Exception as exc:  # a bug or an unexpected library error: retry, never drop
            log.exception("sending notification %s failed unexpectedly", claimed.id)
            await self._failed(
                claimed, SendFailedError(FailureCode.UNEXPECTED, repr(exc), permanent=False)
            )
            return
        await self._store.sent(claimed)
        OUTCOMES.labels(draft.channel.value, "sent").inc()

    async def _failed(self, claimed: Claimed, error: SendFailedError) -> None:
        channel = claimed.draft.channel.value
        if not error.permanent:
            later = self._policy.next_attempt(claimed.attempts + 1, self._clock(), self._rng)
            if later is not None:
                log.warning("notification %s: %s; retry at %s", claimed.id, error.code, later)
                await self._store.retry_later(claimed, error, later)
                OUTCOMES.labels(channel, "retry").inc()
                return
        log.warning("notification %s failed for good: %s", claimed.id, error.code)
        await self._store.failed(claimed, error)
        OUTCOMES.labels(channel, "failed").inc()
