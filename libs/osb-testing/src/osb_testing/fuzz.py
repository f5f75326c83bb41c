"""Records drawn by Hypothesis for the consumers' fuzz tests (`make fuzz` for long runs)."""

from __future__ import annotations

import json
import os
from typing import Any

from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# records per consumer test: a few in make test, many in make fuzz
RECORDS = int(os.environ.get("OSB_FUZZ_EXAMPLES", "8")) * 5
RANDOM = os.environ.get("OSB_FUZZ_RANDOM") == "1"

# integers at the edges of a bigint too: past them a value passes JSON and fails at the insert
edge_integers = st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | edge_integers
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
nasty_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(["\x00", "\r", "\n", "\x1b", "\x7f"]),
    max_size=40,
)


def records(valid: dict[str, Any], headers: list[tuple[str, bytes]]) -> st.SearchStrategy[Any]:
    """A record's (value, headers): bytes at random, JSON at random under valid headers, or a
    valid message with one field replaced by a value at random."""

    def replaced(field: str, value: Any) -> bytes:
        message = json.loads(json.dumps(valid))
        target = message["customer"] if field in message.get("customer", {}) else message
        target[field] = value
        return json.dumps(message).encode()

    fields = [*valid, *valid.get("customer", {})]
    return st.one_of(
        st.tuples(
            st.binary(max_size=200),
            st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=20)), max_size=4),
        ),
        st.tuples(json_values.map(lambda v: json.dumps(v).encode()), st.just(headers)),
        st.tuples(
            st.builds(replaced, st.sampled_from(fields), json_values | nasty_text),
            st.just(headers),
        ),
    )


def drawn(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` records from one Hypothesis example (reproducible unless OSB_FUZZ_RANDOM)."""
    out: list[Any] = []

    @given(st.lists(strategy, min_size=count, max_size=count))
    @settings(
        max_examples=1,
        database=None,
        derandomize=not RANDOM,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def draw(values: list[Any]) -> None:
        out[:] = values

    draw()
    return out


async def send_then_valid(
    bootstrap: str, topic: str, key: bytes, fuzzed: list[Any], valid: Any
) -> list[Any]:
    """Sends the drawn records, then ``valid`` (an encoded record), all with ``key`` (one
    partition, in order); the send metadata of the drawn ones, for their offsets."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(
                topic, value, key=key, headers=[(k, bytes(v)) for k, v in headers]
            )
            for value, headers in fuzzed
        ]
        await producer.send_and_wait(topic, valid.value, key=key, headers=valid.header_list)
    finally:
        await producer.stop()
    return sent
