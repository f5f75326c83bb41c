"""A German identification test set, generated: masters, and leads that refer to them.

Names as often as in Germany: the sixty commonest surnames and forty commonest given names
with their approximate shares (Müller about 0.31 %, Thomas about 1 % of everyone), the rest
from Faker's German lists and, for the long tail (most Germans bear a rare surname),
surnames built from German syllables. Households: a partner at the same address under the
same surname. Vehicles: most masters own one.

Each lead belongs to one failure class (see ``CLASSES``) and is either a master as a portal
or a telephone booking would send them, changed the way that class changes them, or (the
hard negatives) someone who is not in the master at all: a namesake, or a household member.
A lead's VIN is its customer's, someone else's or unknown. Everything is seeded: a seed for
tuning and another, held out, for the figures reported beside it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from osb_contracts.values import Address, Customer

# Approximate shares in Germany (per 100,000 people), from telephone-book counts.
SURNAMES = {
    "Müller": 310, "Schmidt": 230, "Schneider": 140, "Fischer": 120, "Weber": 105,
    "Meyer": 100, "Wagner": 95, "Becker": 90, "Schulz": 90, "Hoffmann": 88, "Schäfer": 72,
    "Koch": 70, "Bauer": 70, "Richter": 69, "Klein": 66, "Wolf": 63, "Schröder": 60,
    "Neumann": 59, "Schwarz": 58, "Zimmermann": 57, "Braun": 54, "Krüger": 53, "Hofmann": 53,
    "Hartmann": 52, "Lange": 51, "Schmitt": 49, "Werner": 48, "Schmitz": 48, "Krause": 47,
    "Meier": 46, "Lehmann": 45, "Schmid": 45, "Schulze": 43, "Maier": 43, "Köhler": 42,
    "Herrmann": 41, "König": 40, "Walter": 40, "Mayer": 39, "Huber": 39, "Kaiser": 37,
    "Fuchs": 37, "Peters": 36, "Lang": 36, "Scholz": 36, "Möller": 35, "Weiß": 35,
    "Jung": 35, "Hahn": 34, "Schubert": 34, "Vogel": 33, "Friedrich": 33, "Keller": 32,
    "Günther": 31, "Frank": 31, "Berger": 31, "Winkler": 30, "Roth": 30, "Beck": 30,
    "Lorenz": 30,
}  # fmt: skip
MALE = {
    "Thomas": 1000, "Michael": 950, "Andreas": 900, "Peter": 850, "Stefan": 700,
    "Wolfgang": 650, "Klaus": 600, "Jürgen": 600, "Christian": 550, "Frank": 500,
    "Uwe": 450, "Werner": 450, "Hans": 450, "Bernd": 400, "Dieter": 400, "Markus": 400,
    "Martin": 400, "Matthias": 380, "Günter": 350, "Ralf": 350,
}  # fmt: skip
FEMALE = {
    "Ursula": 700, "Sabine": 700, "Petra": 650, "Monika": 650, "Andrea": 600,
    "Karin": 550, "Renate": 550, "Susanne": 500, "Birgit": 450, "Claudia": 450,
    "Gabriele": 450, "Brigitte": 450, "Stefanie": 400, "Nicole": 400, "Anja": 380,
    "Christine": 380, "Heike": 350, "Julia": 350, "Katharina": 330, "Anna": 330,
}  # fmt: skip
# What is left of 100,000 after the tables: Faker's lists, then the long tail.
_TOP_SURNAMES = sum(SURNAMES.values())  # about 3.5 %
_FAKER_SURNAMES = 12_000  # 12 %, 406 names of about 0.03 % each
_SYLLABLES = (
    ("Bar", "Ber", "Bir", "Bran", "Dam", "Ding", "Eck", "Eh", "Falk", "Gar", "Ger", "Gol",
     "Ham", "Hel", "Hil", "Kar", "Kess", "Kl", "Lam", "Lin", "Mar", "Mer", "Nol", "Ost",
     "Pah", "Rat", "Ren", "Sal", "Sch", "Sieg", "Sten", "Tesch", "Thal", "Ul", "Vol",
     "Wal", "Wer", "Wil", "Zeh", "Zim"),
    ("a", "e", "i", "o", "u", "ä", "ö", "ü", "ei", "au", "ie"),
    ("b", "ck", "d", "f", "g", "h", "k", "l", "ll", "m", "n", "nd", "ng", "r", "rg", "rt",
     "s", "st", "t", "tz"),
    ("", "er", "mann", "ke", "le", "ler", "ner", "ert", "hoff", "meier", "inger", "ow",
     "itz", "berg", "bach", "feld", "haus", "kamp", "rich", "s", "en", "el"),
)  # fmt: skip


@cache
def _faker() -> tuple[tuple[str, ...], ...]:
    from faker.providers.address.de_DE import Provider as Places
    from faker.providers.person.de_DE import Provider as People

    streets = tuple(
        f"{root}{suffix}"
        for root in People.last_names[:200]
        for suffix in ("straße", "weg", "allee", "gasse", "ring", "platz")
    )
    return (
        tuple(People.last_names),
        tuple(People.first_names_male),
        tuple(People.first_names_female),
        streets,
        tuple(Places.cities),
    )


def _weighted(table: dict[str, int]) -> tuple[list[str], list[int]]:
    names = list(table)
    total, cumulative = 0, []
    for name in names:
        total += table[name]
        cumulative.append(total)
    return names, cumulative


_SURNAME_TABLE = _weighted(SURNAMES)
_MALE_TABLE = _weighted(MALE)
_FEMALE_TABLE = _weighted(FEMALE)


def _from_table(rng: random.Random, table: tuple[list[str], list[int]]) -> str:
    names, cumulative = table
    return rng.choices(names, cum_weights=cumulative)[0]


def surname(rng: random.Random) -> str:
    roll = rng.randrange(100_000)
    if roll < _TOP_SURNAMES:
        return _from_table(rng, _SURNAME_TABLE)
    if roll < _TOP_SURNAMES + _FAKER_SURNAMES:
        return rng.choice(_faker()[0])
    # The long tail: a log-uniform (Zipf-like) rank among a million syllable surnames, the
    # commonest of them about as rare as a German surname ranked in the thousands
    rank = int(math.exp(rng.uniform(math.log(5_000), math.log(1_000_000))))
    tail = random.Random(rank)
    return "".join(tail.choice(part) for part in _SYLLABLES).capitalize()


def given_name(rng: random.Random, female: bool) -> str:
    if rng.random() < 0.22:  # the twenty commonest of each sex: about a fifth of everyone
        return _from_table(rng, _FEMALE_TABLE if female else _MALE_TABLE)
    return rng.choice(_faker()[2] if female else _faker()[1])


VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def a_vin(rng: random.Random) -> str:
    return rng.choice(("WVW", "WAU", "WBA", "TMB", "WDD")) + "".join(
        rng.choice(VIN_CHARS) for _ in range(14)
    )


def _ascii(text: str) -> str:
    folded = text.lower().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
    return "".join(c for c in folded if c.isascii() and c.isalnum())


@dataclass
class Population:
    masters: list[Customer]
    vehicles: dict[str, str]  # VIN -> owner's customer number

    def owner(self, vin: str | None) -> str | None:
        return self.vehicles.get(vin) if vin else None


def _address(rng: random.Random) -> Address:
    _, _, _, streets, cities = _faker()
    return Address(
        street=rng.choice(streets),
        house_number=str(rng.randrange(1, 120)),
        postcode=f"{rng.randrange(1067, 99999):05d}",
        city=rng.choice(cities),
    )


def _birth(rng: random.Random) -> date:
    return date(1935, 1, 1) + timedelta(days=rng.randrange(68 * 365))


def person(rng: random.Random, number: str, *, last: str | None = None,
           address: Address | None = None) -> Customer:  # fmt: skip
    female = rng.random() < 0.5
    first, last = given_name(rng, female), last or surname(rng)
    known = rng.random()
    return Customer(
        customer_number=number,
        salutation="Frau" if female else "Herr",
        first_name=first,
        last_name=last,
        # an old DMS record may hold a name and a birth date only
        email=f"{_ascii(first)}.{_ascii(last)}{rng.randrange(100)}@example.de"
        if known < 0.7
        else None,
        mobile=f"+4917{rng.randrange(10**8, 10**9)}" if known < 0.6 else None,
        birth_date=_birth(rng),
        address=address or (_address(rng) if known < 0.9 else Address()),
    )


def population(count: int, seed: int, prefix: str = "G") -> Population:
    """``count`` masters: about one in six with a partner at the same address and surname."""
    rng = random.Random(seed)
    masters: list[Customer] = []
    vehicles: dict[str, str] = {}
    while len(masters) < count:
        number = f"{prefix}{len(masters):07d}"
        master = person(rng, number)
        masters.append(master)
        if rng.random() < 0.8:
            vehicles[a_vin(rng)] = number
        if rng.random() < 0.17 and len(masters) < count and master.address.postcode:
            partner = person(
                rng, f"{prefix}{len(masters):07d}", last=master.last_name, address=master.address
            )
            masters.append(partner)
    return Population(masters, vehicles)


# --- leads ---------------------------------------------------------------------------------

CLASSES = (
    "as_written",  # umlauts spelt out, street abbreviated, another e-mail
    "typo_in_name",
    "names_swapped",
    "birth_one_digit",
    "birth_day_month_swapped",
    "birth_year_off_by_one",
    "name_and_birth_only",  # a telephone booking
    "married_name_own_vehicle",  # another surname; the lead's VIN is the customer's
    "moved_same_email",
    "namesake_not_in_master",  # hard negative
    "household_member_not_in_master",  # hard negative
)
NEGATIVE = frozenset({"namesake_not_in_master", "household_member_not_in_master"})


@dataclass
class Lead:
    kind: str
    customer: Customer
    vin: str | None
    truth: str | None  # the master's number; None for a hard negative
    vehicle_owner: str | None  # per the vehicle master


def _portal(customer: Customer) -> Customer:
    """As a portal sends it: umlauts spelt out, "Str." for "Straße", no customer number."""

    def spelt(text: str | None) -> str | None:
        if text is None:
            return None
        return text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")

    street = customer.address.street
    return customer.model_copy(
        update={
            "customer_number": None,
            "first_name": spelt(customer.first_name),
            "last_name": spelt(customer.last_name) or customer.last_name,
            "address": customer.address.model_copy(
                update={"street": street.replace("straße", "str.") if street else None}
            ),
        }
    )


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + "e"
    i = rng.randrange(1, len(word) - 1)
    how = rng.randrange(3)
    if how == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # two letters swapped
    if how == 1:
        return word[:i] + word[i + 1 :]  # one dropped
    return word[:i] + rng.choice("aeinrst") + word[i + 1 :]  # one mistyped


def _birth_digit(rng: random.Random, born: date) -> date:
    while True:
        digits = list(born.strftime("%Y%m%d"))
        i = rng.randrange(2, 8)
        digits[i] = rng.choice("0123456789")
        text = "".join(digits)
        try:
            typed = date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            continue
        if typed != born:
            return typed


def _vehicle(
    rng: random.Random, pop: Population, number: str | None
) -> tuple[str | None, str | None]:
    """The lead's VIN: the customer's own, someone else's or unknown (and its owner)."""
    roll = rng.random()
    own = [v for v, owner in _owned(pop).get(number or "", [])]
    if roll < 0.5 and own:
        vin = rng.choice(own)
    elif roll < 0.7:
        vin = rng.choice(_vins(pop))
    elif roll < 0.9:
        vin = a_vin(rng)
    else:
        return None, None
    return vin, pop.owner(vin)


_OWNED: dict[int, dict[str, list[tuple[str, str]]]] = {}
_VINS: dict[int, list[str]] = {}


def _owned(pop: Population) -> dict[str, list[tuple[str, str]]]:
    if id(pop) not in _OWNED:
        owned: dict[str, list[tuple[str, str]]] = {}
        for vin, owner in pop.vehicles.items():
            owned.setdefault(owner, []).append((vin, owner))
        _OWNED[id(pop)] = owned
    return _OWNED[id(pop)]


def _vins(pop: Population) -> list[str]:
    if id(pop) not in _VINS:
        _VINS[id(pop)] = list(pop.vehicles)
    return _VINS[id(pop)]


def leads(pop: Population, per_class: int, seed: int) -> Iterator[Lead]:
    rng = random.Random(seed)
    by_number = {m.customer_number: m for m in pop.masters}
    owners = sorted(_owned(pop))
    for kind in CLASSES:
        for _ in range(per_class):
            if kind == "married_name_own_vehicle":
                master = by_number[rng.choice(owners)]
            else:
                master = rng.choice(pop.masters)
            yield _lead(rng, pop, kind, master)


def _changed(rng: random.Random, kind: str, c: Customer, master: Customer) -> Customer:
    """The lead of a master as the failure class ``kind`` has changed it."""
    born = master.birth_date
    assert born is not None
    if kind == "name_and_birth_only":
        return Customer(first_name=c.first_name, last_name=c.last_name, birth_date=born)
    swappable = born.day <= 12 and born.day != born.month
    changes: dict[str, Any] = {
        "typo_in_name": lambda: (
            {"last_name": _typo(rng, c.last_name)}
            if rng.random() < 0.7
            else {"first_name": _typo(rng, c.first_name or "")}
        ),
        "names_swapped": lambda: {"first_name": c.last_name, "last_name": c.first_name or "-"},
        "birth_one_digit": lambda: {"birth_date": _birth_digit(rng, born)},
        "birth_day_month_swapped": lambda: {
            "birth_date": born.replace(month=born.day, day=born.month)
            if swappable
            else _birth_digit(rng, born)
        },
        "birth_year_off_by_one": lambda: {
            "birth_date": born.replace(year=born.year + rng.choice((-1, 1)), day=min(born.day, 28))
        },
        "married_name_own_vehicle": lambda: {"last_name": surname(rng), "email": None},
        "moved_same_email": lambda: {"email": master.email, "address": _address(rng)},
    }
    return c.model_copy(update=changes[kind]()) if kind in changes else c


def _stranger(rng: random.Random, kind: str, master: Customer) -> Customer:
    """A hard negative: not in the master, but a namesake or a household member is."""
    if kind == "namesake_not_in_master":
        # the same name, another person: another birth date, address, e-mail and phone
        other = person(rng, "X", last=master.last_name)
        return other.model_copy(update={"first_name": master.first_name, "customer_number": None})
    other = person(rng, "X", last=master.last_name, address=master.address)
    if other.first_name == master.first_name:
        other = other.model_copy(update={"first_name": (other.first_name or "") + "a"})
    return other.model_copy(update={"customer_number": None})


def _lead(rng: random.Random, pop: Population, kind: str, master: Customer) -> Lead:
    if kind in NEGATIVE:
        c, truth = _portal(_stranger(rng, kind, master)), None
    else:
        portal = _portal(master).model_copy(
            update={"email": master.email and master.email.replace("@", ".neu@")}
        )
        c, truth = _changed(rng, kind, portal, master), master.customer_number
    vin, owner = _vehicle(rng, pop, truth)
    if kind == "married_name_own_vehicle":
        own = _owned(pop).get(truth or "", [])
        if own:
            vin, owner = own[0]
    return Lead(kind, c, vin, truth, owner)
