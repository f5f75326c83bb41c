"""How the page writes values the advisor compares: dates in German form."""

from __future__ import annotations

from lead_manager.entrypoints.http.schemas import _SAMPLE
from lead_manager.entrypoints.labels import PLACEHOLDER_LABELS
from lead_manager.entrypoints.web import field_value


def test_compared_dates_are_german_and_other_values_as_written() -> None:
    assert field_value("2001-11-07", "birth_date") == "07.11.2001"
    assert field_value(None, "birth_date") == "–"
    assert field_value("", "email") == "–"
    assert field_value("Hauptstr. 5, 20095 Hamburg", "address") == "Hauptstr. 5, 20095 Hamburg"
    assert field_value("1971", "birth_date") == "1971"  # not a whole date: as written


def test_every_placeholder_a_template_may_use_is_explained() -> None:
    assert set(PLACEHOLDER_LABELS) == set(_SAMPLE)
