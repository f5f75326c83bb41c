"""Records land on the partition Kafka's default partitioner picks (Java clients, aiokafka)."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from osb_platform.producer import partition_for


def test_the_partition_of_a_key_is_kafkas() -> None:
    rng = random.Random(5)
    keys = [rng.randbytes(rng.randrange(0, 80)) for _ in range(5000)]
    keys += [b"6f1c3d2e-8a4b-5c6d-9e0f-1a2b3c4d5e6f", b"K-1", "Müller".encode()]
    for count in (1, 3, 6, 7):
        partitions = list(range(count))
        for key in keys:
            assert partition_for(key, partitions, partitions) == DefaultPartitioner()(
                key, partitions, partitions
            ), (key, count)


def test_records_without_key_go_to_an_available_partition() -> None:
    picked = {partition_for(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert picked == {1, 3}
