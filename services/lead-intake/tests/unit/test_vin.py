"""VIN rules per ISO 3779: the check digit computed from the standard's table by hand."""

from __future__ import annotations

import pytest
from lead_intake.domain.vin import VinCheck, check_digit, check_vin


# One letter at position 1 (weight 8), zeros elsewhere: the check digit is 8 * value mod 11.
@pytest.mark.parametrize(
    ("letter", "expected"),
    [
        ("A", "8"),  # A = 1
        ("H", "9"),  # H = 8: 64 mod 11
        ("J", "8"),  # J = 1
        ("N", "7"),  # N = 5: 40 mod 11
        ("P", "1"),  # P = 7: 56 mod 11
        ("R", "6"),  # R = 9: 72 mod 11
        ("S", "5"),  # S = 2: 16 mod 11
        ("Z", "6"),  # Z = 9: 72 mod 11
        ("9", "6"),  # digits are their own value
    ],
)
def test_the_check_digit_follows_the_transliteration_table(letter: str, expected: str) -> None:
    assert check_digit(letter + "0" * 16) == expected


def test_a_remainder_of_ten_is_written_x() -> None:
    # 1 at position 8 (weight 10) and 0 elsewhere: 10 mod 11
    assert check_digit("0000000100000000" + "0") == "X"
    assert check_digit("0" * 17) == "0"


def test_the_check_digit_is_read_at_position_nine() -> None:
    vin = "1" + "0" * 7 + "8" + "0" * 8  # 1 * 8 = 8: the check digit 8 stands at position 9
    assert check_vin(vin.lower()) == VinCheck(vin)
    wrong = vin[:8] + "7" + vin[9:]
    assert check_vin(wrong).error == (
        "check digit is 7, expected 8 (mandatory for North American VINs)"
    )
    european = "W" + vin[1:8] + "7" + vin[9:]  # W = 6: 48 mod 11 = 4, not 7
    assert check_vin(european) == VinCheck(european)  # position 9 is the maker's there


def test_refusals_say_what_is_wrong() -> None:
    assert check_vin("WVWZZZ1JZXW00000*").error == "a VIN has only letters and digits"
    assert check_vin("WVWZZZ1JZXW00000Q").error == "a VIN never contains I, O or Q"
    assert check_vin("WVWZZZ1JZXW0000001").error == "a VIN has 17 characters, this one 18"
    assert check_vin("WVW ZZZ-1JZ XW00000*").vin is None
