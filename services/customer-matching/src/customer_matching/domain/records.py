"""A customer's comparable form, and the keys that block candidates for a search.

The first of the duplicate search's modules, each importing only those before it:
records -> similarity -> fellegi_sunter -> scoring -> index.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from datetime import date

from osb_contracts.values import Customer

from customer_matching.domain import normalise as n


@dataclass(frozen=True, slots=True)
class Normalised:
    """A customer's comparable form."""

    number: str | None
    surname: tuple[str, ...]
    given: tuple[str, ...]
    email: str | None
    phones: tuple[str, ...]  # a tuple: a frozenset of one costs 216 bytes a customer
    street: str
    house: str
    postcode: str | None
    city: str
    birth_date: date | None

    @property
    def full_name(self) -> str:
        return " ".join(self.given + self.surname)

    @classmethod
    def of(cls, customer: Customer) -> Normalised:
        country = customer.address.country or "DE"
        phones = {n.phone(p, country) for p in (customer.phone, customer.mobile)}
        postcode = n.postcode(customer.address.postcode)
        # Streets and places repeat across a million customers: one shared string each.
        return cls(
            number=customer.customer_number,
            surname=n.name_words(customer.last_name),
            given=n.name_words(customer.first_name),
            email=n.email(customer.email),
            phones=tuple(sorted(p for p in phones if p)),
            street=sys.intern(n.street(customer.address.street)),
            house=n.fold(customer.address.house_number or "").replace(" ", ""),
            postcode=sys.intern(postcode) if postcode else None,
            city=sys.intern(n.fold(customer.address.city or "")),
            birth_date=_DATES.setdefault(customer.birth_date, customer.birth_date)
            if customer.birth_date
            else None,
        )

    def narrowed(self, key: str, *, query: bool = False) -> list[str]:
        """``key`` joined with this customer's selective values, for when ``key`` alone is
        shared too widely. A query also asks for the near values its typos may hide behind
        (a birth year off by one, day and month swapped)."""
        kind = key.split(":", 1)[0]
        out: list[str] = []
        born = self.birth_date
        if kind in ("kp", "kpn"):
            if born:
                # near dates for the whole name, or for a name of one word: a single word
                # of a longer name (Thomas, Müller) is too common to try ninety dates of
                near = query and (kind == "kpn" or len(self.given + self.surname) == 1)
                dates = near_dates(born) if near else (born,)
                out += [f"{key}|dob:{d.isoformat()}" for d in dates]
                if kind == "kpn":
                    years = (born.year - 1, born.year, born.year + 1) if query else (born.year,)
                    out += [f"{key}|yob:{y}" for y in years]
            if self.postcode:
                out.append(f"{key}|plz:{self.postcode}")
            out += [f"{key}|tel:{p[-4:]}" for p in self.phones]
        elif kind == "plz":
            if self.street and self.house:
                out.append(f"{key}|at:{self.street}/{self.house}")
        elif kind in ("dob", "mail", "tel"):
            out += [f"{key}|kpg:{c}" for w in self.given[:1] if (c := n.koelner(w))]
        return out

    def blocking_keys(self) -> set[str]:
        # Kölner codes of every name word (first and last name may be swapped), and of the
        # whole name: common surnames are too common alone, rarely with the given name.
        codes = sorted({c for w in self.given + self.surname if (c := n.koelner(w))})
        keys = {f"kp:{c}" for c in codes}
        if len(codes) > 1:
            keys.add("kpn:" + " ".join(codes))
        if self.postcode:
            keys.add(f"plz:{self.postcode}")
            # A surname changed or garbled: the given name within the postcode still finds it.
            keys |= {f"kpg:{n.koelner(w)}/{self.postcode}" for w in self.given[:1]}
        if self.birth_date:
            keys.add(f"dob:{self.birth_date.isoformat()}")
        if self.email:
            keys.add(f"mail:{self.email}")
        keys |= {f"tel:{p}" for p in self.phones}
        return keys


_DATES: dict[date, date] = {}  # one object per birth date: 30,000 dates for a million people


@functools.lru_cache(maxsize=4096)
def near_dates(born: date) -> tuple[date, ...]:
    """The date and every date a form may have turned it into: one digit mistyped, two
    neighbouring digits swapped, day and month swapped, the year off by one (the birth
    dates ``birth_similarity`` calls near)."""
    digits = born.strftime("%Y%m%d")
    variants = {digits}
    for i in range(8):
        variants |= {digits[:i] + d + digits[i + 1 :] for d in "0123456789"}
        if i < 7:
            variants.add(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :])
    variants.add(digits[:4] + digits[6:] + digits[4:6])
    variants |= {f"{born.year + y:04d}{digits[4:]}" for y in (-1, 1)}
    out = []
    for v in sorted(variants):
        try:
            out.append(date(int(v[:4]), int(v[4:6]), int(v[6:])))
        except ValueError:
            continue
    return tuple(out)
