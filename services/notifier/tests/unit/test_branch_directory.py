from __future__ import annotations

from datetime import UTC, datetime

import pytest
from notifier.adapters.branches import BranchDirectory
from notifier.domain.plan import BranchChannels
from osb_contracts.branches import BranchSettingsChanged

DEFAULTS = {
    "HH-01": BranchChannels(
        name="Hansa (env)",
        sender="env@hansa.example",
        reply_to="werkstatt@hansa.example",
        sms_enabled=False,
        timezone="Europe/Berlin",
        templates={"confirmation_sms": "env text", "confirmation_email_subject": "Termin"},
    ),
    "W-01": BranchChannels(name="Donau", sender="service@donau.example", timezone="Europe/Vienna"),
}


def published(branch_id: str, **kw: object) -> BranchSettingsChanged:
    values: dict[str, object] = {
        "branch_id": branch_id,
        "settings_version": 2,
        "name": "Autohaus Hansa Hamburg",
        "sms_enabled": True,
        "changed_at": datetime(2026, 11, 27, tzinfo=UTC),
    }
    return BranchSettingsChanged.model_validate(values | kw)


def test_lead_managers_settings_decide_and_the_defaults_fill_in() -> None:
    directory = BranchDirectory(
        DEFAULTS,
        {
            "HH-01": published(
                "HH-01",
                sender_email="osb@hansa.example",
                templates={"confirmation_sms": "OSB text {{ date }}"},
            )
        },
    )
    hh = directory["HH-01"]
    assert (hh.name, hh.sender, hh.sms_enabled) == (
        "Autohaus Hansa Hamburg",
        "osb@hansa.example",
        True,
    )
    assert hh.template("confirmation_sms") == "OSB text {{ date }}"
    # What the OSB settings do not hold comes from NOTIFIER_BRANCHES.
    assert (hh.reply_to, hh.timezone) == ("werkstatt@hansa.example", "Europe/Berlin")
    assert hh.template("confirmation_email_subject") == "Termin"


def test_a_branch_without_a_sender_in_its_settings_keeps_the_default_sender() -> None:
    directory = BranchDirectory(DEFAULTS, {"W-01": published("W-01", name="Autohaus Donau Wien")})
    assert directory["W-01"].sender == "service@donau.example"
    assert directory["W-01"].timezone == "Europe/Vienna"


def test_branches_known_to_only_one_side() -> None:
    directory = BranchDirectory(DEFAULTS, {"B-01": published("B-01", name="Autohaus Berlin")})
    assert directory["W-01"] == DEFAULTS["W-01"]
    assert directory["B-01"].name == "Autohaus Berlin"
    assert directory["B-01"].sender == ""  # no sender anywhere: the notifier refuses e-mail
    assert set(directory) == {"HH-01", "W-01", "B-01"}
    assert directory.get("X-99") is None
    with pytest.raises(KeyError):
        directory["X-99"]
