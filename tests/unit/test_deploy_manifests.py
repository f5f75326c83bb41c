"""deploy/: the compose file and the Kubernetes manifests, checked as far as this machine can.

They cannot run here (no Docker engine, no cluster), so: parsed; the compose file against the
Compose Specification's JSON Schema; every Kubernetes object against its API schema
(kubernetes-validate, strict: no unknown fields); the KafkaTopic resources against the topic
registry; and every setting each service insists on provided, every variable named a setting
the service really reads, every secret taken from a secret.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from osb_contracts.topics import all_topic_specs
from osb_local_infra import manifests
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.33"
SERVICES = {
    "lead-intake": "lead_intake",
    "lead-manager": "lead_manager",
    "customer-matching": "customer_matching",
    "notifier": "notifier",
}
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "DATABASE_URL")


def settings_of(service: str) -> type[BaseSettings]:
    settings: type[BaseSettings] = importlib.import_module(f"{SERVICES[service]}.settings").Settings
    return settings


def variables(settings: type[BaseSettings]) -> dict[str, str]:
    """Environment variable -> field, for every field the settings read."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    found = {}
    for name, info in settings.model_fields.items():
        found[(prefix + name).upper()] = name
        if isinstance(info.validation_alias, AliasChoices):
            found |= {str(a).upper(): name for a in info.validation_alias.choices}
    return found


def required(settings: type[BaseSettings]) -> set[str]:
    return {name for name, info in settings.model_fields.items() if info.is_required()}


def check_settings(service: str, given: set[str]) -> None:
    """Every required setting given; every prefixed variable names a real setting."""
    settings = settings_of(service)
    known = variables(settings)
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    unknown = {v for v in given if v.startswith(prefix) and v not in known}
    assert not unknown, f"{service} reads no such setting: {sorted(unknown)}"
    provided = {known[v] for v in given if v in known}
    assert required(settings) <= provided, f"{service} misses {required(settings) - provided}"
    assert {"database_url", "kafka_bootstrap_servers"} <= provided, service


# -- compose ---------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    return data


def test_the_compose_file_follows_the_compose_specification() -> None:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


@pytest.mark.parametrize("service", list(SERVICES))
def test_compose_gives_each_service_its_settings_and_secrets_only_as_files(service: str) -> None:
    spec = compose()["services"][service]
    env = {k: str(v) for k, v in spec["environment"].items()}
    secrets = set(spec.get("secrets", []))
    declared = set(compose()["secrets"])
    assert secrets <= declared
    assert env["OSB_SECRETS_DIR"] == "/run/secrets"
    # A compose secret named like a variable (lower case) is read from its file.
    check_settings(service, set(env) | {s.upper() for s in secrets})
    for name in set(env) - {"OSB_SECRETS_DIR"}:
        assert not any(word in name for word in SECRET_WORDS), f"{name} inline in {service}"
    assert spec["image"] == "osb-pipeline:dev"
    assert spec["depends_on"]["init"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_service_is_started_the_same_way(service: str) -> None:
    """``python -m <package> serve`` everywhere: compose, Kubernetes, ``make run``."""
    package = SERVICES[service]
    command = ["python", "-m", package, "serve"]
    assert compose()["services"][service]["command"] == command
    [deployment] = [
        d for name, d in k8s_documents() if name == f"{service}.yaml" and d["kind"] == "Deployment"
    ]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == command
    cli = importlib.import_module(f"{package}.entrypoints.cli")
    assert "serve" in {c.name or c.callback.__name__ for c in cli.app.registered_commands}
    project = tomllib.loads((DEPLOY.parent / "services" / service / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {service: f"{package}.entrypoints.cli:main"}
    main = (DEPLOY.parent / "services" / service / "src" / package / "__main__.py").read_text()
    assert f"from {package}.entrypoints.cli import main" in main


def test_compose_uses_the_apache_kafka_image_and_postgres() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert services["postgres"]["image"].startswith("postgres:")


# -- Kubernetes ------------------------------------------------------------------------------


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def test_the_kustomization_names_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    files = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_every_kubernetes_object_is_valid_for_its_api() -> None:
    checked = 0
    for _, document in k8s_documents():
        if document["kind"] == "KafkaTopic":
            continue  # a Strimzi resource: checked against the registry below
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 14, "namespace, config map, and a deployment, service and PDB per service"


def test_the_kafka_topics_are_the_registry() -> None:
    assert not manifests.stale(), "deploy/k8s/topics.yaml is stale: run `make manifests`"
    topics = {
        d["spec"]["topicName"]: d["spec"]["partitions"]
        for _, d in k8s_documents()
        if d["kind"] == "KafkaTopic"
    }
    assert topics == {name: partitions for name, partitions, _ in all_topic_specs()}


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in k8s_documents() if d["kind"] == kind}


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_deployment_has_probes_resources_settings_and_secret_references(service: str) -> None:
    deployment = by_kind("Deployment")[service]
    config = by_kind("ConfigMap")["osb-config"]["data"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    check_settings(service, set(env) | set(config))
    for name, entry in env.items():
        if any(word in name for word in SECRET_WORDS):
            assert "secretKeyRef" in entry.get("valueFrom", {}), f"{name} must come from a Secret"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert set(container["resources"]) == {"requests", "limits"}
    port = container["ports"][0]["containerPort"]
    assert env[f"{SERVICES[service].upper()}_HTTP_HOST"]["value"] == "0.0.0.0"
    assert env[f"{SERVICES[service].upper()}_HTTP_PORT"]["value"] == str(port)

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service_object = by_kind("Service")[service]
    budget = by_kind("PodDisruptionBudget")[service]
    for selector in (service_object["spec"]["selector"], budget["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"]
