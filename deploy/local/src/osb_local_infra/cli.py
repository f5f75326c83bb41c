"""``osb-infra``: the local infrastructure from the command line (``make infra-*`` call it)."""

from __future__ import annotations

import asyncio
import shlex
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from osb_local_infra import infra
from osb_local_infra.kafka import KafkaError, LocalKafka, cluster
from osb_local_infra.postgres import LocalPostgres, PostgresError
from osb_local_infra.settings import InfraSettings
from osb_local_infra.topics import describe_topics

app = typer.Typer(help="Local Kafka and PostgreSQL for the OSB pipeline.", no_args_is_help=True)
console = Console(soft_wrap=True)


@app.command()
def fetch() -> None:
    """Resolve the Kafka broker's jars from Maven Central (skipped when already there)."""
    settings = InfraSettings()
    if settings.external_kafka:
        console.print("KAFKA_BOOTSTRAP_SERVERS is set: no local broker needed")
        return
    LocalKafka(settings).fetch()
    console.print(f"Kafka jars in {LocalKafka(settings).libs}")


@app.command()
def up() -> None:
    """Start Kafka and PostgreSQL (unless external), create topics and databases."""
    try:
        result = infra.up()
    except (KafkaError, PostgresError, OSError) as exc:
        console.print(f"[red]infrastructure failed to start:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"started: {', '.join(result.started) or 'nothing (already running or external)'}"
    )
    console.print(
        f"Kafka: {result.bootstrap_servers}; topics created: {len(result.topics_created)}"
    )
    for service, url in result.database_urls.items():
        console.print(f"PostgreSQL {service}: {url}")


@app.command()
def down() -> None:
    """Stop the local Kafka and PostgreSQL (external servers are left alone)."""
    stopped = infra.down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status() -> None:
    """Show what runs, the topics with their partition counts, and each service database."""
    settings = InfraSettings()
    pg = LocalPostgres(settings)
    ok = True
    if settings.external_kafka:
        console.print(f"Kafka: external {settings.kafka_bootstrap_servers}")
    for kafka in [] if settings.external_kafka else cluster(settings):
        running = "running" if kafka.is_running() else "stopped"
        node = f" node {kafka.node}" if kafka.node else ""
        console.print(f"Kafka{node}: local, {running} ({kafka.bootstrap_servers})")
    if settings.external_postgres:
        console.print("PostgreSQL: external")
    else:
        running = "running" if pg.is_running() else "stopped"
        console.print(f"PostgreSQL: local, {running} ({pg.pgdata})")
    try:
        current = infra.current(settings)
    except PostgresError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    table = Table("topic", "partitions", "wanted")
    try:
        topics = describe_topics(current.bootstrap_servers, client=infra.client_options(settings))
        for state in asyncio.run(topics):
            ok &= state.partitions == state.wanted_partitions
            table.add_row(
                state.name, str(state.partitions or "missing"), str(state.wanted_partitions)
            )
        console.print(table)
    except Exception as exc:
        ok = False
        console.print(f"[red]Kafka unreachable:[/red] {exc}")
    for service, reached in infra.database_status(current).items():
        ok &= reached == "ok"
        console.print(f"database {service}: {reached}")
    raise typer.Exit(0 if ok else 1)


@app.command()
def env() -> None:
    """Print the settings services need, as shell exports (eval "$(osb-infra env)")."""
    try:
        current = infra.current()
    except PostgresError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    for name, value in current.env().items():
        print(f"export {name}={shlex.quote(value)}")


@app.command()
def asyncapi(
    check: Annotated[bool, typer.Option(help="only check that docs/asyncapi is current")] = False,
) -> None:
    """Write each service's AsyncAPI document to docs/asyncapi/ (or check it is current)."""
    from osb_local_infra import asyncapi as docs

    if check:
        if outdated := docs.stale():
            print(f"stale: {', '.join(outdated)}; run `make asyncapi`")
            raise typer.Exit(1)
        print("docs/asyncapi is current")
        return
    for path in docs.write():
        print(f"wrote {path}")


@app.command()
def manifests(
    check: Annotated[bool, typer.Option(help="only check topics.yaml is current")] = False,
) -> None:
    """Write the topic registry as Strimzi KafkaTopic resources to deploy/k8s/topics.yaml."""
    from osb_local_infra import manifests as k8s

    if check:
        if k8s.stale():
            print("deploy/k8s/topics.yaml is stale; run `make manifests`")
            raise typer.Exit(1)
        print("deploy/k8s/topics.yaml is current")
        return
    print(f"wrote {k8s.write()}")


@app.command("run")
def run_all() -> None:
    """Bring up the infrastructure and every service; Ctrl-C stops all of it."""
    from osb_local_infra.run import run

    raise typer.Exit(run(console.print))


if __name__ == "__main__":
    app()
