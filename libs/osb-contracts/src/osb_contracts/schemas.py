"""JSON Schemas of every contract, checked in under ``libs/osb-contracts/schemas``.

A file is named ``<type>.v<N>.json``. Within a version only additive, optional fields are
allowed; anything else (a field removed, its type changed, a new required field) needs a
new version. ``osb-schemas`` rewrites the files and refuses a breaking change in place;
the contract tests fail while the files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from osb_contracts._base import Message
from osb_contracts.topics import all_message_types

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def schema_file(model: type[Message]) -> Path:
    return SCHEMA_DIR / f"{model.cloudevents_type()}.json"


def generate(model: type[Message]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema["$id"] = f"urn:osb:schema:{model.cloudevents_type()}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """What makes ``new`` unable to read every message valid under ``old``, or vice versa."""
    problems: list[str] = []
    old_props: dict[str, Any] = old.get("properties", {})
    new_props: dict[str, Any] = new.get("properties", {})
    for name in old_props:
        if name not in new_props:
            problems.append(f"{path}{name}: removed")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{path}{name}: newly required")
    for name, old_prop in old_props.items():
        if name in new_props:
            problems += _changed(old_prop, new_props[name], f"{path}{name}")
    for name, old_def in old.get("$defs", {}).items():
        new_def = new.get("$defs", {}).get(name)
        if new_def is None:
            problems.append(f"$defs.{name}: removed")
        else:
            problems += breaking_changes(old_def, new_def, f"{name}.")
    return problems


_SHAPE = ("type", "$ref", "anyOf", "enum", "format", "pattern", "maxLength", "minLength", "items")


def _shape(schema: Any) -> Any:
    """What a reader depends on, at every level of ``anyOf`` and ``items`` alike (numeric
    bounds are not compared: they only keep values every store can hold)."""
    if isinstance(schema, list):
        return [_shape(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        k: _shape(schema[k]) if k in ("anyOf", "items") else schema[k]
        for k in _SHAPE
        if k in schema
    }


def _changed(old: dict[str, Any], new: dict[str, Any], where: str) -> list[str]:
    stripped_old, stripped_new = _shape(old), _shape(new)
    if stripped_old == stripped_new:
        return []
    if "enum" in old and "enum" in new and set(old["enum"]) <= set(new["enum"]):
        return []  # a new enum value is additive
    return [f"{where}: type or constraints changed"]


def check() -> list[str]:
    """Problems with the checked-in schemas; empty when they match the code."""
    problems: list[str] = []
    expected = {schema_file(m).name for m in all_message_types()}
    for model in all_message_types():
        path = schema_file(model)
        new = generate(model)
        if not path.exists():
            problems.append(f"{path.name}: missing (run `make schemas`)")
            continue
        old = json.loads(path.read_text(encoding="utf-8"))
        if old == new:
            continue
        breaking = breaking_changes(old, new)
        if breaking:
            problems.append(
                f"{path.name}: breaking change without a version bump: {'; '.join(breaking)}"
            )
        else:
            problems.append(f"{path.name}: additive change not checked in (run `make schemas`)")
    for path in SCHEMA_DIR.glob("*.json"):
        if path.name not in expected:
            problems.append(f"{path.name}: no contract has this type and version any more")
    return problems


def write() -> list[str]:
    """Write every schema; refuse to overwrite a version with a breaking change."""
    SCHEMA_DIR.mkdir(parents=True, exist_ok=True)
    refused: list[str] = []
    for model in all_message_types():
        path = schema_file(model)
        new = generate(model)
        if path.exists():
            breaking = breaking_changes(json.loads(path.read_text(encoding="utf-8")), new)
            if breaking:
                refused.append(
                    f"{path.name}: {'; '.join(breaking)} -> bump {model.__name__}.version"
                )
                continue
        path.write_text(render(new), encoding="utf-8")
    return refused


def main() -> None:
    problems = check() if "--check" in sys.argv[1:] else write()
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)
