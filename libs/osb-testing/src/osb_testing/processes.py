"""Services as real processes, for end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """``python -m <args>`` with ``env``, ready when ``/health/ready`` answers 200."""

    name: str
    args: list[str]
    env: dict[str, str]
    port: int
    logs: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once, the child runs on
                [sys.executable, "-m", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        async with httpx.AsyncClient() as http, asyncio.timeout(timeout):
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"{self.name} exited with {self.proc.returncode}; see {self.logs}"
                    )
                try:
                    if (await http.get(f"{self.url}/health/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait; SIGKILL after ``timeout``. The exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def another(self, instance: int) -> ServiceProcess:
        """One more instance of the same service: the same settings and consumer groups, its
        own HTTP port and log file."""
        port = free_port()
        key = f"{self.args[0].upper()}_HTTP_PORT"  # lead_intake -> LEAD_INTAKE_HTTP_PORT
        assert key in self.env, f"{self.name}'s port is not set by {key}"
        return ServiceProcess(
            f"{self.name.split('.')[0]}.{instance}",
            self.args,
            {**self.env, key: str(port)},
            port,
            self.logs,
        )
