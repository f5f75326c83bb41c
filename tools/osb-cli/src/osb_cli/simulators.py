"""The portal and the DMS as `make run` plays them.

- The portal books a steady trickle of realistic German and Austrian bookings; some are by
  customers the DMS already knows (the demo master data, so the duplicate dialog has
  something to show), now and then one is cancelled, and now and then one is invalid.
- The DMS takes the appointments this system creates, adds new customers and transit
  vehicles to its masters (and says so on the master-data topics), applies "In Stammdaten
  übernehmen", checks most customers in when their appointment starts (CustomerArrived;
  about one in seven stays away and becomes a no-show), and deletes an appointment or
  checks its customer in when asked over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer
from customer_matching.demo import generate
from faker import Faker
from fastapi import FastAPI, HTTPException
from osb_contracts import ContractError, Message, decode
from osb_contracts.customers import CustomerMasterUpdateRequested, CustomerRegistered
from osb_contracts.dms import (
    AppointmentDeleted,
    CustomerArrived,
    CustomerMasterChanged,
    MasterChange,
    VehicleMasterChanged,
)
from osb_contracts.leads import (
    AnonymisedBy,
    AppointmentCreated,
    LeadAnonymised,
    LeadCancelledByCustomer,
    LeadRescheduleRequested,
    VehicleCase,
)
from osb_contracts.portal import (
    BookingCancelled,
    BookingSubmitted,
    PortalAddress,
    PortalCustomer,
    PortalVehicle,
)
from osb_contracts.topics import (
    CUSTOMER_EVENTS,
    DMS_APPOINTMENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    LEAD_EVENTS,
    PORTAL_BOOKINGS,
    key_of,
    topic_for,
)
from osb_contracts.values import Customer
from osb_platform import make_broker, publish
from osb_platform.kafka_security import KafkaSecurity
from osb_platform.keys import Keyring
from pydantic import BaseModel

log = logging.getLogger("osb.simulators")

BRANCHES = {"HH-01": "de_DE", "M-01": "de_DE", "W-01": "de_AT"}
SERVICES = ["Inspektion", "Ölwechsel", "Reifenwechsel", "Bremsen prüfen", "HU/AU", "Klimaservice"]
MAKES = {
    "VW": ("WVW", ["Golf", "Passat", "Tiguan", "ID.3"]),
    "Audi": ("WAU", ["A3", "A4", "Q5"]),
    "BMW": ("WBA", ["3er", "5er", "X1"]),
    "Skoda": ("TMB", ["Octavia", "Fabia", "Kodiaq"]),
}
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


# -- the portal ----------------------------------------------------------------------------


@dataclass
class Portal:
    """Makes bookings: some by known customers, some cancelled, some invalid, some with a
    mistyped mobile number."""

    rng: random.Random
    known: list[tuple[Customer, str | None]]  # demo master customers and a VIN they own
    booked: list[tuple[str, str]] = field(default_factory=list)  # (booking id, branch)
    invalid_every: int = 15
    mistyped_every: int = 7
    cancel_every: int = 10
    count: int = 0
    booking_prefix: str = "SIM"

    @classmethod
    def with_demo_customers(cls, seed: int = 7, booking_prefix: str = "SIM") -> Portal:
        customers, vehicles = generate(2000, random.Random(42))  # noqa: S311 - the demo master
        owned = {owner: v.vin for owner, v in vehicles}
        known = [(c, owned.get(str(c.customer_number))) for c in customers]
        rng = random.Random(seed)  # noqa: S311 - simulated customers
        return cls(rng, known, booking_prefix=booking_prefix)

    def _token(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128)).hex[:10].upper()

    def next(self, now: datetime) -> Message:
        self.count += 1
        if self.booked and self.count % self.cancel_every == 0:
            booking_id, branch = self.booked.pop(self.rng.randrange(len(self.booked)))
            return BookingCancelled(
                booking_id=booking_id,
                branch_id=branch,
                cancelled_at=now,
                reason="Termin passt doch nicht",
            )
        booking = self._booking(now)
        if self.count % self.invalid_every == 0:
            return self._spoiled(booking)
        if self.count % self.mistyped_every == 0:
            booking = self._mistyped(booking)
        self.booked.append((booking.booking_id, booking.branch_id))
        return booking

    def _booking(self, now: datetime) -> BookingSubmitted:
        branch = self.rng.choice(list(BRANCHES))
        zone = ZoneInfo("Europe/Vienna" if branch == "W-01" else "Europe/Berlin")
        day = (now + timedelta(days=self.rng.randint(1, 21))).astimezone(zone).date()
        hour, minute = self.rng.randint(7, 16), self.rng.choice([0, 15, 30, 45])
        # The portal sends its wall clock without a zone; lead-intake applies the branch's.
        start = datetime(day.year, day.month, day.day, hour, minute)  # noqa: DTZ001
        if self.rng.random() < 0.4:
            customer, vehicle = self._known()
        else:
            customer, vehicle = self._new(BRANCHES[branch])
        return BookingSubmitted(
            booking_id=f"{self.booking_prefix}-{self._token()}",
            branch_id=branch,
            submitted_at=now,
            requested_start=start,
            requested_end=start + timedelta(hours=1),
            services=tuple(self.rng.sample(SERVICES, self.rng.randint(1, 2))),
            customer=customer,
            vehicle=vehicle,
            comment=self.rng.choice([None, None, "Bitte Ersatzwagen", "Rückruf erwünscht"]),
        )

    def _known(self) -> tuple[PortalCustomer, PortalVehicle]:
        master, vin = self.rng.choice(self.known)
        a = master.address
        street = (a.street or "").replace("straße", "str.") if self.rng.random() < 0.5 else a.street
        customer = PortalCustomer(
            salutation=master.salutation,
            first_name=master.first_name,
            last_name=master.last_name,
            email=master.email,
            phone=master.phone,
            address=PortalAddress(
                street=street,
                house_number=a.house_number,
                postcode=a.postcode,
                city=a.city,
                country=a.country,
            ),
        )
        return customer, PortalVehicle(vin=vin, licence_plate=self._plate())

    def _new(self, locale: str) -> tuple[PortalCustomer, PortalVehicle]:
        fake = Faker(locale)
        fake.seed_instance(self.rng.getrandbits(32))
        first, last = fake.first_name(), fake.last_name()
        mail = f"{first}.{last}".lower().replace(" ", "")
        customer = PortalCustomer(
            salutation=self.rng.choice(["Herr", "Frau"]),
            first_name=first,
            last_name=last,
            email=f"{mail}@example.{'at' if locale == 'de_AT' else 'de'}",
            # National format, as customers type it: 0664 and seven digits, 0151 and eight.
            mobile=f"0664 {self.rng.randint(10**6, 10**7 - 1)}"
            if locale == "de_AT"
            else f"0151 {self.rng.randint(10**7, 10**8 - 1)}",
            address=PortalAddress(
                street=fake.street_name(),
                house_number=str(self.rng.randint(1, 120)),
                postcode=fake.postcode(),
                city=fake.city(),
                country="AT" if locale == "de_AT" else "DE",
            ),
        )
        make = self.rng.choice(list(MAKES))
        prefix, models = MAKES[make]
        vin = prefix + "".join(self.rng.choice(VIN_CHARS) for _ in range(14))
        vehicle = PortalVehicle(
            vin=vin, licence_plate=self._plate(), make=make, model=self.rng.choice(models)
        )
        return customer, vehicle

    def _plate(self) -> str:
        region = self.rng.choice(["HH", "M", "B", "K", "W"])
        letters = "".join(self.rng.choice("ABCDEFGHKLMNPRSTUVWXYZ") for _ in range(2))
        return f"{region}-{letters} {self.rng.randint(1, 9999)}"

    def _spoiled(self, booking: BookingSubmitted) -> BookingSubmitted:
        """A booking that cannot become a lead, as portals do send them: the name left
        blank or a date in the past."""
        if self.rng.random() < 0.5:
            customer = booking.customer.model_copy(update={"last_name": " "})
            return booking.model_copy(update={"customer": customer})
        past = booking.requested_start - timedelta(days=60)
        return booking.model_copy(update={"requested_start": past, "requested_end": None})

    @staticmethod
    def _mistyped(booking: BookingSubmitted) -> BookingSubmitted:
        """A mobile number cut short: the booking becomes a lead, the
        number is kept as typed for the advisor ("Telefonnummer ungültig")."""
        customer = booking.customer.model_copy(
            update={"mobile": "12", "email": booking.customer.email or "kunde@example.de"}
        )
        return booking.model_copy(update={"customer": customer})


async def run_portal(
    bootstrap: str, *, interval_s: float, count: int | None = None, portal: Portal | None = None
) -> int:
    """Publish a booking (or cancellation) every ``interval_s``; ``count`` of them, or forever."""
    portal = portal or Portal.with_demo_customers()
    broker = make_broker(bootstrap, client_id="portal-simulator")
    await broker.start()
    sent = 0
    try:
        while count is None or sent < count:
            message = portal.next(datetime.now(UTC))
            key = message.booking_id  # type: ignore[attr-defined]
            await publish(broker, message, topic=PORTAL_BOOKINGS, key=key, source="/portal/sim")
            sent += 1
            log.info("portal: %s %s", type(message).__name__, key)
            await asyncio.sleep(interval_s)
    finally:
        await broker.stop()
    return sent


# -- the DMS ---------------------------------------------------------------------------------


class DmsAppointment(BaseModel):
    appointment_id: uuid.UUID
    lead_id: uuid.UUID
    branch_id: str
    start: datetime
    customer_number: str
    vehicle_case: VehicleCase
    deleted: bool = False
    checked: bool = False  # its start has come: checked in, or known not to come


@dataclass
class Dms:
    """The DMS's side: appointments it holds and the master records it knows. When an
    appointment's start comes, most customers are checked in (CustomerArrived, a few
    minutes before it); about one in ``absent_every`` does not come (no event at all)."""

    appointments: dict[uuid.UUID, DmsAppointment] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    revision: Callable[[], int] = lambda: time.time_ns() // 1000
    absent_every: int = 7

    def arrivals(self, now: datetime) -> list[CustomerArrived]:
        """The check-ins of the appointments whose start has come since the last call."""
        due = [a for a in self.appointments.values() if a.start <= now and not a.checked]
        out = []
        for appointment in due:
            appointment.checked = True
            # the same appointment always comes out the same way (its id decides)
            if appointment.deleted or appointment.appointment_id.int % self.absent_every == 0:
                continue
            minutes = 1 + appointment.appointment_id.int % 10
            out.append(
                CustomerArrived(
                    appointment_id=appointment.appointment_id,
                    branch_id=appointment.branch_id,
                    arrived_at=appointment.start - timedelta(minutes=minutes),
                    recorded_by="dms-simulator",
                )
            )
        return out

    def on(self, message: Message, now: datetime) -> list[Message]:
        """What the DMS publishes in answer to one of this system's events."""
        if isinstance(message, AppointmentCreated):
            return self._appointment(message, now)
        if (
            isinstance(message, LeadCancelledByCustomer | LeadRescheduleRequested)
            and message.appointment_id
        ):
            if found := self.appointments.get(message.appointment_id):
                found.deleted = True
        elif isinstance(message, CustomerRegistered):
            customer = message.customer.model_copy(
                update={"customer_number": message.customer_number}
            )
            self.customers[message.customer_number] = customer
            return [self._master(customer, now)]
        elif isinstance(message, LeadAnonymised) and message.by is AnonymisedBy.ERASURE:
            # the person asked to be erased: their customer masters go (the vehicles stay,
            # no longer anyone's); the deletion carries the number alone
            for number in message.customer_numbers:
                self.customers.pop(number, None)
            return [
                CustomerMasterChanged(
                    change=MasterChange.DELETE,
                    customer_number=number,
                    revision=self.revision(),
                    changed_at=now,
                )
                for number in message.customer_numbers
            ]
        elif isinstance(message, CustomerMasterUpdateRequested):
            known = self.customers.get(message.customer_number)
            if known is None:
                log.warning("dms: no master record %s to update", message.customer_number)
                return []
            self.customers[message.customer_number] = updated = _apply(known, message)
            return [self._master(updated, now)]
        return []

    def _appointment(self, message: AppointmentCreated, now: datetime) -> list[Message]:
        self.appointments[message.appointment_id] = DmsAppointment(
            appointment_id=message.appointment_id,
            lead_id=message.lead_id,
            branch_id=message.branch_id,
            start=message.start,
            customer_number=message.customer_number,
            vehicle_case=message.vehicle_case,
        )
        self.customers.setdefault(message.customer_number, message.customer)
        vin = message.vehicle.vin
        if message.vehicle_case is not VehicleCase.TRANSIT or not vin:
            return []
        # A transit vehicle joins the vehicle master, owned by the appointment's customer.
        return [
            VehicleMasterChanged(
                change=MasterChange.UPSERT,
                vin=vin,
                revision=self.revision(),
                changed_at=now,
                owner_customer_number=message.customer_number,
                vehicle=message.vehicle,
            )
        ]

    def delete(self, appointment_id: uuid.UUID, now: datetime) -> AppointmentDeleted:
        found = self.appointments.get(appointment_id)
        if found is None or found.deleted:
            raise KeyError(appointment_id)
        found.deleted = True
        return AppointmentDeleted(
            appointment_id=appointment_id,
            branch_id=found.branch_id,
            deleted_at=now,
            deleted_by="dms-simulator",
            reason="im DMS gelöscht",
        )

    def _master(self, customer: Customer, now: datetime) -> CustomerMasterChanged:
        return CustomerMasterChanged(
            change=MasterChange.UPSERT,
            customer_number=str(customer.customer_number),
            revision=self.revision(),
            changed_at=now,
            customer=customer,
        )


def _apply(customer: Customer, request: CustomerMasterUpdateRequested) -> Customer:
    data: dict[str, Any] = customer.model_dump()
    for change in request.changes:
        target, _, name = change.field.rpartition(".")
        (data[target] if target else data)[name] = change.new_value
    return Customer.model_validate(data)


def dms_app(dms: Dms, send: Callable[[Message], Any]) -> FastAPI:
    app = FastAPI(title="DMS simulator", version="1")

    @app.get("/appointments")
    async def appointments() -> list[DmsAppointment]:
        return sorted(dms.appointments.values(), key=lambda a: a.start)

    @app.post("/appointments/{appointment_id}/arrive", status_code=202)
    async def arrive(appointment_id: uuid.UUID) -> dict[str, str]:
        found = dms.appointments.get(appointment_id)
        if found is None or found.deleted:
            raise HTTPException(404, f"no open appointment {appointment_id}")
        found.checked = True
        now = datetime.now(UTC)
        await send(
            CustomerArrived(
                appointment_id=appointment_id,
                branch_id=found.branch_id,
                arrived_at=now,
                recorded_by="dms-simulator",
            )
        )
        return {"arrived": str(appointment_id)}

    @app.post("/appointments/{appointment_id}/delete", status_code=202)
    async def delete(appointment_id: uuid.UUID) -> dict[str, str]:
        try:
            message = dms.delete(appointment_id, datetime.now(UTC))
        except KeyError:
            raise HTTPException(404, f"no open appointment {appointment_id}") from None
        await send(message)
        return {"deleted": str(appointment_id)}

    return app


async def run_dms(
    bootstrap: str,
    dms: Dms,
    broker: Any,
    *,
    group: str,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    keyring: Keyring | None = None,
) -> None:
    """Consume this system's events and publish the DMS's answers until ``stop``; the lead
    events' sealed personal fields opened with keys asked of lead-manager (``keyring``)."""
    keyring = keyring or Keyring(None, None)
    consumer = AIOKafkaConsumer(
        LEAD_EVENTS.name,
        CUSTOMER_EVENTS.name,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        **KafkaSecurity().aiokafka(),
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=200)
            if ready is not None and consumer.assignment():
                ready.set()  # joined: from here on nothing published is missed
            for records in batch.values():
                envelopes = []
                for r in records:
                    try:
                        envelopes.append(decode(r.headers, r.value or b"", r.key))
                    except ContractError:
                        continue  # not for the DMS to judge
                for envelope in await keyring.open(envelopes):
                    if envelope.sealed is not None:
                        continue  # an erased lead's: nothing left to take over
                    for answer in dms.on(envelope.message, datetime.now(UTC)):
                        await send_to(broker, answer)
            for arrival in dms.arrivals(datetime.now(UTC)):
                await send_to(broker, arrival)
            if batch:
                await consumer.commit()  # after the answers are on the broker
    finally:
        await consumer.stop()


async def send_to(broker: Any, message: Message) -> None:
    topic = topic_for(type(message))
    assert topic in (DMS_APPOINTMENTS, DMS_CUSTOMERS, DMS_VEHICLES)
    await publish(broker, message, topic=topic, key=key_of(message), source="/dms/sim")


async def serve_dms(
    bootstrap: str,
    *,
    port: int,
    group: str = "dms-simulator",
    ready: asyncio.Event | None = None,
    keyring: Keyring | None = None,
    server: list[uvicorn.Server] | None = None,
) -> None:
    """The DMS simulator: its consumer and its HTTP side (until SIGINT or SIGTERM, or until
    the uvicorn server handed out in ``server`` is told to exit)."""
    dms = Dms()
    broker = make_broker(bootstrap, client_id="dms-simulator")
    await broker.start()
    stop = asyncio.Event()
    consuming = asyncio.create_task(
        run_dms(bootstrap, dms, broker, group=group, stop=stop, ready=ready, keyring=keyring)
    )

    async def send(message: Message) -> None:
        await send_to(broker, message)

    http = uvicorn.Server(
        uvicorn.Config(dms_app(dms, send), host="127.0.0.1", port=port, log_level="warning")
    )
    if server is not None:
        server.append(http)
    try:
        await http.serve()
    finally:
        stop.set()
        await consuming
        await broker.stop()


# -- an advisor ------------------------------------------------------------------------------

# the demo branches' acceptor and whom the advisor's appointments are for (lead-manager's
# seed-demo: HH-01 and M-01 have both; W-01 has no acceptor and is left to a person)
ADVISOR_ACCEPTORS = {"HH-01": "anna", "M-01": "clara"}
_ADVISOR_NAMESPACE = uuid.UUID("5b8e2f71-0c4d-4e9a-8a63-2d7f1c9b0e45")


@dataclass
class Advisor:
    """Decides some of the demo branches' new leads, so a newcomer's ``make run`` shows in
    ``.local/mail`` within minutes what the customer gets after booking: a third scheduled
    2 h 10 min ahead with an e-mail confirmation (its links; the 2 h reminder ten minutes
    later, outside the quiet hours), a third answered with a counter-offer for the next day
    (a link per time); the rest left for a person."""

    acceptors: dict[str, str] = field(default_factory=lambda: dict(ADVISOR_ACCEPTORS))
    seen: set[str] = field(default_factory=set)

    def decide(self, lead: dict[str, Any], now: datetime) -> tuple[str, dict[str, Any]] | None:
        """(path, body) of the advisor's request for a new lead, once; None: left alone."""
        lead_id = str(lead["id"])
        if lead_id in self.seen:
            return None
        self.seen.add(lead_id)
        acceptor = self.acceptors.get(lead["branch_id"])
        if acceptor is None or not lead["customer"].get("email"):
            return None
        kind = uuid.UUID(lead_id).int % 3
        if kind == 0:
            start = (now + timedelta(hours=2, minutes=10)).replace(second=0, microsecond=0)
            body: dict[str, Any] = {
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "acceptor": acceptor,
                "confirmation": "EMAIL",
                "customer": {"choice": "CASH_SALE"},
                "request_id": str(uuid.uuid5(_ADVISOR_NAMESPACE, lead_id)),
            }
            return f"/api/v1/leads/{lead_id}/schedule", body
        if kind == 1:
            zone = ZoneInfo("Europe/Berlin")
            day = (now.astimezone(zone) + timedelta(days=1)).date()
            times = [
                datetime.combine(day, datetime.min.time(), zone).replace(hour=h) for h in (9, 14)
            ]
            body = {
                "times": [
                    {"start": t.isoformat(), "end": (t + timedelta(hours=1)).isoformat()}
                    for t in times
                ],
                "channel": "EMAIL",
                "acceptor": acceptor,
                "customer": {"choice": "CASH_SALE"},
            }
            return f"/api/v1/leads/{lead_id}/offer", body
        return None


async def run_advisor(
    url: str, token: str, *, interval_s: float, advisor: Advisor | None = None
) -> None:
    """Look at the demo branches' new leads every ``interval_s`` and decide some (until
    cancelled); a refusal (the lead changed meanwhile) is logged and left."""
    advisor = advisor or Advisor()
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("branch_id", b) for b in advisor.acceptors
    ]
    params.append(("status", "NEW"))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        while True:
            try:
                page = await http.get("/api/v1/leads", params=params)
                page.raise_for_status()
                for lead in page.json()["items"]:
                    decided = advisor.decide(lead, datetime.now(UTC))
                    if decided is None:
                        continue
                    path, body = decided
                    answer = await http.post(path, json=body)
                    log.info("advisor: %s %s", path.rsplit("/", 1)[1], answer.status_code)
            except httpx.HTTPError as exc:
                log.warning("advisor: lead-manager not answering (%s)", type(exc).__name__)
            await asyncio.sleep(interval_s)
