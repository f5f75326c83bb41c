"""OSB settings of a branch (Betrieb) and what the advisor's screen derives from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from osb_contracts.matching import DuplicateCriterion
from osb_contracts.values import Channel

NO_ACTIVE_ACCEPTOR = "NO_ACTIVE_ACCEPTOR"  # a configuration problem, phrased by the page

DEFAULT_TEMPLATES = {
    "rejection_email": (
        "Guten Tag {{ name }},\n\n"
        "leider können wir Ihren Terminwunsch für den {{ date }} um {{ time }} Uhr nicht "
        "bestätigen. Bitte buchen Sie einen anderen Termin oder rufen Sie uns an.\n\n"
        "Mit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
    "rejection_sms": (
        "{{ branch }}: Ihr Terminwunsch am {{ date }} um {{ time }} Uhr ist leider nicht "
        "möglich. Bitte buchen Sie einen anderen Termin."
    ),
    "confirmation_email": (
        "Guten Tag {{ name }},\n\nIhr Werkstatttermin am {{ date }} um {{ time }} Uhr für "
        "{{ vehicle }} ist bestätigt.\n\nMit freundlichen Grüßen\nIhr Serviceteam {{ branch }}"
    ),
    "confirmation_sms": (
        "{{ branch }}: Ihr Werkstatttermin am {{ date }} um {{ time }} Uhr ist bestätigt."
    ),
}
REJECTION_SUBJECT = "Ihr Terminwunsch bei {branch}"


@dataclass(frozen=True)
class Acceptor:
    id: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class BranchSettings:
    branch_id: str
    name: str
    acceptors: tuple[Acceptor, ...] = ()
    sms_enabled: bool = False
    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    cash_sale_customer_number: str | None = None
    duplicate_criteria: tuple[DuplicateCriterion, ...] = (DuplicateCriterion.ADDRESS,)
    sender_email: str | None = None
    version: int = 1

    def configuration_problem(self) -> str | None:
        """The problem the lead manager shows on opening (a code), or None when all is set."""
        if not any(a.active for a in self.acceptors):
            return NO_ACTIVE_ACCEPTOR
        return None

    def rejection_channels(self) -> tuple[Channel, ...]:
        """With SMS licensed, a submenu offers both; without, e-mail only."""
        return (Channel.SMS, Channel.EMAIL) if self.sms_enabled else (Channel.EMAIL,)

    def is_active_acceptor(self, acceptor_id: str) -> bool:
        return any(a.id == acceptor_id and a.active for a in self.acceptors)


def open_counter_text(count: int) -> str:
    """The badge on the button that opens the lead manager: "9+" above nine."""
    return "9+" if count > 9 else str(count)
