"""PostgreSQL through SQLAlchemy 2 async (asyncpg), migrations through Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """``postgresql://`` (what the infrastructure hands out) with the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("a PostgreSQL URL starts with postgresql://")


def make_engine(url: str, *, pool_size: int = 10, **options: object) -> AsyncEngine:
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **options
    )


async def upgrade(engine: AsyncEngine, migrations: Path, revision: str = "head") -> None:
    """Run the Alembic migrations in ``migrations`` (a folder with env.py and versions/)."""

    def run(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
