"""deploy/grafana/osb-leads.json asks Prometheus only for metrics the services export, by
labels they have: a renamed metric or label would leave a panel empty without a word."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "osb-leads.json"
# every module that defines a metric the dashboard may use
MODULES = (
    "osb_platform.observability",
    "lead_manager.service.commands",
    "lead_manager.service.deadlines",
    "lead_manager.service.events",
    "lead_manager.adapters.insight",
    "notifier.service.dispatch",
)
# what Prometheus adds to every series (the scrape target) and to a histogram's buckets
TARGET_LABELS = {"job", "instance", "le"}


def exported() -> dict[str, set[str]]:
    """Every exported series name with the labels it carries."""
    for module in MODULES:
        importlib.import_module(module)
    series: dict[str, set[str]] = {}
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    for collector, names in REGISTRY._collector_to_names.items():  # labels of unused series
        labels = set(getattr(collector, "_labelnames", ()))
        for name in names:
            series.setdefault(name, set()).update(labels)
    return series


def test_every_query_names_an_exported_metric_and_its_labels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    series = exported()
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    assert len(queries) >= 10
    for query in queries:
        names = re.findall(r"\bosb_[a-z_]+", query)
        assert names, query
        for name in names:
            assert name in series, f"{name} is not exported ({query})"
            grouped = re.findall(r"by \(([^)]*)\)", query)
            selected = re.findall(r"\b([a-z_]+)=~?\"", query)
            label_values = re.findall(r"label_values\([a-z_]+, ([a-z_]+)\)", query)
            used = {label.strip() for g in grouped for label in g.split(",")}
            used |= set(selected) | set(label_values)
            unknown = used - series[name] - TARGET_LABELS
            assert not unknown, f"{query}: labels {unknown}"
