"""Normalisation of German and Austrian customer data for matching.

Names and addresses are compared after: Unicode NFC, DIN 5007-2 folding (ä=ae, ö=oe, ü=ue,
ß=ss) and other accents dropped, lower case, titles and salutations removed, street forms
unified (Straße, Strasse, Str. -> str; Gasse -> g; Platz, Pl. -> pl), punctuation to spaces.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import cologne_phonetics
import phonenumbers

_DIN_5007_2 = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
# Salutations, academic titles and name particles: dropped when comparing names.
_IGNORED_WORDS = frozenset(
    {
        "herr", "herrn", "frau", "hr", "fr", "dr", "prof", "professor", "dipl", "ing", "diplom",
        "mag", "magister", "bsc", "msc", "mba", "med", "rer", "nat", "phil", "jur", "dent",
        "dkfm", "di", "ba", "ma", "von", "und", "zu", "van", "de", "firma", "fa",
    }
)  # fmt: skip
# Street suffixes, written out, abbreviated or as a word of their own, become one form.
_STREET_FORMS = [
    (re.compile(r"\s*(strasse|str)\b"), "str"),
    (re.compile(r"\s*(gasse|g)\b"), "g"),
    (re.compile(r"\s*(platz|pl)\b"), "pl"),
]
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_GMAIL = {"googlemail.com": "gmail.com"}


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """NFC, DIN 5007-2 umlauts, other accents dropped, lower case, words separated by one space."""
    text = unicodedata.normalize("NFC", text).lower().translate(_DIN_5007_2)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", text).split())


def name_words(*parts: str | None) -> tuple[str, ...]:
    """The words of a name without titles and salutations, folded."""
    words = fold(" ".join(p for p in parts if p)).split()
    return tuple(w for w in words if w not in _IGNORED_WORDS)


def street(value: str | None) -> str:
    text = fold(value or "")
    for pattern, replacement in _STREET_FORMS:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def email(value: str | None) -> str | None:
    if not value:
        return None
    local, _, domain = value.strip().lower().rpartition("@")
    if not local:
        return None
    return f"{local}@{_GMAIL.get(domain, domain)}"


_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def phone(value: str | None, country: str = "DE") -> str | None:
    if not value:
        return None
    if _E164.match(value):
        return value  # what the contracts carry: parsing it again would change nothing
    try:
        number = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=65536)
def koelner(word: str) -> str:
    """Kölner Phonetik of a (folded) word; '' for none."""
    codes = cologne_phonetics.encode(word)
    return "".join(code for _, code in codes)


def postcode(value: str | None) -> str | None:
    text = "".join((value or "").split()).upper()
    return text or None
