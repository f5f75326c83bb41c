"""A TCP forwarder a test can take down and bring back: a dependency that goes away (new
connections refused, open ones cut) without stopping the server other tests share."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit, urlunsplit

from osb_testing.processes import free_port


def database_proxy(url: str) -> tuple[TcpProxy, str]:
    """A proxy in front of the PostgreSQL server of ``url`` (Unix socket or TCP), and the
    same database's URL through it (not up yet)."""
    real = urlsplit(url)
    socket_dir = parse_qs(real.query).get("host", [""])[0]
    port = real.port or 5432
    # the local server listens on a Unix socket, a configured one on TCP
    proxy = TcpProxy(f"{socket_dir}/.s.PGSQL.{port}" if socket_dir else (real.hostname or "", port))
    user = real.username or "postgres"
    auth = f"{user}:{real.password}" if real.password else user
    return proxy, urlunsplit(real._replace(netloc=f"{auth}@127.0.0.1:{proxy.port}", query=""))


class TcpProxy:
    """Listens on a free local port; forwards to ``target``: (host, port) or a Unix socket."""

    def __init__(self, target: tuple[str, int] | str) -> None:
        self.target = target
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def down(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _pipe(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            if isinstance(self.target, str):
                server_r, server_w = await asyncio.open_unix_connection(self.target)
            else:
                server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._copy(client_r, server_w), self._copy(server_r, client_w), return_exceptions=True
        )

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
