"""``customer-matching``: serve, import the customer master, load demo master data."""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from osb_contracts.dms import MasterChange, VehicleMasterChanged
from osb_contracts.values import Vehicle
from osb_platform.db import make_engine, upgrade
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from customer_matching.adapters.bulk import import_file
from customer_matching.adapters.replica import apply_vehicle_changes
from customer_matching.entrypoints.app import MIGRATIONS
from customer_matching.entrypoints.app import main as serve_main
from customer_matching.settings import Settings

app = typer.Typer(help="OSB customer-matching.", no_args_is_help=True)
console = Console()


@app.command()
def serve() -> None:
    """Run the service (replica writer, index, request responder)."""
    serve_main()


@app.command("import")
def import_master(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".csv or .jsonl")],
    report_to: Annotated[Path | None, typer.Option(help="write the bad rows here (CSV)")] = None,
) -> None:
    """Load the customer master from a file; bad rows are reported and skipped."""
    report = asyncio.run(_import(path))
    console.print(f"read {report.read:,}, loaded {report.loaded:,}, rejected {len(report.bad):,}")
    if report.bad:
        table = Table("line", "field", "reason")
        for bad in report.bad[:20]:
            table.add_row(str(bad.line), bad.field, bad.reason)
        console.print(table)
        if len(report.bad) > 20:
            console.print(f"... and {len(report.bad) - 20:,} more")
    if report_to is not None:
        with report_to.open("w", encoding="utf-8") as out:
            out.write("line,field,reason\n")
            for bad in report.bad:
                out.write(f'{bad.line},{bad.field},"{bad.reason.replace(chr(34), chr(39))}"\n')


async def _import(path: Path):  # type: ignore[no-untyped-def]
    settings = Settings()
    engine = make_engine(settings.database_url, pool_size=1)
    await upgrade(engine, MIGRATIONS)
    lines = sum(1 for _ in path.open(encoding="utf-8"))
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("import", total=lines)
        report = await import_file(engine, path, progress=lambda n: progress.advance(task, n))
        progress.update(task, completed=lines)
    await engine.dispose()
    return report


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="how many demo customers")] = 2000,
    seed: int = 42,
) -> None:
    """Load realistic demo master data (Faker, de_DE and de_AT) unless already there."""
    from customer_matching.demo import generate

    asyncio.run(_demo(customers, seed, generate))


async def _demo(count: int, seed: int, generate):  # type: ignore[no-untyped-def]
    settings = Settings()
    engine = make_engine(settings.database_url, pool_size=1)
    await upgrade(engine, MIGRATIONS)
    async with engine.connect() as conn:
        from sqlalchemy import text

        existing = await conn.scalar(
            text("SELECT count(*) FROM customers WHERE customer_number LIKE 'DMS%'")
        )
    if existing:
        console.print(f"demo master data already loaded ({existing:,} customers)")
        await engine.dispose()
        return
    customers, vehicles = generate(count, random.Random(seed))  # noqa: S311 - demo data
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as out:
        for c in customers:
            out.write(
                json.dumps({**c.model_dump(mode="json"), "revision": 1}, ensure_ascii=False) + "\n"
            )
    report = await import_file(engine, Path(out.name))
    Path(out.name).unlink()  # noqa: ASYNC240 - a local temp file, once
    now = datetime.now(UTC)
    changes = [
        VehicleMasterChanged(
            change=MasterChange.UPSERT,
            vin=v.vin or "",
            revision=1,
            changed_at=now,
            owner_customer_number=owner,
            vehicle=v,
        )
        for owner, v in vehicles
    ]
    async with engine.begin() as conn:
        await apply_vehicle_changes(conn, changes)
    console.print(f"demo master data: {report.loaded:,} customers, {len(changes):,} vehicles")
    await engine.dispose()


def main() -> None:
    app()


__all__ = ["Vehicle", "app", "main"]
