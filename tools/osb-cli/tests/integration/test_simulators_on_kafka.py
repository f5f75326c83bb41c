"""The simulators on the real broker: the DMS answers and deletes over HTTP; the portal books."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from osb_cli.simulators import Portal, run_portal, serve_dms
from osb_contracts import decode
from osb_contracts.dms import AppointmentDeleted, VehicleMasterChanged
from osb_contracts.leads import AppointmentCreated, CustomerChoice, VehicleCase
from osb_contracts.portal import BookingSubmitted
from osb_contracts.topics import DMS_APPOINTMENTS, DMS_VEHICLES, LEAD_EVENTS, PORTAL_BOOKINGS
from osb_contracts.values import Customer, Vehicle
from osb_platform import make_broker, publish
from osb_testing.kafka import TopicTail, header
from osb_testing.processes import free_port

pytestmark = pytest.mark.integration


async def test_the_dms_simulator_answers_appointments_and_deletes_on_request(
    kafka_bootstrap_servers: str,
) -> None:
    port, ready = free_port(), asyncio.Event()
    servers: list[uvicorn.Server] = []
    running = asyncio.create_task(
        serve_dms(
            kafka_bootstrap_servers,
            port=port,
            group=f"dms-{uuid.uuid4().hex[:8]}",
            ready=ready,
            server=servers,
        )
    )
    bus = make_broker(kafka_bootstrap_servers, client_id="test-dms-sim")
    await bus.start()
    try:
        async with asyncio.timeout(30):
            await ready.wait()
        vin = "WVW" + uuid.uuid4().hex[:14].upper().replace("O", "P").replace("I", "J")
        now = datetime.now(UTC)
        created = AppointmentCreated(
            lead_id=uuid.uuid4(),
            appointment_id=uuid.uuid4(),
            booking_id="B-SIM",
            branch_id="HH-01",
            start=now + timedelta(days=1),
            end=now + timedelta(days=1, hours=1),
            acceptor="anna",
            customer_number="OSB000042",
            customer_choice=CustomerChoice.NEW_CUSTOMER,
            customer=Customer(customer_number="OSB000042", last_name="Simulant"),
            vehicle=Vehicle(vin=vin, licence_plate="HH-S 1"),
            vehicle_case=VehicleCase.TRANSIT,
            created_by="anna",
            created_at=now,
        )
        async with TopicTail(
            kafka_bootstrap_servers, DMS_VEHICLES.name, DMS_APPOINTMENTS.name
        ) as tail:
            await publish(bus, created, topic=LEAD_EVENTS, key=str(created.lead_id), source="/test")
            (vehicle,) = await tail.wait_for(lambda r: r.key == vin.encode())
            change = decode(
                vehicle.headers, vehicle.value, vehicle.key, expect=VehicleMasterChanged
            )
            assert change.message.owner_customer_number == "OSB000042"

            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                listed = (await http.get("/appointments")).json()
                assert str(created.appointment_id) in {a["appointment_id"] for a in listed}
                r = await http.post(f"/appointments/{created.appointment_id}/delete")
                assert r.status_code == 202
                again = await http.post(f"/appointments/{created.appointment_id}/delete")
                assert again.status_code == 404
            key = str(created.appointment_id).encode()
            records = await tail.wait_for(
                lambda r: (
                    r.topic == DMS_APPOINTMENTS.name
                    and header(r, "ce_type") == AppointmentDeleted.cloudevents_type()
                    and str(created.appointment_id).encode() in (r.value or b"")
                )
            )
            deleted = decode(records[0].headers, records[0].value, key, expect=AppointmentDeleted)
            assert deleted.message.branch_id == "HH-01"
    finally:
        await bus.stop()
        server: uvicorn.Server = servers[0]
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_the_portal_simulator_publishes_bookings(kafka_bootstrap_servers: str) -> None:
    portal = Portal.with_demo_customers(seed=int(uuid.uuid4().int % 10_000))
    async with TopicTail(kafka_bootstrap_servers, PORTAL_BOOKINGS.name) as tail:
        sent = await run_portal(kafka_bootstrap_servers, interval_s=0, count=4, portal=portal)
        assert sent == 4
        ids = {b for b, _ in portal.booked}
        records = await tail.wait_for(
            lambda r: r.key is not None and r.key.decode() in ids, count=len(ids)
        )
    assert {header(r, "ce_type") for r in records} == {BookingSubmitted.cloudevents_type()}
