"""Each service's migrations build exactly what its SQLAlchemy tables describe: after
``upgrade`` to head on an empty database, Alembic's autogenerate comparison finds nothing
to add, drop or change (columns, types, nullability, indexes, constraints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from customer_matching.adapters.tables import metadata as customer_matching_tables
from customer_matching.entrypoints.app import MIGRATIONS as CUSTOMER_MATCHING
from lead_intake.adapters.tables import metadata as lead_intake_tables
from lead_intake.entrypoints.app import MIGRATIONS as LEAD_INTAKE
from lead_manager.adapters.tables import metadata as lead_manager_tables
from lead_manager.entrypoints.app import MIGRATIONS as LEAD_MANAGER
from notifier.adapters.tables import metadata as notifier_tables
from notifier.entrypoints.app import MIGRATIONS as NOTIFIER
from osb_platform.db import make_engine, upgrade
from osb_platform.outbox import create_outbox_and_inbox, inbox_table, outbox_table
from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Connection

pytestmark = pytest.mark.integration

SERVICES: dict[str, tuple[Path, MetaData]] = {
    "lead-intake": (LEAD_INTAKE, lead_intake_tables),
    "lead-manager": (LEAD_MANAGER, lead_manager_tables),
    "customer-matching": (CUSTOMER_MATCHING, customer_matching_tables),
    "notifier": (NOTIFIER, notifier_tables),
}


def _differences(connection: Connection, tables: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    return list(compare_metadata(context, tables))


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_the_migrations_build_what_the_tables_describe(
    scratch_database: str, service: str
) -> None:
    migrations, tables = SERVICES[service]
    engine = make_engine(scratch_database, pool_size=1)
    try:
        await upgrade(engine, migrations)
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences, tables)
    finally:
        await engine.dispose()
    assert differences == []


def _platform_tables(connection: Connection) -> list[Any]:
    """What a new service's first migration gets from ``create_outbox_and_inbox``."""
    context = MigrationContext.configure(connection)
    create_outbox_and_inbox(Operations(context))
    described = MetaData()
    outbox_table(described)
    inbox_table(described)
    return _differences(connection, described)


async def test_a_new_migration_creates_the_outbox_and_inbox_as_the_platform_describes_them(
    scratch_database: str,
) -> None:
    engine = make_engine(scratch_database, pool_size=1)
    try:
        async with engine.begin() as conn:
            differences = await conn.run_sync(_platform_tables)
            tables = await conn.run_sync(lambda c: sorted(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert (differences, tables) == ([], ["inbox", "outbox"])
