"""What the notifier's use cases need from the outside."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...
