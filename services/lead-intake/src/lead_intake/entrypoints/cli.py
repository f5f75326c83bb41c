"""``lead-intake``: serve."""

from __future__ import annotations

import typer

from lead_intake.entrypoints.app import main as serve_main

app = typer.Typer(help="OSB lead-intake.", no_args_is_help=True)


@app.callback()
def commands() -> None:
    """A command is always named (``lead-intake serve``), as for every service."""


@app.command()
def serve() -> None:
    """Run the service (the portal subscriber and POST /api/v1/bookings)."""
    serve_main()


def main() -> None:
    app()
