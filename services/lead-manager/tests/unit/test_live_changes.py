"""The change log behind the pages' live streams: positions, resuming, reloads, branches."""

from __future__ import annotations

import asyncio

import pytest
from lead_manager.service.live import (
    ChangeLog,
    LeadChange,
    Pushed,
    Subscription,
    parse_position,
    position_text,
)


def change(partition: int, offset: int, branch: str = "HH-01", lead: str = "") -> LeadChange:
    return LeadChange(
        lead_id=lead or f"lead-{partition}-{offset}",
        branch_id=branch,
        kind="LeadCreated",
        status="NEW",
        partition=partition,
        offset=offset,
    )


def drain(subscription: Subscription) -> list[Pushed]:
    async def take() -> list[Pushed]:
        got = []
        while (item := await subscription.next(0.01)) is not None:
            got.append(item)
        return got

    return asyncio.run(take())


def test_a_position_is_read_back_only_for_the_topic_s_partitions() -> None:
    assert parse_position(position_text((3, 0, 12)), 3) == (3, 0, 12)
    for text in (None, "", "1.2", "1.2.3.4", "a.b.c", "-1.0.0", "1.0.99999999999999999999"):
        assert parse_position(text, 3) is None, text


def test_a_stream_from_now_gets_the_changes_after_it_with_their_positions() -> None:
    log = ChangeLog((0, 5))
    log.add([change(1, 5)])
    stream = log.subscribe(["HH-01"], None)
    assert stream.position == [0, 6]
    log.add([change(0, 0), change(1, 6)])
    pushed = drain(stream)
    assert [(p.change.partition, p.change.offset) for p in pushed if p.change] == [(0, 0), (1, 6)]
    assert [p.id for p in pushed] == ["1.6", "1.7"]


def test_a_reconnect_gets_what_it_missed_once_and_nothing_it_had() -> None:
    log = ChangeLog((0, 0))
    log.add([change(0, 0), change(1, 0), change(0, 1)])
    seen_until = parse_position("1.1", 2)  # it had (0, 0) and (1, 0)
    log.add([change(1, 1)])
    stream = log.subscribe(["HH-01"], seen_until)
    assert [(p.change.partition, p.change.offset) for p in drain(stream) if p.change] == [
        (0, 1),
        (1, 1),
    ]


def test_a_position_the_log_no_longer_reaches_back_to_gets_a_reload() -> None:
    log = ChangeLog((0, 0), keep=2)
    log.add([change(0, 0), change(0, 1), change(0, 2)])  # (0, 0) is forgotten
    stream = log.subscribe(["HH-01"], (0, 0))
    pushed = drain(stream)
    assert [p.change for p in pushed] == [None]
    assert pushed[0].id == "3.0"  # the reload's id: after it, only new changes
    still_kept = log.subscribe(["HH-01"], (1, 0))
    assert [p.change.offset for p in drain(still_kept) if p.change] == [1, 2]


def test_a_position_before_this_instance_started_reading_gets_a_reload() -> None:
    log = ChangeLog((40, 7))
    assert [p.change for p in drain(log.subscribe(["HH-01"], (39, 7)))] == [None]
    assert drain(log.subscribe(["HH-01"], (40, 7))) == []


def test_a_position_ahead_of_this_instance_skips_what_the_page_has_seen() -> None:
    """The page came from an instance that had read further: no change twice."""
    log = ChangeLog((0,))
    stream = log.subscribe(["HH-01"], (3,))
    log.add([change(0, n) for n in range(5)])
    assert [p.change.offset for p in drain(stream) if p.change] == [3, 4]


def test_only_the_stream_s_branches_and_the_position_moves_past_the_others() -> None:
    log = ChangeLog((0,))
    stream = log.subscribe(["HH-01"], None)
    log.add([change(0, 0, "HB-02"), change(0, 1, "HH-01"), change(0, 2, "HB-02")])
    pushed = drain(stream)
    assert [p.change.branch_id for p in pushed if p.change] == ["HH-01"]
    assert pushed[0].id == "2"
    assert stream.position == [3]


def test_a_page_that_does_not_keep_up_is_told_to_reload_instead_of_growing_memory() -> None:
    log = ChangeLog((0,), per_page=3)
    stream = log.subscribe(["HH-01"], None)
    log.add([change(0, n) for n in range(5)])
    pushed = drain(stream)
    assert [p.change.offset if p.change else None for p in pushed] == [None, 4]
    assert pushed[-1].id == "5"


def test_closing_the_log_ends_every_stream_and_unsubscribing_stops_the_changes() -> None:
    log = ChangeLog((0,))
    kept, gone = log.subscribe(["HH-01"], None), log.subscribe(["HH-01"], None)
    log.unsubscribe(gone)
    log.add([change(0, 0)])
    assert drain(gone) == []
    assert log.subscribers == 1
    log.close()
    assert kept.closed
    assert log.subscribers == 0


@pytest.mark.parametrize("timeout", [0.0, 0.05])
def test_waiting_for_a_change_ends_after_the_timeout(timeout: float) -> None:
    stream = ChangeLog((0,)).subscribe(["HH-01"], None)
    assert asyncio.run(stream.next(timeout)) is None
