"""Mutation testing of the services' domain modules (`make mutation`).

Each mutant changes one place in one module: a comparison flipped, ``and``/``or`` swapped, a
``not`` dropped, ``True``/``False`` swapped, a number changed, ``+``/``-`` swapped, a
statement replaced by ``pass`` (a deleted rule), a returned value replaced by ``None``.
String constants are left alone (a changed message text says little about the tests). The
service's unit tests run against each mutant in a forked process that loads the mutated
source in place of the module (the file on disk is never touched); a mutant is killed when a
test fails or hangs. Prints the killed share per module and writes ``.bench/mutation.json``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.abc
import importlib.util
import json
import os
import pkgutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]

# module -> the unit tests that must catch its mutants
MODULES: dict[str, str] = {
    "lead_intake.domain.validation": "services/lead-intake/tests/unit",
    "lead_intake.domain.vin": "services/lead-intake/tests/unit",
    "lead_manager.domain.model": "services/lead-manager/tests/unit",
    "lead_manager.domain.branch": "services/lead-manager/tests/unit",
    "lead_manager.domain.identification": "services/lead-manager/tests/unit",
    "lead_manager.domain.permissions": "services/lead-manager/tests/unit",
    "notifier.domain.plan": "services/notifier/tests/unit",
    "notifier.domain.notification": "services/notifier/tests/unit",
    "notifier.domain.texts": "services/notifier/tests/unit",
    "customer_matching.domain.normalise": "services/customer-matching/tests/unit",
    "customer_matching.domain.fellegi_sunter": "services/customer-matching/tests/unit",
    "customer_matching.domain.index": "services/customer-matching/tests/unit",
}

_FLIP_CMP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_FLIP_BIN: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.Mult,
}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int
    line: int
    kind: str


def _skipped_ids(tree: ast.AST) -> set[int]:
    """Nodes not to mutate: docstrings, annotations, `__all__`, TYPE_CHECKING blocks."""
    skip: set[int] = set()

    def all_of(node: ast.AST | None) -> None:
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                all_of(first)
        if isinstance(node, ast.arg):
            all_of(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            all_of(node.returns)
            for d in node.decorator_list:
                all_of(d)
        elif isinstance(node, ast.AnnAssign):
            all_of(node.annotation)
        elif (
            isinstance(node, ast.Import | ast.ImportFrom)
            or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            )
            or (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
        ):
            all_of(node)
        elif isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                all_of(d)
    return skip


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every mutable place in a fixed order, with the kind of mutation."""
    skip = _skipped_ids(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _FLIP_CMP:
                    yield node, f"compare:{i}"
        elif isinstance(node, ast.BoolOp):
            yield node, "boolop"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "not"
        elif isinstance(node, ast.BinOp) and type(node.op) in _FLIP_BIN:
            yield node, "binop"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield node, "bool"
        elif isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            yield node, "number"
        elif isinstance(node, ast.Return) and not _returns_none(node):
            yield node, "return"
        if isinstance(node, ast.Expr | ast.Assign | ast.AugAssign | ast.Raise | ast.If) and not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            yield node, "delete"


def _returns_none(node: ast.Return) -> bool:
    return node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None)


def mutants(module: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    return [
        Mutant(module, n, getattr(node, "lineno", 0), kind)
        for n, (node, kind) in enumerate(_sites(tree))
    ]


class _Deleted(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                kept = [v for v in value if v is not self.target]
                if len(kept) != len(value):
                    setattr(node, field, kept or [ast.Pass()])
        return super().generic_visit(node)


def mutate(source: str, index: int) -> str:
    """The source with mutant ``index`` applied."""
    tree = ast.parse(source)
    node, kind = list(_sites(tree))[index]
    if kind.startswith("compare:"):
        assert isinstance(node, ast.Compare)
        i = int(kind.split(":")[1])
        node.ops[i] = _FLIP_CMP[type(node.ops[i])]()
    elif kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        assert isinstance(node, ast.UnaryOp)
        node.op = ast.UAdd()  # +x of a bool is its int: the `not` is gone
        node.operand = ast.Call(ast.Name("bool", ast.Load()), [node.operand], [])
    elif kind == "binop":
        assert isinstance(node, ast.BinOp)
        node.op = _FLIP_BIN[type(node.op)]()
    elif kind == "bool":
        assert isinstance(node, ast.Constant)
        node.value = not node.value
    elif kind == "number":
        assert isinstance(node, ast.Constant)
        assert isinstance(node.value, int | float)
        node.value = node.value + 1
    elif kind == "return":
        assert isinstance(node, ast.Return)
        node.value = ast.Constant(None)
    elif kind == "delete":
        tree = _Deleted(node).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree))


def describe(source: str, index: int) -> str:
    """One line: where and what (the mutated line beside the original)."""
    tree = ast.parse(source)
    node, kind = list(_sites(tree))[index]
    original = ast.unparse(node).splitlines()[0][:100]
    return f"line {getattr(node, 'lineno', 0)} {kind}: {original}"


class _Loader(importlib.abc.SourceLoader):
    def __init__(self, path: str, source: str) -> None:
        self.path, self.source = path, source

    def get_filename(self, fullname: str) -> str:
        return self.path

    def get_data(self, path: str) -> bytes:
        return self.source.encode()


class _Finder(importlib.abc.MetaPathFinder):
    """Serves the mutated source for one module name."""

    def __init__(self, module: str, path: str, source: str) -> None:
        self.module, self.path, self.source = module, path, source

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.module:
            return None
        return importlib.util.spec_from_loader(
            fullname, _Loader(self.path, self.source), origin=self.path
        )


def _origin(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise SystemExit(f"no module {module}")
    return spec.origin


def _preload() -> None:
    """Import once, before forking, the libraries every trial needs; a trial imports only
    the service's own modules again (they register metrics, so they are not preloaded)."""
    # osb_testing is left to pytest, which rewrites its asserts as a plugin
    for library in ("pytest", "asyncpg", "aiokafka", "fastapi", "sqlalchemy", "jinja2"):
        importlib.import_module(library)
    for name in ("osb_contracts", "osb_platform", "osb_local_infra"):
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            if not info.name.endswith("__main__"):
                with contextlib.suppress(Exception):
                    importlib.import_module(info.name)


def _child(module: str, origin: str, mutated: str, tests: str, timeout: float) -> NoReturn:
    """In a forked process: the service's modules forgotten, the mutant served, the tests run."""
    code = 3
    try:
        quiet = os.open(os.devnull, os.O_WRONLY)
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        signal.alarm(max(1, int(timeout)))  # a mutant that hangs is killed by the alarm
        package = module.split(".", maxsplit=1)[0]
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]
        sys.meta_path.insert(0, _Finder(module, origin, mutated))
        import pytest

        args = [tests, "-x", "-q", "-p", "no:cacheprovider", "-m", "not integration and not e2e"]
        args += ["-o", "addopts=--import-mode=importlib"]
        # the preloaded libraries that are pytest plugins too (anyio) cannot be rewritten
        args += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
        code = int(pytest.main(args))
    finally:
        os._exit(code)


def trials(
    module: str, indices: Sequence[int], tests: str, *, jobs: int, timeout: float
) -> dict[int, bool]:
    """Per mutant index (-1: none), whether the tests catch it (fail, error or hang)."""
    origin = _origin(module)
    source = Path(origin).read_text()
    _preload()
    pending = list(indices)
    running: dict[int, int] = {}  # pid -> mutant
    caught: dict[int, bool] = {}
    while pending or running:
        while pending and len(running) < jobs:
            index = pending.pop(0)
            mutated = source if index < 0 else mutate(source, index)
            pid = os.fork()
            if pid == 0:
                _child(module, origin, mutated, tests, timeout)
            running[pid] = index
        pid, status = os.wait()
        caught[running.pop(pid)] = os.waitstatus_to_exitcode(status) != 0
    return caught


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="dotted module names (default: every one)")
    parser.add_argument("--survivors", action="store_true", help="print every surviving mutant")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant")
    parser.add_argument("--aim", type=float, default=0.9, help="fail below this killed share")
    args = parser.parse_args(argv)

    modules = args.modules or list(MODULES)
    results: dict[str, dict[str, object]] = {}
    below: list[str] = []
    for module in modules:
        tests = MODULES[module]
        source = Path(_origin(module)).read_text()
        if trials(module, [-1], tests, jobs=1, timeout=args.timeout)[-1]:
            print(f"{module}: the unit tests fail without a mutant; fix them first")
            return 2
        found = mutants(module, source)
        started = time.monotonic()
        caught = trials(
            module, [m.index for m in found], tests, jobs=args.jobs, timeout=args.timeout
        )
        killed = [caught[m.index] for m in found]
        survivors = [describe(source, m.index) for m, k in zip(found, killed, strict=True) if not k]
        share = sum(killed) / len(found) if found else 1.0
        results[module] = {
            "mutants": len(found),
            "killed": sum(killed),
            "share": round(share, 4),
            "seconds": round(time.monotonic() - started, 1),
            "survivors": survivors,
        }
        print(f"{module:42} {sum(killed):4} of {len(found):4} killed  {share:6.1%}", flush=True)
        if args.survivors:
            for line in survivors:
                print(f"    survived {line}")
        if share < args.aim:
            below.append(module)
    out = ROOT / ".bench" / "mutation.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, **results}, indent=2, ensure_ascii=False) + "\n")
    if below:
        print(f"below {args.aim:.0%}: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
