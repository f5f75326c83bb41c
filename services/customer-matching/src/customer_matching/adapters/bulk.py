"""Bulk import of the customer master (the initial load): CSV or JSON Lines.

Each row is validated as a master customer; bad rows are reported (line, field, reason)
and skipped, good rows are loaded by COPY into a staging table and merged into the replica
with the same rule as master changes (a newer revision wins).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osb_contracts.values import Customer
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CSV_COLUMNS = (
    "customer_number", "revision", "salutation", "title", "first_name", "last_name", "company",
    "email", "phone", "mobile", "birth_date", "street", "house_number", "postcode", "city",
    "country",
)  # fmt: skip
_ADDRESS = ("street", "house_number", "postcode", "city", "country")


@dataclass(frozen=True)
class BadRow:
    line: int
    field: str
    reason: str


@dataclass
class ImportReport:
    read: int = 0
    loaded: int = 0
    bad: list[BadRow] = field(default_factory=list)


def rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, fields) from a .csv (header row) or a .jsonl file."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for row in reader:
                yield reader.line_num, dict(row)
    else:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, {"__error__": f"row: not JSON ({exc.msg})"}


def to_customer(raw: dict[str, Any]) -> tuple[Customer, int]:
    """A master customer and its revision; raises ValueError or ValidationError."""
    if "__error__" in raw:
        raise ValueError(raw["__error__"])
    flat = {k: (v if v != "" else None) for k, v in raw.items()}
    address = flat.pop("address", None) or {k: flat.pop(k, None) for k in _ADDRESS}
    address = {k: v for k, v in address.items() if v is not None}
    revision = int(flat.pop("revision", None) or 1)
    customer = Customer.model_validate({**flat, "address": address})
    if not customer.customer_number:
        raise ValueError("customer_number: required for a master customer")
    return customer, revision


async def import_file(
    engine: AsyncEngine,
    path: Path,
    *,
    chunk: int = 20_000,
    progress: Callable[[int], None] = lambda _: None,
) -> ImportReport:
    report = ImportReport()
    batch: list[tuple[str, int, str]] = []
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TEMP TABLE staging_customers "
                "(customer_number text, revision int8, data text) ON COMMIT DROP"
            )
        )
        raw_conn = await conn.get_raw_connection()
        driver: Any = raw_conn.driver_connection
        for line, raw in rows(path):
            report.read += 1
            try:
                customer, revision = to_customer(raw)
            except ValidationError as exc:
                for err in exc.errors():
                    where = ".".join(str(p) for p in err["loc"]) or "row"
                    report.bad.append(BadRow(line, where, err["msg"]))
                continue
            except (ValueError, TypeError) as exc:
                reason = str(exc)
                where, _, message = reason.partition(": ")
                report.bad.append(BadRow(line, where if message else "row", message or reason))
                continue
            batch.append(
                (
                    str(customer.customer_number),
                    revision,
                    json.dumps(customer.model_dump(mode="json"), ensure_ascii=False),
                )
            )
            if len(batch) >= chunk:
                await driver.copy_records_to_table("staging_customers", records=batch)
                report.loaded += len(batch)
                progress(len(batch))
                batch = []
        if batch:
            await driver.copy_records_to_table("staging_customers", records=batch)
            report.loaded += len(batch)
            progress(len(batch))
        await conn.execute(
            text(
                """
                INSERT INTO customers (customer_number, revision, deleted, data, change_seq)
                SELECT DISTINCT ON (customer_number) customer_number, revision, false,
                       CAST(data AS jsonb), nextval('master_change_seq')
                FROM staging_customers ORDER BY customer_number, revision DESC
                ON CONFLICT (customer_number) DO UPDATE
                   SET revision = excluded.revision, deleted = false, data = excluded.data,
                       change_seq = excluded.change_seq, updated_at = now()
                 WHERE customers.revision < excluded.revision
                """
            )
        )
    return report
