"""``notifier``: serve."""

from __future__ import annotations

import typer

from notifier.entrypoints.app import main as serve_main

app = typer.Typer(help="OSB notifier.", no_args_is_help=True)


@app.callback()
def commands() -> None:
    """A command is always named (``notifier serve``), as for every service."""


@app.command()
def serve() -> None:
    """Run the service (the lead-event subscriber, the dispatcher, the outbox relay)."""
    serve_main()


def main() -> None:
    app()
