"""The real Apache Kafka broker in KRaft mode, from Maven Central jars: one node, or a cluster
of ``OSB_KAFKA_BROKERS`` nodes (each broker and controller; replication 3, two in sync)."""

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
    node: int = 0  # 0: the single broker; 1..n: a node of the local cluster

    @property
    def home(self) -> Path:
        if self.node:
            return Path(self.settings.run_dir / "kafka-cluster" / f"node-{self.node}")
        return Path(self.settings.run_dir / "kafka")

    @property
    def libs(self) -> Path:
        return Path(self.settings.run_dir / "kafka" / "libs")

    @property
    def port(self) -> int:
        return self.settings.osb_kafka_port + self._shift

    @property
    def controller_port(self) -> int:
        return self.settings.osb_kafka_controller_port + self._shift

    @property
    def sasl_port(self) -> int:
        return self.settings.osb_kafka_sasl_port + self._shift

    @property
    def _shift(self) -> int:  # node 1 on the usual ports, node n ten further per node
        return 10 * max(self.node - 1, 0)

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
        return f"localhost:{self.port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        """A second listener with SASL/PLAIN, to try the clients' SASL settings on."""
        return f"localhost:{self.sasl_port}"

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
        port, cport, sport = self.port, self.controller_port, self.sasl_port
        user, password = self.sasl_credentials()
        nodes = cluster(self.settings) if self.node else [self]
        voters = ",".join(f"{n.node or 1}@localhost:{n.controller_port}" for n in nodes)
        # a cluster keeps three copies of everything and acknowledges a write once two have
        # it; a single broker keeps one
        replicas, in_sync = min(3, len(nodes)), 2 if len(nodes) >= 3 else 1
        config = self.home / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node or 1}",
                    f"controller.quorum.voters={voters}",
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
                    f"default.replication.factor={replicas}",
                    f"min.insync.replicas={in_sync}",
                    f"offsets.topic.replication.factor={replicas}",
                    "offsets.topic.num.partitions=12",
                    f"transaction.state.log.replication.factor={replicas}",
                    f"transaction.state.log.min.isr={in_sync}",
                    f"share.coordinator.state.topic.replication.factor={replicas}",
                    f"share.coordinator.state.topic.min.isr={in_sync}",
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
        cluster_id = self._cluster_id()
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config))
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaError(
                f"formatting the Kafka log directory failed:\n{result.stdout}{result.stderr}"
            )

    def _cluster_id(self) -> str:
        """The nodes of a cluster share one id (kept beside them); a single broker has its own."""
        kept = self.home.parent / "cluster.id" if self.node else None
        if kept is not None and kept.exists():
            return kept.read_text().strip()
        # Kafka's cluster ids are 16 random bytes, URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if kept is not None:
            kept.write_text(cluster_id)
        return cluster_id

    def start(self, *, timeout: float = 90.0) -> bool:
        """Start the broker unless it runs; wait until it accepts connections. True if started."""
        proc = self.launch()
        if proc is None:
            return False
        self.wait_ready(proc, timeout=timeout)
        return True

    def launch(self) -> subprocess.Popen[bytes] | None:
        """Start the broker's process unless it runs, without waiting for it."""
        if self.is_running():
            return None
        self.fetch()
        self.home.mkdir(parents=True, exist_ok=True)
        if _port_open(self.port):
            raise KafkaError(
                f"port {self.port} is taken by another process; "
                "set OSB_KAFKA_PORT or KAFKA_BOOTSTRAP_SERVERS"
            )
        config = self._write_config()
        self._format(config)
        heap = self.settings.osb_kafka_cluster_heap if self.node else self.settings.osb_kafka_heap
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(config), heap=heap),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal goes to us, not the broker
                cwd=self.home,
            )
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(str(proc.pid))
        return proc

    def wait_ready(self, proc: subprocess.Popen[bytes], *, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KafkaError(f"the broker exited with {proc.returncode}; see {self.log_file}")
            if _broker_ready(self.bootstrap_servers):
                return
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


def cluster(settings: InfraSettings) -> list[LocalKafka]:
    """The local brokers ``OSB_KAFKA_BROKERS`` asks for: the single broker, or the nodes."""
    if settings.osb_kafka_brokers <= 1:
        return [LocalKafka(settings)]
    return [LocalKafka(settings, node) for node in range(1, settings.osb_kafka_brokers + 1)]


def start_cluster(brokers: list[LocalKafka], *, timeout: float = 120.0) -> bool:
    """Start the brokers not running; True if any was started. Every node is launched before
    any is waited for: a node is ready only once a majority of the controllers runs."""
    launched = [(b, proc) for b in brokers if (proc := b.launch()) is not None]
    for broker, proc in launched:
        broker.wait_ready(proc, timeout=timeout)
    return bool(launched)


def every_local_broker(settings: InfraSettings) -> list[LocalKafka]:
    """The single broker and every node a cluster ever had here (to stop whatever runs)."""
    nodes = sorted((settings.run_dir / "kafka-cluster").glob("node-*"))
    return [LocalKafka(settings)] + [LocalKafka(settings, int(n.name[5:])) for n in nodes]


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
