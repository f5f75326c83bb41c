"""The duplicate search's modules import one way only: each may use those before it."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "customer_matching" / "domain"
ORDER = ["normalise", "records", "similarity", "fellegi_sunter", "scoring", "index"]


def _imports(module: str) -> set[str]:
    tree = ast.parse((DOMAIN / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "customer_matching.domain":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("customer_matching.domain."):
                found.add(node.module.rsplit(".", 1)[1])
    return found


def test_every_domain_module_is_in_the_order() -> None:
    assert {p.stem for p in DOMAIN.glob("*.py")} - {"__init__"} == set(ORDER)


def test_each_module_imports_only_those_before_it() -> None:
    for position, module in enumerate(ORDER):
        assert _imports(module) <= set(ORDER[:position]), module
