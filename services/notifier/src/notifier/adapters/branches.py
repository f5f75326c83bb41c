"""Each branch's channels: lead-manager's OSB settings over the notifier's own defaults."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from osb_contracts.branches import BranchSettingsChanged

from notifier.domain.plan import BranchChannels


class BranchDirectory(Mapping[str, BranchChannels]):
    """What lead-manager publishes (``osb.branch.settings.v1``: name, SMS licence, sender,
    templates) decides; ``NOTIFIER_BRANCHES`` fills in what the OSB settings do not hold
    (Reply-To, time zone, subject templates), a sender where none is set, and branches
    lead-manager has not published."""

    def __init__(
        self,
        defaults: Mapping[str, BranchChannels],
        published: Mapping[str, BranchSettingsChanged],
    ) -> None:
        self._defaults = defaults
        self._published = published

    def __getitem__(self, branch_id: str) -> BranchChannels:
        default = self._defaults.get(branch_id)
        settings = self._published.get(branch_id)
        if settings is None:
            if default is None:
                raise KeyError(branch_id)
            return default
        base = default or BranchChannels(name=settings.name, sender="")
        return BranchChannels(
            name=settings.name,
            sender=settings.sender_email or base.sender,
            reply_to=base.reply_to,
            sms_enabled=settings.sms_enabled,
            timezone=base.timezone,
            templates={**base.templates, **settings.templates},
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._defaults.keys() | self._published.keys())

    def __len__(self) -> int:
        return len(self._defaults.keys() | self._published.keys())
