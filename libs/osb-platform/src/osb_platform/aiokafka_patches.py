"""A correction to aiokafka (0.14) that every consumer group of the project needs.

From OffsetFetch v2 on, the broker answers a group it cannot serve yet (its coordinator is
loading ``__consumer_offsets`` after a restart, or moved) with an error for the whole response
and no partitions. aiokafka reads only the partitions' errors, takes the empty answer for "no
committed offset" and applies ``auto_offset_reset``: a group restarted next to a broker that
was just restarted read its topics again from the beginning (``make chaos``, seed 4), and one
with ``latest`` would skip what it had not yet read. The Java consumer retries on these errors;
so does this: the response's error is raised as the retriable error it is, and aiokafka's own
retry asks again.
"""

from __future__ import annotations

from typing import Any

from aiokafka import errors
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.protocol.commit import OffsetFetchRequest

_COORDINATOR_GONE = (errors.NotCoordinatorForGroupError, errors.CoordinatorNotAvailableError)


def raise_offset_fetch_errors() -> None:
    """Make the group coordinator raise an OffsetFetch response's top-level error (idempotent)."""
    send = GroupCoordinator._send_req
    if getattr(send, "raises_offset_fetch_errors", False):
        return

    async def _send_req(self: GroupCoordinator, request: Any) -> Any:
        response = await send(self, request)
        code = getattr(response, "error_code", 0) if isinstance(request, OffsetFetchRequest) else 0
        if code:
            error = errors.for_code(code)
            if issubclass(error, _COORDINATOR_GONE):
                self.coordinator_dead()  # find the coordinator again before the retry
            raise error()
        return response

    _send_req.raises_offset_fetch_errors = True  # type: ignore[attr-defined]
    GroupCoordinator._send_req = _send_req
