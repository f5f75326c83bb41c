"""The local broker's settings: one node, or a cluster of three (``OSB_KAFKA_BROKERS=3``)."""

from __future__ import annotations

from pathlib import Path

from osb_local_infra.kafka import cluster, every_local_broker
from osb_local_infra.settings import InfraSettings


def properties(path: Path) -> dict[str, str]:
    lines = [line.split("=", 1) for line in path.read_text().splitlines() if "=" in line]
    return {key: value for key, value in lines}


def test_three_nodes_vote_together_and_keep_three_copies_two_in_sync(tmp_path: Path) -> None:
    settings = InfraSettings(osb_run_dir=tmp_path, osb_kafka_brokers=3)
    nodes = cluster(settings)
    assert [n.bootstrap_servers for n in nodes] == [
        "localhost:9092",
        "localhost:9102",
        "localhost:9112",
    ]
    configs = []
    for node in nodes:
        node.home.mkdir(parents=True)
        configs.append(properties(node._write_config()))
    voters = "1@localhost:9093,2@localhost:9103,3@localhost:9113"
    assert {c["controller.quorum.voters"] for c in configs} == {voters}
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    for config in configs:
        assert config["default.replication.factor"] == "3"
        assert config["min.insync.replicas"] == "2"
        assert config["offsets.topic.replication.factor"] == "3"
        assert config["transaction.state.log.min.isr"] == "2"
    assert len({n.data for n in nodes}) == 3
    # every node formatted with the same cluster id, a single broker with its own
    assert nodes[0]._cluster_id() == nodes[2]._cluster_id()
    assert cluster(InfraSettings(osb_run_dir=tmp_path))[0]._cluster_id() != nodes[0]._cluster_id()
    # `osb-infra down` finds the nodes whatever OSB_KAFKA_BROKERS says then
    assert [b.node for b in every_local_broker(InfraSettings(osb_run_dir=tmp_path))] == [0, 1, 2, 3]


def test_a_single_broker_keeps_one_copy(tmp_path: Path) -> None:
    (broker,) = cluster(InfraSettings(osb_run_dir=tmp_path))
    broker.home.mkdir(parents=True)
    config = properties(broker._write_config())
    assert config["controller.quorum.voters"] == "1@localhost:9093"
    assert config["node.id"] == "1"
    assert config["default.replication.factor"] == "1"
    assert config["min.insync.replicas"] == "1"
    assert broker.home == tmp_path.resolve() / "kafka"
