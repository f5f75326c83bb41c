"""A branch's text templates (Textbausteine), rendered within bounds.

Templates are edited by a branch's administrator and rendered for every customer message,
so what one may do is bounded before it runs: Jinja2's sandbox, placeholders, conditions,
``~`` and a few text filters, but no loops, calls, macros, imports or assignments (nothing a
customer text needs, and each a way to spend unbounded time or memory); ``*`` and ``**`` are
checked before they compute, and the output stops at ``max_length`` characters. Within those
bounds a render takes microseconds, so it runs where it is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_LENGTH = 4000  # a customer text (osb_contracts LongText)

_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If,
    nodes.CondExpr, nodes.And, nodes.Or, nodes.Not, nodes.Compare, nodes.Operand,
    nodes.Concat, nodes.Filter, nodes.Test, nodes.Keyword, nodes.Add, nodes.Sub, nodes.Mul,
    nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Neg, nodes.Pos, nodes.Tuple,
    nodes.List,
)  # fmt: skip
_FILTERS = frozenset(
    {"upper", "lower", "title", "capitalize", "trim", "default", "d", "truncate", "string"}
)
_TESTS = frozenset({"defined", "undefined", "none", "string", "number", "eq", "ne", "in"})


class TemplateRefusedError(ValueError):
    """The template may not be used, or not with these values; the reason says why."""


class _Bounded(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, max_length: int) -> None:
        super().__init__(autoescape=False, undefined=StrictUndefined)
        self.max_length = max_length

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and not (isinstance(right, int | float) and abs(right) <= 64):
            raise SecurityError("an exponent above 64")
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if (
                    isinstance(sized, str | list | tuple)
                    and isinstance(times, int)
                    and len(sized) * times > self.max_length
                ):
                    raise SecurityError(f"a text longer than {self.max_length} characters")
        return super().call_binop(context, operator, left, right)


_ENVIRONMENTS: dict[int, _Bounded] = {}


def _environment(max_length: int) -> _Bounded:
    if max_length not in _ENVIRONMENTS:
        _ENVIRONMENTS[max_length] = _Bounded(max_length)
    return _ENVIRONMENTS[max_length]


def check(template: str, *, max_length: int = MAX_LENGTH) -> None:
    """Refuse a template that does more than a customer text may (raises the reason)."""
    try:
        tree = _environment(max_length).parse(template)
    except TemplateError as exc:
        raise TemplateRefusedError(f"not a template: {exc}") from None
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _NODES):
            raise TemplateRefusedError(f"not allowed in a text: {type(node).__name__}")
        if isinstance(node, nodes.Filter) and node.name not in _FILTERS:
            raise TemplateRefusedError(f"not allowed in a text: the filter {node.name}")
        if isinstance(node, nodes.Test) and node.name not in _TESTS:
            raise TemplateRefusedError(f"not allowed in a text: the test {node.name}")


def render(template: str, values: Mapping[str, str], *, max_length: int = MAX_LENGTH) -> str:
    """The text, or TemplateRefusedError saying why there is none."""
    check(template, max_length=max_length)
    try:
        parts: list[str] = []
        length = 0
        for part in _environment(max_length).from_string(template).generate(dict(values)):
            length += len(part)
            if length > max_length:
                raise TemplateRefusedError(f"the text is longer than {max_length} characters")
            parts.append(part)
    except (TemplateError, SecurityError, ArithmeticError) as exc:
        raise TemplateRefusedError(f"the template cannot be rendered: {exc}") from None
    return "".join(parts)
