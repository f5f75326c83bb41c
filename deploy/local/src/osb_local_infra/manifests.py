"""deploy/k8s/topics.yaml: the topic registry as Strimzi KafkaTopic resources."""

from __future__ import annotations

from pathlib import Path

from osb_contracts.topics import all_topic_specs

TOPICS_YAML = Path(__file__).resolve().parents[3] / "k8s" / "topics.yaml"
CLUSTER = "osb"  # the Strimzi Kafka cluster's name
REPLICAS = 3
MIN_IN_SYNC = "2"  # with acks=all (the idempotent producers), a write survives one broker lost


def kafka_topics() -> str:
    header = (
        "# Generated from libs/osb-contracts/src/osb_contracts/topics.py by `make manifests`;\n"
        "# tests/unit/test_deploy_manifests.py fails when it is stale.\n"
    )
    docs = []
    for name, partitions, config in all_topic_specs():
        lines = [
            "apiVersion: kafka.strimzi.io/v1beta2",
            "kind: KafkaTopic",
            "metadata:",
            f"  name: {name}",
            f"  labels: {{strimzi.io/cluster: {CLUSTER}, app.kubernetes.io/part-of: osb}}",
            "spec:",
            f"  topicName: {name}",
            f"  partitions: {partitions}",
            f"  replicas: {REPLICAS}",
            "  config:",
            f'    min.insync.replicas: "{MIN_IN_SYNC}"',
            *(f'    {key}: "{value}"' for key, value in sorted(config.items())),
        ]
        docs.append("\n".join(lines) + "\n")
    return header + "---\n".join(docs)


def write() -> Path:
    TOPICS_YAML.write_text(kafka_topics(), encoding="utf-8")
    return TOPICS_YAML


def stale() -> bool:
    return not TOPICS_YAML.exists() or TOPICS_YAML.read_text(encoding="utf-8") != kafka_topics()
