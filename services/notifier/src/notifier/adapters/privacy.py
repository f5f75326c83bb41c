"""What the notifier holds about a person (issue 19): every e-mail and SMS to them, with
its text and delivery, and a STOP they sent."""

from __future__ import annotations

from osb_platform.privacy import Part, Subject, rows
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SERVICE = "notifier"


async def export(engine: AsyncEngine, subject: Subject) -> list[Part]:
    params = subject.params()
    async with engine.connect() as conn:
        return [
            Part(
                source=f"{SERVICE}.notifications",
                about="E-Mails und SMS an den Kunden mit Text und Zustellung",
                records=await rows(
                    conn,
                    "SELECT * FROM notifications WHERE lead_id = ANY(:lead_ids) "
                    "OR lower(recipient) = ANY(:emails) OR recipient = ANY(:phones) "
                    "ORDER BY created_at",
                    params,
                ),
            ),
            Part(
                source=f"{SERVICE}.sms_opt_outs",
                about="Abmeldung von SMS (STOP)",
                records=await rows(
                    conn, "SELECT * FROM sms_opt_outs WHERE phone = ANY(:phones)", params
                ),
            ),
        ]


async def erase(engine: AsyncEngine, subject: Subject) -> dict[str, int]:
    """Each message's recipient, subject and text gone (its channel, status and times stay:
    the delivery figures); a STOP deleted (a new booking is a new consent)."""
    params = subject.params()
    async with engine.begin() as conn:
        # a message still to be sent is not sent to someone erased
        anonymised = await conn.execute(
            text(
                "UPDATE notifications SET recipient = '-', subject = NULL, text = '-', "
                "html = NULL, reply_to = NULL, last_error = NULL, "
                "status = CASE WHEN status = 'PENDING' THEN 'FAILED' ELSE status END "
                "WHERE lead_id = ANY(:lead_ids) OR lower(recipient) = ANY(:emails) "
                "OR recipient = ANY(:phones)"
            ),
            params,
        )
        deleted = await conn.execute(
            text("DELETE FROM sms_opt_outs WHERE phone = ANY(:phones)"), params
        )
    return {
        f"{SERVICE}.notifications": int(getattr(anonymised, "rowcount", 0) or 0),
        f"{SERVICE}.sms_opt_outs": int(getattr(deleted, "rowcount", 0) or 0),
    }
