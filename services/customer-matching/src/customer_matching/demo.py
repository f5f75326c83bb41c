"""Demo master data: German and Austrian customers (Faker) and their vehicles."""

from __future__ import annotations

import random
from datetime import date

from faker import Faker
from osb_contracts.values import Address, Customer, Vehicle

_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_MAKES = [
    ("VW", "Golf"), ("VW", "Passat"), ("Audi", "A4"), ("BMW", "320d"), ("Skoda", "Octavia"),
    ("Mercedes-Benz", "C 200"), ("Opel", "Astra"), ("Seat", "Leon"), ("Ford", "Focus"),
]  # fmt: skip
_WMI = {"VW": "WVW", "Audi": "WAU", "BMW": "WBA", "Skoda": "TMB", "Mercedes-Benz": "WDD",
        "Opel": "W0L", "Seat": "VSS", "Ford": "WF0"}  # fmt: skip


def generate(count: int, rng: random.Random) -> tuple[list[Customer], list[tuple[str, Vehicle]]]:
    fakers = {"DE": Faker("de_DE"), "AT": Faker("de_AT")}
    for faker in fakers.values():
        faker.seed_instance(rng.randrange(2**32))
    customers, vehicles = [], []
    for i in range(1, count + 1):
        country = "AT" if rng.random() < 0.2 else "DE"
        fake = fakers[country]
        female = rng.random() < 0.5
        first = fake.first_name_female() if female else fake.first_name_male()
        last = fake.last_name()
        number = f"DMS{i:06d}"
        mobile = ("+43664" if country == "AT" else "+49170") + f"{rng.randrange(10**6, 10**7)}"
        customer = Customer(
            customer_number=number,
            salutation="Frau" if female else "Herr",
            first_name=first,
            last_name=last,
            email=f"{_ascii(first)}.{_ascii(last)}{i}@example.{country.lower()}",
            mobile=mobile,
            birth_date=date(rng.randrange(1940, 2004), rng.randrange(1, 13), rng.randrange(1, 29)),
            address=Address(
                street=fake.street_name(),
                house_number=str(rng.randrange(1, 200)),
                postcode=fake.postcode(),
                city=fake.city(),
                country=country,
            ),
        )
        customers.append(customer)
        if rng.random() < 0.8:
            make, model = rng.choice(_MAKES)
            vin = _WMI[make] + "".join(rng.choice(_VIN_CHARS) for _ in range(14))
            plate = f"{'W' if country == 'AT' else rng.choice(['HH', 'M', 'B', 'K'])}-" + (
                f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')} {rng.randrange(1, 9999)}"
            )
            vehicles.append((number, Vehicle(vin=vin, make=make, model=model, licence_plate=plate)))
    return customers, vehicles


_FOLD: dict[str, str | int | None] = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}


def _ascii(text: str) -> str:
    folded = text.lower().translate(str.maketrans(_FOLD))
    return "".join(c for c in folded if c.isascii() and c.isalnum())
