"""Branch templates: what a customer text may do, and where it stops."""

from __future__ import annotations

import pytest
from osb_platform.templates import TemplateRefusedError, check, render

VALUES = {"name": "Frau Müller & Söhne", "date": "03.12.2026", "branch": "Autohaus Hansa"}


def test_placeholders_conditions_and_text_filters_render_unescaped() -> None:
    template = (
        "Guten Tag {{ name }},{% if date %} am {{ date }}{% else %} bald{% endif %} "
        "bei {{ branch | upper }}{{ ' (' ~ missing | default('ohne') ~ ')' }}"
    )
    assert render(template, VALUES) == (
        "Guten Tag Frau Müller & Söhne, am 03.12.2026 bei AUTOHAUS HANSA (ohne)"
    )
    assert render("{{ '-' * 3 }}{{ 2 ** 3 }}", {}) == "---8"


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{% for i in range(10) %}x{% endfor %}", "For"),
        ("{{ range(10**8) }}", "Call"),
        ("{{ name.__class__ }}", "Getattr"),
        ("{% set x = 1 %}", "Assign"),
        ("{% macro m() %}{% endmacro %}", "Macro"),
        ("{% include 'x' %}", "Include"),
        ("{{ name | center(100000000) }}", "the filter center"),
        ("{{ name | replace('a', 'b') }}", "the filter replace"),
        ("{{ name is sameas name }}", "the test sameas"),
        ("{{ oops", "not a template"),
    ],
)
def test_what_a_customer_text_needs_not_is_refused_before_it_runs(
    template: str, reason: str
) -> None:
    with pytest.raises(TemplateRefusedError, match=reason):
        check(template)
    with pytest.raises(TemplateRefusedError, match=reason):
        render(template, VALUES)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'a' * 100000000 }}",
        "{{ 100000000 * 'a' }}",
        "{{ ['a'] * 100000000 }}",
        "{{ 2 ** 100000000 }}",
        "{{ (2 ** 64) ** (2 ** 64) }}",
    ],
)
def test_growth_is_refused_before_it_computes(template: str) -> None:
    # computed, each would take gigabytes or hours: the test would not finish
    with pytest.raises(TemplateRefusedError, match="cannot be rendered"):
        render(template, {})


def test_the_output_stops_at_its_length() -> None:
    template = "{{ 'x' * 3000 }}{{ 'y' * 3000 }}"
    with pytest.raises(TemplateRefusedError, match="longer than 4000 characters"):
        render(template, {})
    assert len(render("{{ 'x' * 4000 }}", {})) == 4000
    with pytest.raises(TemplateRefusedError, match="longer than 10 characters"):
        render("{{ name }}", {"name": "x" * 11}, max_length=10)


def test_a_missing_placeholder_or_a_division_by_zero_is_a_reason_not_a_crash() -> None:
    with pytest.raises(TemplateRefusedError, match="'missing' is undefined"):
        render("{{ missing }}", {})
    with pytest.raises(TemplateRefusedError, match="division by zero"):
        render("{{ 1 / 0 }}", {})
