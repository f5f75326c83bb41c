"""What a customer's answer to an SMS does: STOP ends the SMS to that number, START
allows them again; any other text is not ours to act on."""

from __future__ import annotations

from enum import StrEnum

import phonenumbers

from notifier.service.ports import SmsReplies

# the first word of the answer, case ignored (German and English, as the SMS says "STOP")
STOP_WORDS = frozenset({"STOP", "STOPP", "ENDE", "ABMELDEN", "UNSUBSCRIBE"})
START_WORDS = frozenset({"START", "ANMELDEN"})


class ReplyOutcome(StrEnum):
    OPTED_OUT = "OPTED_OUT"
    OPTED_IN = "OPTED_IN"
    IGNORED = "IGNORED"


class SenderInvalidError(ValueError):
    """The gateway's sender is not a phone number."""


def e164(number: str, region: str = "DE") -> str:
    """The number as recipients are stored (lead-intake stores E.164)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise SenderInvalidError(number) from None
    if not phonenumbers.is_possible_number(parsed):
        raise SenderInvalidError(number)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


async def take_reply(replies: SmsReplies, *, sender: str, text: str) -> ReplyOutcome:
    words = text.strip().upper().split(maxsplit=1)
    keyword = words[0].strip(".!") if words else ""
    if keyword in STOP_WORDS:
        await replies.opt_out(e164(sender), keyword)
        return ReplyOutcome.OPTED_OUT
    if keyword in START_WORDS:
        await replies.opt_in(e164(sender))
        return ReplyOutcome.OPTED_IN
    return ReplyOutcome.IGNORED
