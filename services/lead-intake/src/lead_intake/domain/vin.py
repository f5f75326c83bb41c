"""Vehicle identification numbers per ISO 3779."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SYNTAX = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
# ISO 3779 / 49 CFR 565 transliteration and position weights for the check digit.
_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# World manufacturer identifiers 1-5 are North American, where the check digit is mandatory.
# Elsewhere position 9 is the maker's to use (most European makers do not put a check digit
# there): a mismatch says nothing about the VIN, so it is neither refused nor warned about.
_NORTH_AMERICA = frozenset("12345")


@dataclass(frozen=True)
class VinCheck:
    vin: str | None
    error: str | None = None


def check_digit(vin: str) -> str:
    total = sum(_VALUES[c] * w for c, w in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def check_vin(raw: str) -> VinCheck:
    vin = re.sub(r"[\s-]", "", raw).upper()
    if len(vin) != 17:
        return VinCheck(None, error=f"a VIN has 17 characters, this one {len(vin)}")
    if not _SYNTAX.match(vin):
        if any(c in "IOQ" for c in vin):
            return VinCheck(None, error="a VIN never contains I, O or Q")
        return VinCheck(None, error="a VIN has only letters and digits")
    if vin[0] in _NORTH_AMERICA and vin[8] != (expected := check_digit(vin)):
        return VinCheck(
            None,
            error=f"check digit is {vin[8]}, expected {expected} "
            "(mandatory for North American VINs)",
        )
    return VinCheck(vin)
