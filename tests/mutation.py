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
import gc
import importlib.abc
import importlib.util
import inspect
import json
import os
import pkgutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FunctionType, ModuleType

import pytest

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
    "customer_matching.domain.records": "services/customer-matching/tests/unit",
    "customer_matching.domain.similarity": "services/customer-matching/tests/unit",
    "customer_matching.domain.scoring": "services/customer-matching/tests/unit",
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
    """Nodes not to mutate: docstrings, annotations, `__all__`, TYPE_CHECKING blocks, zip's
    ``strict=``."""
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
        elif isinstance(node, ast.keyword) and node.arg == "strict":
            all_of(node.value)  # zip's strict= asserts equal lengths; it computes nothing
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


def _codes(source: str, origin: str) -> dict[str, list[CodeType]]:
    """Every code object the source compiles to, by qualified name, in source order."""
    found: dict[str, list[CodeType]] = {}

    def walk(code: CodeType) -> None:
        found.setdefault(code.co_qualname, []).append(code)
        for const in code.co_consts:
            if isinstance(const, CodeType):
                walk(const)

    walk(compile(source, origin, "exec"))
    return found


def _shape(code: CodeType) -> tuple[object, ...]:
    """What a code object does, without where it stands (a deleted line moves the rest)."""
    consts = tuple(
        c.co_qualname if isinstance(c, CodeType) else (type(c).__name__, repr(c))
        for c in code.co_consts
    )
    return (code.co_code, code.co_flags, code.co_names, code.co_varnames, code.co_freevars, consts)


def _swap_plan(
    original: dict[str, list[CodeType]], mutated: dict[str, list[CodeType]]
) -> dict[str, list[CodeType]] | None:
    """The functions a mutant changes with their new code, or None when it changes more than
    function bodies (a module or class body, a function added or gone): then only importing
    the mutated module shows its effect."""
    if {q: len(c) for q, c in original.items()} != {q: len(c) for q, c in mutated.items()}:
        return None
    changed = {
        q
        for q, codes in original.items()
        if any(_shape(a) != _shape(b) for a, b in zip(codes, mutated[q], strict=True))
    }
    for name in list(changed):
        outer = name
        while ".<locals>." in outer:  # a nested function is made anew by its outer one
            outer = outer.rsplit(".<locals>.", 1)[0]
            changed.add(outer)
    if any(c.co_flags & _FUNCTION != _FUNCTION for q in changed for c in original[q]):
        return None
    return {q: mutated[q] for q in changed}


_FUNCTION = inspect.CO_OPTIMIZED | inspect.CO_NEWLOCALS


def _swap(origin: str, plan: dict[str, list[CodeType]]) -> bool:
    """Gives the module's live functions their mutated code; False when the plan and the
    live functions do not match one to one."""
    by_code: dict[CodeType, list[FunctionType]] = {}
    for obj in gc.get_objects():
        if isinstance(obj, FunctionType) and obj.__code__.co_filename == origin:
            by_code.setdefault(obj.__code__, []).append(obj)
    live: dict[str, list[CodeType]] = {}
    for code in sorted(by_code, key=lambda c: c.co_firstlineno):
        live.setdefault(code.co_qualname, []).append(code)
    for qualname, codes in plan.items():
        found = live.get(qualname, [])
        if not found and ".<locals>." in qualname:
            continue  # not made yet: its outer function makes it from the new code
        if len(found) != len(codes):
            return False
        for old, new in zip(found, codes, strict=True):
            for function in by_code[old]:
                try:
                    function.__code__ = new
                except ValueError:  # another set of closure cells
                    return False
    return True


def _pytest_args(tests: str) -> list[str]:
    args = [tests, "-q", "-p", "no:cacheprovider", "-m", "not integration and not e2e"]
    # the runner kills a trial at its deadline; pytest-timeout's alarm would interfere
    args += ["-o", "addopts=--import-mode=importlib", "-o", "timeout=0"]
    # the preloaded libraries that are pytest plugins too (anyio) cannot be rewritten
    return [*args, "-W", "ignore::pytest.PytestAssertRewriteWarning"]


_UNSWAPPABLE = 5  # a trial's exit code: the mutant needs the module imported anew


def _quiet() -> None:
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)


def _fork_each(
    indices: Sequence[int], trial: Callable[[int], int], *, jobs: int, timeout: float
) -> dict[int, int]:
    """Runs ``trial(index)`` in a forked process per index, ``jobs`` at a time; the exit code
    per index, -9 for one killed at its deadline."""
    pending = list(indices)
    running: dict[int, tuple[int, float]] = {}  # pid -> (index, deadline)
    codes: dict[int, int] = {}
    while pending or running:
        while pending and len(running) < jobs:
            index = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                code = 3
                try:
                    _quiet()
                    code = trial(index)
                finally:
                    os._exit(code)
            running[pid] = (index, time.monotonic() + timeout)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid:
            codes[running.pop(pid)[0]] = os.waitstatus_to_exitcode(status)
            continue
        now = time.monotonic()
        for pid, (_, deadline) in running.items():
            if now > deadline:  # a mutant that hangs is caught; its exit code says so
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    return codes


class _Collected:
    """A pytest plugin: the unit tests are collected once, then each mutant runs them in a fork
    with the mutated functions' code swapped in (like mutmut's trampolines, without touching
    the source), stopping at the first failure."""

    def __init__(
        self, origin: str, plans: dict[int, dict[str, list[CodeType]]], jobs: int, timeout: float
    ) -> None:
        self.origin, self.plans, self.jobs, self.timeout = origin, plans, jobs, timeout
        self.codes: dict[int, int] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed:  # collection errors: every trial would fail
            return True
        self.codes = _fork_each(
            list(self.plans),
            lambda index: self._trial(session, index),
            jobs=self.jobs,
            timeout=self.timeout,
        )
        return True

    def _trial(self, session: pytest.Session, index: int) -> int:
        if not _swap(self.origin, self.plans[index]):
            return _UNSWAPPABLE
        items = session.items
        for i, item in enumerate(items):
            following = items[i + 1] if i + 1 < len(items) else None
            item.ihook.pytest_runtest_protocol(item=item, nextitem=following)
            if session.testsfailed:
                return 1
        return 0


def _collected_trials(
    origin: str, tests: str, plans: dict[int, dict[str, list[CodeType]]], jobs: int, timeout: float
) -> dict[int, int]:
    """The exit code per planned mutant, from one collecting process; -1 (no mutant) included."""
    plugin = _Collected(origin, {-1: {}, **plans}, jobs, timeout)
    with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                _quiet()
                pytest.main(_pytest_args(tests), plugins=[plugin])
                Path(out.name).write_text(json.dumps(plugin.codes))
                code = 0
            finally:
                os._exit(code)
        os.waitpid(pid, 0)
        return {int(k): v for k, v in json.loads(out.read() or "{}").items()}


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
    return os.path.realpath(spec.origin)


def _preload() -> None:
    """Import once, before forking, the libraries every trial needs; a trial imports only
    the service's own modules again (they register metrics, so they are not preloaded)."""
    # osb_testing is left to pytest, which rewrites its asserts as a plugin
    for library in ("asyncpg", "aiokafka", "fastapi", "sqlalchemy", "jinja2"):
        importlib.import_module(library)
    for name in ("osb_contracts", "osb_platform", "osb_local_infra"):
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            if not info.name.endswith("__main__"):
                with contextlib.suppress(Exception):
                    importlib.import_module(info.name)


def _imported_trial(module: str, origin: str, mutated: str, tests: str) -> int:
    """In a forked process: the service's modules forgotten, the mutant imported, the tests
    run to the first failure."""
    package = module.split(".", maxsplit=1)[0]
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]
    sys.meta_path.insert(0, _Finder(module, origin, mutated))
    return int(pytest.main([*_pytest_args(tests), "-x"]))


def trials(
    module: str, indices: Sequence[int], tests: str, *, jobs: int, timeout: float
) -> dict[int, bool]:
    """Per mutant index, whether the tests catch it (fail, error or hang). Mutants that change
    only function bodies run in forks of one collected session; the others (and any whose
    functions cannot be swapped) import the mutated module in a fresh session each."""
    origin = _origin(module)
    source = Path(origin).read_text()
    original = _codes(ast.unparse(ast.parse(source)), origin)
    plans: dict[int, dict[str, list[CodeType]]] = {}
    imported: list[int] = []
    for index in indices:
        plan = _swap_plan(original, _codes(mutate(source, index), origin))
        if plan is None:
            imported.append(index)
        else:
            plans[index] = plan
    codes = _collected_trials(origin, tests, plans, jobs, timeout)
    if codes.get(-1) != 0:
        raise SystemExit(f"{module}: the unit tests fail without a mutant; fix them first")
    imported += [i for i in plans if codes.get(i) == _UNSWAPPABLE]
    _preload()
    codes |= _fork_each(
        imported,
        lambda index: _imported_trial(module, origin, mutate(source, index), tests),
        jobs=jobs,
        timeout=timeout,
    )
    return {index: codes[index] != 0 for index in indices}


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
