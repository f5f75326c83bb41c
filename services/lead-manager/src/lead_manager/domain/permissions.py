"""Who may do what, per branch (DOMAIN.md, "Permissions")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Permission(StrEnum):
    LEAD_MANAGER = "LEAD_MANAGER"  # Servicetermin Leadmanager
    OSB_ADMIN = "OSB_ADMIN"  # Administration Online Service Booking
    EDIT_CANCELLED = "EDIT_CANCELLED"  # Stornierte Terminleads bearbeiten
    PRIVACY_OFFICER = "PRIVACY_OFFICER"  # Datenschutz: Auskunft und Löschung


@dataclass(frozen=True)
class Actor:
    """A signed-in user (or a system, for events) and their permissions per branch."""

    id: str
    name: str
    branches: Mapping[str, frozenset[Permission]] = field(default_factory=dict)

    def may(self, permission: Permission, branch_id: str) -> bool:
        return permission in self.branches.get(branch_id, frozenset())

    def branches_with(self, permission: Permission) -> list[str]:
        return sorted(b for b, perms in self.branches.items() if permission in perms)


SYSTEM_PORTAL = Actor("portal", "Online-Terminbuchung")
SYSTEM_DMS = Actor("dms", "DMS")
SYSTEM_NOTIFIER = Actor("notifier", "Benachrichtigung")
SYSTEM_DEADLINE = Actor("deadline", "Fristüberwachung")
SYSTEM_APPOINTMENTS = Actor("appointments", "Terminüberwachung")
SYSTEM_OFFERS = Actor("offers", "Terminvorschlag")  # an offer's deadline passed
