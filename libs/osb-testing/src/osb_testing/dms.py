"""The DMS's master data as tests publish it: a customer and a vehicle on their topics."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker
from osb_contracts.dms import CustomerMasterChanged, MasterChange, VehicleMasterChanged
from osb_contracts.topics import DMS_CUSTOMERS, DMS_VEHICLES
from osb_contracts.values import Address, Customer, Vehicle
from osb_platform import publish


def letters(n: int = 8) -> str:
    """A made-up word, so each test's names are its own on the shared replica."""
    return "".join(random.choice(string.ascii_lowercase) for _ in range(n))  # noqa: S311


def a_vin() -> str:
    return "WVW" + "".join(random.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(14))  # noqa: S311


def master_customer(number: str, last: str) -> Customer:
    """A master record at the address the tests' leads give (typed differently there)."""
    return Customer(
        customer_number=number,
        salutation="Herr",
        first_name="Jürgen",
        last_name=last,
        email=f"{last.lower()}@alt.example.de",
        phone="+49401234567",
        address=Address(street="Hauptstraße", house_number="5", postcode="20095", city="Hamburg"),
    )


async def publish_customer(
    bus: KafkaBroker,
    customer: Customer,
    revision: int = 1,
    change: MasterChange = MasterChange.UPSERT,
) -> None:
    """An upsert of ``customer``'s master record, or (``change=DELETE``) its deletion."""
    number = str(customer.customer_number)
    message = CustomerMasterChanged(
        change=change,
        customer_number=number,
        revision=revision,
        changed_at=datetime.now(UTC),
        customer=customer if change is MasterChange.UPSERT else None,
    )
    await publish(bus, message, topic=DMS_CUSTOMERS, key=number, source="/dms")


async def publish_vehicle(bus: KafkaBroker, vin: str, owner: str, revision: int = 1) -> None:
    change = VehicleMasterChanged(
        change=MasterChange.UPSERT,
        vin=vin,
        revision=revision,
        changed_at=datetime.now(UTC),
        owner_customer_number=owner,
        vehicle=Vehicle(vin=vin, make="Skoda", model="Octavia", licence_plate="HH-SK 1"),
    )
    await publish(bus, change, topic=DMS_VEHICLES, key=vin, source="/dms")
