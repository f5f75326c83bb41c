"""How a person appears in a record's text (osb_platform.privacy.Subject)."""

from __future__ import annotations

import uuid

from osb_platform.privacy import Subject


def test_a_person_is_looked_for_each_way_their_values_are_written() -> None:
    lead = uuid.UUID("575553c3-762f-5222-a721-f2aca64f402e")
    subject = Subject(
        emails=["Kunde@Example.de"],
        phones=["+4915112345678"],
        customer_numbers=["K-10023", "7"],
        vins=["WVWZZZ1JZXW000001"],
        lead_ids=[lead],
    )
    assert subject.spellings() == sorted(
        [
            "kunde@example.de",
            "+4915112345678",
            "4915112345678",
            "015112345678",
            "k-10023",  # "7" is left out: it would find everyone
            "wvwzzz1jzxw000001",
            str(lead),
        ]
    )
    assert Subject().spellings() == []
