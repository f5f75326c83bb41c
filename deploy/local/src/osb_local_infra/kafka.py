"""The real Apache Kafka broker, single node in KRaft mode, from Maven Central jars."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from osb_local_infra.settings import REPO_ROOT, InfraSettings

POM = REPO_ROOT / "deploy" / "local" / "kafka" / "pom.xml"
LOG4J2 = REPO_ROOT / "deploy" / "local" / "kafka" / "log4j2.properties"


# Brokers this process started: kept so they are reaped (not left as zombies) on stop.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class KafkaError(RuntimeError):
    """The local broker could not be fetched, formatted, started or stopped."""


@dataclass(frozen=True)
class LocalKafka:
    settings: InfraSettings

    @property
    def home(self) -> Path:
        return Path(self.settings.run_dir / "kafka")

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def pid_file(self) -> Path:
        return self.home / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def bootstrap_servers(self) -> str:
        return f"localhost:{self.settings.osb_kafka_port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        """A second listener with SASL/PLAIN, to try the clients' SASL settings on."""
        return f"localhost:{self.settings.osb_kafka_sasl_port}"

    def sasl_credentials(self) -> tuple[str, str]:
        """The local SASL user and its password (made once, kept in the run folder)."""
        secret = self.settings.run_dir / "secrets" / "kafka-sasl-password"
        if not secret.exists():
            secret.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            secret.write_text(secrets.token_urlsafe(24))
            secret.chmod(0o600)
        return "osb", secret.read_text().strip()

    # -- jars -----------------------------------------------------------------------------
    def fetch(self) -> None:
        """Resolve the broker's class path with Maven (skipped while the pom is unchanged)."""
        stamp = self.libs / ".pom.sha256"
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()
        if stamp.exists() and stamp.read_text() == digest:
            return
        if shutil.which("mvn") is None:
            raise KafkaError("Maven (mvn) is needed to fetch the Kafka jars from Maven Central")
        if self.libs.exists():
            shutil.rmtree(self.libs)
        self.libs.mkdir(parents=True)
        cmd = [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={self.libs}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaError(f"mvn failed:\n{result.stdout}\n{result.stderr}")
        stamp.write_text(digest)

    # -- process --------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        # A recycled pid is not our broker.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return None
        return pid if b"kafka.Kafka" in cmdline else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def _write_config(self) -> Path:
        port, cport = self.settings.osb_kafka_port, self.settings.osb_kafka_controller_port
        sport = self.settings.osb_kafka_sasl_port
        user, password = self.sasl_credentials()
        config = self.home / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@localhost:{cport}",
                    f"listeners=PLAINTEXT://localhost:{port},CONTROLLER://localhost:{cport},"
                    f"SASL_PLAINTEXT://localhost:{sport}",
                    f"advertised.listeners=PLAINTEXT://localhost:{port},"
                    f"SASL_PLAINTEXT://localhost:{sport}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                    "SASL_PLAINTEXT:SASL_PLAINTEXT",
                    "sasl.enabled.mechanisms=PLAIN",
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config="
                    "org.apache.kafka.common.security.plain.PlainLoginModule required "
                    f'user_{user}="{password}";',
                    "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN",
                    f"log.dirs={self.data}",
                    # Topics come from the registry with their real partition counts.
                    "auto.create.topics.enable=false",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=12",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.hours=168",
                    "",
                ]
            )
        )
        return config

    def _java(self, *args: str, heap: str = "256m") -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise KafkaError("Java 17+ is needed to run the Kafka broker")
        return [
            java,
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2}",
            f"-Dkafka.logs.dir={self.home}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def _format(self, config: Path) -> None:
        if (self.data / "meta.properties").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        # Kafka's cluster ids are 16 random bytes, URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config))
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaError(
                f"formatting the Kafka log directory failed:\n{result.stdout}{result.stderr}"
            )

    def start(self, *, timeout: float = 90.0) -> bool:
        """Start the broker unless it runs; wait until it accepts connections. True if started."""
        if self.is_running():
            return False
        self.fetch()
        self.home.mkdir(parents=True, exist_ok=True)
        if _port_open(self.settings.osb_kafka_port):
            raise KafkaError(
                f"port {self.settings.osb_kafka_port} is taken by another process; "
                "set OSB_KAFKA_PORT or KAFKA_BOOTSTRAP_SERVERS"
            )
        config = self._write_config()
        self._format(config)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(config), heap=self.settings.osb_kafka_heap),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal goes to us, not the broker
                cwd=self.home,
            )
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KafkaError(f"the broker exited with {proc.returncode}; see {self.log_file}")
            if _broker_ready(self.bootstrap_servers):
                return True
            time.sleep(0.5)
        self.stop()
        raise KafkaError(f"the broker did not become ready in {timeout:.0f} s; see {self.log_file}")

    def stop(self, *, timeout: float = 60.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout``). True if it ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait()
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _broker_ready(bootstrap: str) -> bool:
    """The broker answers a metadata request (the controller has elected it)."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError as AIOKafkaError

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return True
        except (AIOKafkaError, OSError):
            return False
        finally:
            await admin.close()

    if not _port_open(int(bootstrap.rsplit(":", 1)[1])):
        return False
    return asyncio.run(probe())
