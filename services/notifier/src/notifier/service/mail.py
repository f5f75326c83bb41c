"""The e-mail a draft becomes: what the customer's mail program shows."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from notifier.domain.notification import Draft


def build_message(draft: Draft, *, sender_name: str | None, now_utc: object) -> EmailMessage:
    """plain text and HTML alternatives, UTF-8, Message-ID stable across retries."""
    message = EmailMessage()
    message["Subject"] = draft.subject or ""
    sender = draft.sender or ""
    message["From"] = formataddr((sender_name, sender)) if sender_name else sender
    message["To"] = draft.recipient
    if draft.reply_to:
        message["Reply-To"] = draft.reply_to
    if draft.message_id:
        message["Message-ID"] = draft.message_id
    message["Date"] = format_datetime(now_utc)  # type: ignore[arg-type]
    message["X-OSB-Lead"] = str(draft.lead_id)
    message.set_content(draft.text, charset="utf-8")
    if draft.html:
        message.add_alternative(draft.html, subtype="html", charset="utf-8")
    return message
