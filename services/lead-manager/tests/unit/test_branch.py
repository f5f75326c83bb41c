"""A branch's OSB settings and what the advisor's screen derives from them."""

from __future__ import annotations

import pytest
from lead_manager.domain.branch import (
    DEFAULT_TEMPLATES,
    NO_ACTIVE_ACCEPTOR,
    Acceptor,
    BranchSettings,
    open_counter_text,
)
from lead_manager.entrypoints.labels import CONFIGURATION_TEXTS
from osb_contracts.matching import DuplicateCriterion
from osb_contracts.values import Channel


def test_a_branch_without_an_active_acceptor_says_so_on_opening() -> None:
    assert BranchSettings("HH-01", "Hamburg").configuration_problem() == NO_ACTIVE_ACCEPTOR
    only_inactive = BranchSettings("HH-01", "Hamburg", acceptors=(Acceptor("a", "A", False),))
    assert only_inactive.configuration_problem() == NO_ACTIVE_ACCEPTOR
    assert "kein aktiver Annehmer" in CONFIGURATION_TEXTS[NO_ACTIVE_ACCEPTOR]
    one_active = BranchSettings(
        "HH-01", "Hamburg", acceptors=(Acceptor("a", "A", False), Acceptor("b", "B"))
    )
    assert one_active.configuration_problem() is None


def test_an_acceptor_is_active_by_default_and_only_its_own_id_counts() -> None:
    branch = BranchSettings(
        "HH-01", "Hamburg", acceptors=(Acceptor("a", "A"), Acceptor("b", "B", active=False))
    )
    assert branch.is_active_acceptor("a")
    assert not branch.is_active_acceptor("b")
    assert not branch.is_active_acceptor("c")


def test_sms_is_offered_only_with_its_licence() -> None:
    assert BranchSettings("HH-01", "Hamburg").rejection_channels() == (Channel.EMAIL,)
    licensed = BranchSettings("HH-01", "Hamburg", sms_enabled=True)
    assert licensed.rejection_channels() == (Channel.SMS, Channel.EMAIL)


def test_a_new_branch_starts_from_the_defaults() -> None:
    branch = BranchSettings("HH-01", "Hamburg")
    assert branch.version == 1
    assert branch.duplicate_criteria == (DuplicateCriterion.ADDRESS,)
    assert branch.templates == DEFAULT_TEMPLATES
    assert branch.templates is not DEFAULT_TEMPLATES  # a branch's edit stays its own
    assert set(DEFAULT_TEMPLATES) == {
        "rejection_email",
        "rejection_sms",
        "confirmation_email",
        "confirmation_sms",
        "reminder_email",
        "reminder_sms",
    }


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "0"), (1, "1"), (9, "9"), (10, "9+"), (250, "9+")]
)
def test_the_open_counter_shows_nine_plus_above_nine(count: int, shown: str) -> None:
    assert open_counter_text(count) == shown
