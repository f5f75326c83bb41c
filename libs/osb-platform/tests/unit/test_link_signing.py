"""The customers' links: what the notifier signs, lead-intake reads; nothing else passes."""

from __future__ import annotations

import uuid

import pytest
from osb_platform import customer_links
from osb_platform.customer_links import LinkPurpose, LinkRefusedError

SECRET = "a-secret-of-at-least-thirty-two-chars"


@pytest.mark.parametrize("purpose", list(LinkPurpose))
def test_a_link_names_its_appointment_and_purpose(purpose: LinkPurpose) -> None:
    appointment = uuid.uuid4()
    token = customer_links.sign(SECRET, appointment, purpose)
    link = customer_links.read(SECRET, token)
    assert (link.about, link.purpose) == (appointment, purpose)
    assert len(token) == 51  # short enough for an SMS
    url = customer_links.url("https://termine.example/", SECRET, appointment, purpose)
    assert url == f"https://termine.example/termin/{token}"


def test_a_changed_purpose_appointment_or_secret_is_refused() -> None:
    token = customer_links.sign(SECRET, uuid.uuid4(), LinkPurpose.CONFIRM)
    ident, signature = token.split(".")
    other = customer_links.sign(SECRET, uuid.uuid4(), LinkPurpose.CONFIRM).split(".")[0]
    for forged in (
        f"{ident[:-1]}a.{signature}",  # cancel instead of confirm
        f"{other}.{signature}",  # another appointment
        token[:-1],
        "",
        "x.y",
        f"{ident}",
    ):
        with pytest.raises(LinkRefusedError):
            customer_links.read(SECRET, forged)
    with pytest.raises(LinkRefusedError):
        customer_links.read("another-secret-of-thirty-two-chars!!", token)
