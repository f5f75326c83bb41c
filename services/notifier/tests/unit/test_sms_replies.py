"""A customer's answer to an SMS: STOP ends the SMS to the number, START allows them again."""

from __future__ import annotations

import pytest
from notifier.service.sms_replies import ReplyOutcome, SenderInvalidError, take_reply


class Replies:
    def __init__(self) -> None:
        self.stopped: dict[str, str] = {}

    async def opt_out(self, phone: str, keyword: str) -> None:
        self.stopped[phone] = keyword

    async def opt_in(self, phone: str) -> None:
        self.stopped.pop(phone, None)


@pytest.mark.parametrize("text", ["STOP", "stop", " Stopp! ", "ENDE bitte", "abmelden."])
async def test_stop_words_opt_the_number_out_as_its_recipients_are_stored(text: str) -> None:
    replies = Replies()
    outcome = await take_reply(replies, sender="0176 1234 5678", text=text)
    assert outcome is ReplyOutcome.OPTED_OUT
    assert list(replies.stopped) == ["+4917612345678"]


async def test_start_opts_in_again_and_other_texts_change_nothing() -> None:
    replies = Replies()
    await take_reply(replies, sender="+4917612345678", text="STOP")
    assert await take_reply(replies, sender="+4917612345678", text="Danke, bis morgen") is (
        ReplyOutcome.IGNORED
    )
    assert "+4917612345678" in replies.stopped
    assert await take_reply(replies, sender="+49 176 12345678", text="Start") is (
        ReplyOutcome.OPTED_IN
    )
    assert replies.stopped == {}
    assert await take_reply(replies, sender="+4917612345678", text="") is ReplyOutcome.IGNORED


async def test_a_sender_that_is_no_number_is_refused() -> None:
    with pytest.raises(SenderInvalidError):
        await take_reply(Replies(), sender="Autohaus", text="STOP")
