"""``osb``: topics and lag, tail, dead letters, and what the portal and the DMS would send."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from customer_matching.entrypoints.cli import import_master
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.auth import issue_token
from lead_manager.entrypoints.cli import token
from osb_contracts import Message
from osb_contracts.dms import AppointmentDeleted, CustomerArrived
from osb_contracts.portal import BookingSubmitted
from osb_contracts.topics import DMS_APPOINTMENTS, PORTAL_BOOKINGS, TOPICS, Topic, key_of
from osb_platform import make_broker, publish
from osb_platform.kafka import header
from osb_platform.keys import Keyring
from osb_platform.producer import DLQ_HEADER_PREFIX
from osb_platform.settings import ServiceSettings
from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Column, Table

from osb_cli import kafka_ops, privacy, simulators
from osb_cli.kafka_ops import Record

console = Console()
app = typer.Typer(help="The operator's command line for the OSB pipeline.", no_args_is_help=True)
dlq = typer.Typer(help="Dead-letter topics: list, show and replay.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")
simulate = typer.Typer(help="The portal and the DMS, simulated (make run starts both).")
app.add_typer(simulate, name="simulate")
privacy_app = typer.Typer(
    help="A person's data: where it is, and their export (issue 19).", no_args_is_help=True
)
app.add_typer(privacy_app, name="privacy")
app.command("token", help="Issue a bearer token for the advisor's page and API (local use).")(token)
app.command("import-masters", help="Load the DMS customer master from a CSV or JSON Lines file.")(
    import_master
)


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OSB_", extra="ignore")
    kafka_bootstrap_servers: str = Field(
        default="localhost:9092",
        validation_alias=AliasChoices("OSB_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )


def _bootstrap() -> str:
    return CliSettings().kafka_bootstrap_servers


Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap", help="Kafka bootstrap servers (default: settings)")
]


@app.command()
def topics(
    bootstrap: Bootstrap = None,
    group: Annotated[str, typer.Option(help="only consumer groups starting with this")] = "",
    groups: Annotated[bool, typer.Option(help="a row per consumer group")] = False,
) -> None:
    """Topics with partitions, records and consumer lag."""
    states = asyncio.run(kafka_ops.topics(bootstrap or _bootstrap(), group_prefix=group))
    known = {t.name for t in TOPICS}
    table = Table("partitions", "records", "groups", "lag", "most behind")
    table.columns.insert(0, Column("topic", no_wrap=True))
    for state in states:
        if state.name not in known and not state.name.endswith(".dlq") and not group:
            continue
        worst = max(state.groups, key=lambda g: g.lag, default=None)
        table.add_row(
            state.name,
            str(state.partitions),
            f"{state.records:,}",
            str(len(state.groups)),
            f"{state.lag:,}",
            f"{worst.group} ({worst.lag:,})" if worst and worst.lag else "",
        )
        if groups:
            for g in sorted(state.groups, key=lambda g: -g.lag):
                table.add_row("", "", "", f"  {g.group}", f"{g.lag:,}", "")
    console.print(table)


def _show(record: Record) -> None:
    attributes = {k: v.decode("utf-8", "replace") for k, v in record.headers}
    console.rule(f"{record.topic} [{record.partition}] @{record.offset}")
    console.print(f"key: {record.key.decode('utf-8', 'replace') if record.key else None}")
    for name in sorted(attributes):
        console.print(f"{name}: {attributes[name]}")
    try:
        body: Any = json.loads(record.value or b"")
        console.print_json(data=body)
    except ValueError:
        console.print(repr(record.value))


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="topic name")],
    last: Annotated[
        int | None, typer.Option(help="start this many records before the end, per partition")
    ] = None,
    beginning: Annotated[bool, typer.Option(help="start at the beginning")] = False,
    follow: Annotated[bool, typer.Option(help="keep printing new records")] = True,
    bootstrap: Bootstrap = None,
) -> None:
    """Print a topic's records: CloudEvents attributes and body (Ctrl-C stops)."""
    start = None if beginning else (last if last is not None else 0)

    async def run() -> None:
        async for record in kafka_ops.read(
            bootstrap or _bootstrap(), topic, last=start, follow=follow
        ):
            _show(record)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except LookupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@dlq.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="a topic or its .dlq topic")],
    bootstrap: Bootstrap = None,
) -> None:
    """The dead letters of a topic: where each came from, why, and when it expires (the
    dead-letter topic's retention, 30 days by default)."""
    server = bootstrap or _bootstrap()
    dlq = topic if topic.endswith(".dlq") else topic + ".dlq"
    letters = asyncio.run(kafka_ops.dead_letters(server, dlq))
    kept = asyncio.run(kafka_ops.retention_ms(server, dlq))
    table = Table("partition", "offset", "at", "expires", "service", "from", "reason")
    for r in letters:
        came = [header(r, DLQ_HEADER_PREFIX + part) for part in ("topic", "partition", "offset")]
        origin = f"{came[0]}[{came[1]}]@{came[2]}"
        expires = (
            "never"
            if kept is None
            else datetime.fromtimestamp((r.timestamp + kept) / 1000, UTC).isoformat(
                timespec="seconds"
            )
        )
        table.add_row(
            str(r.partition),
            str(r.offset),
            header(r, DLQ_HEADER_PREFIX + "at") or "",
            expires,
            header(r, DLQ_HEADER_PREFIX + "service") or "",
            origin,
            header(r, DLQ_HEADER_PREFIX + "reason") or "",
        )
    console.print(table)
    days = "never" if kept is None else f"after {kept / 86_400_000:g} days"
    console.print(f"{len(letters)} dead letters; each expires {days}")


@dlq.command("show")
def dlq_show(
    topic: Annotated[str, typer.Argument(help="a topic or its .dlq topic")],
    partition: Annotated[int, typer.Option(help="partition of the dead letter")],
    offset: Annotated[int, typer.Option(help="offset of the dead letter")],
    bootstrap: Bootstrap = None,
) -> None:
    """One dead letter in full, with each invalid field."""
    letters = asyncio.run(kafka_ops.dead_letters(bootstrap or _bootstrap(), topic))
    found = [r for r in letters if (r.partition, r.offset) == (partition, offset)]
    if not found:
        console.print(f"[red]no dead letter at partition {partition} offset {offset}[/red]")
        raise typer.Exit(1)
    _show(found[0])


@dlq.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="a topic or its .dlq topic")],
    partition: Annotated[int, typer.Option(help="partition of the dead letter")],
    offset: Annotated[int, typer.Option(help="offset of the dead letter")],
    bootstrap: Bootstrap = None,
) -> None:
    """Put a dead letter back on its original topic (after the cause is fixed)."""
    try:
        letter = asyncio.run(
            kafka_ops.replay(bootstrap or _bootstrap(), topic, partition=partition, offset=offset)
        )
    except LookupError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"replayed {letter.topic} [{letter.partition}] @{letter.offset}")


def _publish(message: Message, topic: Topic, source: str, bootstrap: str) -> str:
    async def run() -> str:
        broker = make_broker(bootstrap, client_id="osb-cli")
        await broker.start()
        try:
            event_id = str(uuid.uuid4())
            await publish(
                broker, message, topic=topic, key=key_of(message), source=source, event_id=event_id
            )
            return event_id
        finally:
            await broker.stop()

    return asyncio.run(run())


@app.command("publish-booking")
def publish_booking(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a booking as JSON")],
    bootstrap: Bootstrap = None,
) -> None:
    """Publish a booking from a file as the portal would (BookingSubmitted)."""
    try:
        booking = BookingSubmitted.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        for error in exc.errors():
            console.print(f"[red]{'.'.join(map(str, error['loc']))}: {error['msg']}[/red]")
        raise typer.Exit(2) from None
    event_id = _publish(booking, PORTAL_BOOKINGS, "/osb-cli/portal", bootstrap or _bootstrap())
    console.print(f"published booking {booking.booking_id} to {PORTAL_BOOKINGS.name} ({event_id})")


@app.command("delete-appointment")
def delete_appointment(
    appointment_id: Annotated[uuid.UUID, typer.Argument(help="the appointment's id")],
    branch: Annotated[str, typer.Option(help="the branch (Betrieb)")],
    reason: Annotated[str | None, typer.Option(help="why, as the DMS records it")] = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Delete an appointment as the DMS would (AppointmentDeleted)."""
    message = AppointmentDeleted(
        appointment_id=appointment_id,
        branch_id=branch,
        deleted_at=datetime.now(UTC),
        deleted_by="osb-cli",
        reason=reason,
    )
    event_id = _publish(message, DMS_APPOINTMENTS, "/osb-cli/dms", bootstrap or _bootstrap())
    console.print(f"published AppointmentDeleted for {appointment_id} ({event_id})")


@app.command("customer-arrived")
def customer_arrived(
    appointment_id: Annotated[uuid.UUID, typer.Argument(help="the appointment's id")],
    branch: Annotated[str, typer.Option(help="the branch (Betrieb)")],
    bootstrap: Bootstrap = None,
) -> None:
    """Check an appointment's customer in as the DMS would (CustomerArrived, now)."""
    message = CustomerArrived(
        appointment_id=appointment_id,
        branch_id=branch,
        arrived_at=datetime.now(UTC),
        recorded_by="osb-cli",
    )
    event_id = _publish(message, DMS_APPOINTMENTS, "/osb-cli/dms", bootstrap or _bootstrap())
    console.print(f"published CustomerArrived for {appointment_id} ({event_id})")


@simulate.command("portal")
def simulate_portal(
    interval: Annotated[
        float, typer.Option(help="seconds between bookings", envvar="OSB_PORTAL_INTERVAL")
    ] = 8.0,
    count: Annotated[int | None, typer.Option(help="stop after this many (default: never)")] = None,
    booking_prefix: Annotated[
        str, typer.Option(help="booking ids start with it", envvar="OSB_PORTAL_BOOKING_PREFIX")
    ] = "SIM",
    bootstrap: Bootstrap = None,
) -> None:
    """Book a steady trickle of realistic bookings, some cancelled, some invalid."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    portal = simulators.Portal.with_demo_customers(booking_prefix=booking_prefix)
    with contextlib.suppress(KeyboardInterrupt):
        sent = asyncio.run(
            simulators.run_portal(
                bootstrap or _bootstrap(), interval_s=interval, count=count, portal=portal
            )
        )
        console.print(f"{sent} portal messages")


@simulate.command("dms")
def simulate_dms(
    port: Annotated[
        int, typer.Option(help="HTTP port (GET /appointments, POST .../delete)")
    ] = 8027,
    lead_manager: Annotated[
        str, typer.Option(help="lead-manager's address, for the keys of the lead events")
    ] = "http://127.0.0.1:8002",
    bootstrap: Bootstrap = None,
) -> None:
    """Take the appointments, answer with master-data changes, delete an appointment on
    request, erase a customer when told. The lead events' sealed fields are opened with keys
    asked of lead-manager with the installation's OSB_PRIVACY_TOKEN."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    keyring = Keyring(lead_manager, ServiceSettings().privacy_token)
    asyncio.run(simulators.serve_dms(bootstrap or _bootstrap(), port=port, keyring=keyring))


@simulate.command("advisor")
def simulate_advisor(
    url: Annotated[str, typer.Option(help="lead-manager's address")] = "http://127.0.0.1:8002",
    interval: Annotated[float, typer.Option(help="seconds between looks at the new leads")] = 15.0,
) -> None:
    """Schedule some of the demo branches' new leads (with an e-mail confirmation, two hours
    ahead) and answer others with a counter-offer, as an advisor would; signs its own token
    with LEAD_MANAGER_JWT_SECRET."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    secret = os.environ.get("LEAD_MANAGER_JWT_SECRET")
    if not secret:
        raise typer.BadParameter("LEAD_MANAGER_JWT_SECRET is not set")
    token = issue_token(
        secret,
        user="sim-advisor",
        name="Simulierte Serviceberatung",
        branches={b: [Permission.LEAD_MANAGER] for b in simulators.ADVISOR_ACCEPTORS},
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(simulators.run_advisor(url, token, interval_s=interval))


Email = Annotated[str | None, typer.Option(help="the person's e-mail address")]
Phone = Annotated[str | None, typer.Option(help="the person's phone number (E.164)")]
Vin = Annotated[str | None, typer.Option(help="a VIN of the person's vehicle")]
CustomerNumber = Annotated[str | None, typer.Option(help="a DMS customer number")]
LeadManagerUrl = Annotated[str, typer.Option(help="lead-manager's address")]
OfficerToken = Annotated[
    str | None, typer.Option(envvar="OSB_TOKEN", help="a bearer token with PRIVACY_OFFICER")
]
# each service's database, as the services name the variable (make run prints the URLs)
DATABASES = {
    "lead-intake": ("LEAD_INTAKE_DATABASE_URL", "lead_intake"),
    "lead-manager": ("LEAD_MANAGER_DATABASE_URL", "lead_manager"),
    "customer-matching": ("CUSTOMER_MATCHING_DATABASE_URL", "customer_matching"),
    "notifier": ("NOTIFIER_DATABASE_URL", "notifier"),
}


@privacy_app.command("scan")
def privacy_scan(
    email: Email = None,
    phone: Phone = None,
    name: Annotated[list[str] | None, typer.Option(help="a name of the person")] = None,
    vin: Vin = None,
    database: Annotated[
        list[str] | None,
        typer.Option(help="service=URL (default: the services' *_DATABASE_URL variables)"),
    ] = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Every table of the four databases and every topic from its beginning searched for
    the person: where their data is, and what of it."""
    traces = privacy.Traces.of(email=email, phone=phone, names=name or [], vin=vin)
    if not traces.values:
        raise typer.BadParameter("name the person: --email, --phone, --name or --vin")
    urls = {
        service: os.environ.get(variable, f"postgresql://postgres@localhost/{db}")
        for service, (variable, db) in DATABASES.items()
    }
    for given in database or []:
        service, _, url = given.partition("=")
        urls[service] = url
    found = asyncio.run(privacy.scan(traces, databases=urls, bootstrap=bootstrap or _bootstrap()))
    table = Table("where", "rows or records", "what")
    for f in found:
        table.add_row(f.where, str(f.count), ", ".join(sorted(f.found)))
    console.print(table)
    console.print(f"found in {len(found)} places")


@privacy_app.command("export")
def privacy_export(
    email: Email = None,
    phone: Phone = None,
    customer_number: CustomerNumber = None,
    vin: Vin = None,
    url: LeadManagerUrl = "http://127.0.0.1:8002",
    token: OfficerToken = None,
    out: Annotated[Path | None, typer.Option(help="write the JSON here")] = None,
) -> None:
    """Everything every service holds about the person, as one JSON document (lead-manager's
    GET /api/v1/privacy/export)."""
    response = _privacy_request("export", url, token, email, phone, customer_number, vin)
    document = json.dumps(response.json(), indent=2, ensure_ascii=False)
    if out is None:
        print(document)
    else:
        out.write_text(document + "\n", encoding="utf-8")
        console.print(f"written to {out}")


@privacy_app.command("erase")
def privacy_erase(
    email: Email = None,
    phone: Phone = None,
    customer_number: CustomerNumber = None,
    vin: Vin = None,
    url: LeadManagerUrl = "http://127.0.0.1:8002",
    token: OfficerToken = None,
) -> None:
    """Erase the person from every service's database and every topic (lead-manager's POST
    /api/v1/privacy/erase): what was erased per table and topic, and what it does not reach."""
    response = _privacy_request("erase", url, token, email, phone, customer_number, vin)
    done = response.json()
    table = Table("table", "rows")
    for service in done["services"]:
        for name, count in sorted(service["rows"].items()):
            table.add_row(name, str(count))
    console.print(table)
    for line in done["not_yet"]:
        console.print(f"[yellow]not yet:[/yellow] {line}")


def _privacy_request(
    what: str,
    url: str,
    token: str | None,
    email: str | None,
    phone: str | None,
    customer_number: str | None,
    vin: str | None,
) -> httpx.Response:
    if token is None:
        raise typer.BadParameter("a token is needed: --token or OSB_TOKEN (osb token ...)")
    person = {"email": email, "phone": phone, "customer_number": customer_number, "vin": vin}
    response = httpx.request(
        "GET" if what == "export" else "POST",
        f"{url.rstrip('/')}/api/v1/privacy/{what}",
        params={k: v for k, v in person.items() if v},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}: {response.text}[/red]")
        raise typer.Exit(1)
    return response


if __name__ == "__main__":
    app()
