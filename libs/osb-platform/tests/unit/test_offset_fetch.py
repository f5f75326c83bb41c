"""A group's committed offsets asked while the coordinator cannot answer are asked again, not
taken for "none" (which would send the group back to the topic's beginning)."""

from __future__ import annotations

import asyncio
from typing import Any

import osb_platform.kafka  # noqa: F401  (applies the correction, as every service does)
import pytest
from aiokafka import TopicPartition, errors
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.protocol.commit import OffsetFetchResponse_v3

TP = TopicPartition("osb.example.v1", 0)
LOADING, NOT_COORDINATOR = 14, 16  # what a restarted broker answered, measured on Kafka 4.1


class Client:
    def __init__(self, response: OffsetFetchResponse_v3) -> None:
        self.response = response

    async def send(self, node_id: int, request: Any, **_: Any) -> OffsetFetchResponse_v3:
        return self.response


def coordinator(response: OffsetFetchResponse_v3) -> GroupCoordinator:
    # Only what asking for committed offsets touches; the rest of a coordinator needs a broker.
    found = GroupCoordinator.__new__(GroupCoordinator)
    found.group_id = "osb.example"
    found.coordinator_id = 1
    found._client = Client(response)
    found._coordinator_dead_fut = asyncio.get_running_loop().create_future()
    return found


def answer(*, error_code: int, offset: int | None = None) -> OffsetFetchResponse_v3:
    topics = [] if offset is None else [(TP.topic, [(TP.partition, offset, "", 0)])]
    return OffsetFetchResponse_v3(throttle_time_ms=0, topics=topics, error_code=error_code)


async def test_a_loading_coordinator_is_asked_again_not_taken_for_no_offset() -> None:
    group = coordinator(answer(error_code=LOADING))
    with pytest.raises(errors.GroupLoadInProgressError) as raised:
        await group._do_fetch_commit_offsets([TP])
    assert raised.value.retriable
    assert group.coordinator_id == 1


async def test_a_moved_coordinator_is_looked_up_again() -> None:
    group = coordinator(answer(error_code=NOT_COORDINATOR))
    with pytest.raises(errors.NotCoordinatorForGroupError):
        await group._do_fetch_commit_offsets([TP])
    assert group.coordinator_id is None


async def test_committed_offsets_are_read_as_before() -> None:
    group = coordinator(answer(error_code=0, offset=42))
    assert {tp: o.offset for tp, o in (await group._do_fetch_commit_offsets([TP])).items()} == {
        TP: 42
    }
    assert await coordinator(answer(error_code=0, offset=-1))._do_fetch_commit_offsets([TP]) == {}
