"""``make run``: the infrastructure and every service, until Ctrl-C stops them all cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from osb_local_infra import infra as local_infra
from osb_local_infra.settings import InfraSettings


@dataclass(frozen=True)
class ServiceProcess:
    """A process `make run` starts, with the places a person can look at it."""

    name: str
    command: list[str]
    links: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    setup: list[list[str]] = field(default_factory=list)  # run to completion first
    # A link completed with what a command prints (the page's sign-in link with a token).
    signed_link: tuple[str, str, list[str]] | None = None


def _service_links(port: int, **more: str) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    return {
        **more,
        "API docs": f"{base}/docs",
        "AsyncAPI": f"{base}/asyncapi",
        "metrics": f"{base}/metrics",
    }


def services(run_dir: Path, base: int = 8000) -> list[ServiceProcess]:
    """Everything `make run` starts, in order; HTTP and SMTP ports from ``base`` on."""
    intake, manager, matching, notifier = base + 1, base + 2, base + 3, base + 4
    smtp, sms, dms = base + 25, base + 26, base + 27
    return [
        ServiceProcess(
            "mail",
            [
                *(sys.executable, "-m", "osb_local_infra.mailsink"),
                *("--folder", str(run_dir / "mail"), "--port", str(smtp)),
            ],
            links={"SMTP": f"127.0.0.1:{smtp}", "mails (.eml)": str(run_dir / "mail")},
        ),
        ServiceProcess(
            "sms",
            [
                *(sys.executable, "-m", "osb_local_infra.smssink"),
                *("--folder", str(run_dir / "sms"), "--port", str(sms)),
            ],
            links={"gateway": f"http://127.0.0.1:{sms}/sms", "messages": str(run_dir / "sms")},
        ),
        ServiceProcess(
            "lead-intake",
            [sys.executable, "-m", "lead_intake", "serve"],
            links=_service_links(
                intake,
                **{
                    "POST a booking": f"http://127.0.0.1:{intake}/api/v1/bookings",
                    "customers' links": f"http://127.0.0.1:{intake}/termin/<token>",
                },
            ),
            env={"LEAD_INTAKE_HTTP_PORT": str(intake)},
        ),
        ServiceProcess(
            "lead-manager",
            [sys.executable, "-m", "lead_manager", "serve"],
            setup=[[sys.executable, "-m", "lead_manager", "seed-demo"]],
            links=_service_links(
                manager,
                **{
                    "a person's export": "uv run osb privacy export --email <address> --token "
                    "$(LEAD_MANAGER_JWT_SECRET=$(cat .local/secrets/jwt-secret) uv run osb "
                    "token --permission PRIVACY_OFFICER --branch HH-01 --branch M-01)"
                },
            ),
            env={
                "LEAD_MANAGER_HTTP_PORT": str(manager),
                # asked for a person's data (issue 19)
                "LEAD_MANAGER_PRIVACY_PEERS": json.dumps(
                    {
                        "lead-intake": f"http://127.0.0.1:{intake}",
                        "customer-matching": f"http://127.0.0.1:{matching}",
                        "notifier": f"http://127.0.0.1:{notifier}",
                    }
                ),
            },
            signed_link=(
                "web page (signed in as Anna, every permission)",
                f"http://127.0.0.1:{manager}/#token=",
                [
                    sys.executable,
                    "-m",
                    "lead_manager",
                    "token",
                    *("--branch", "HH-01", "--branch", "M-01", "--branch", "W-01"),
                    *("--permission", "LEAD_MANAGER", "--permission", "OSB_ADMIN"),
                    *("--permission", "EDIT_CANCELLED"),
                ],
            ),
        ),
        ServiceProcess(
            "customer-matching",
            [sys.executable, "-m", "customer_matching", "serve"],
            setup=[[sys.executable, "-m", "customer_matching", "demo", "--customers", "2000"]],
            links=_service_links(matching, index=f"http://127.0.0.1:{matching}/index"),
            env={"CUSTOMER_MATCHING_HTTP_PORT": str(matching)},
        ),
        ServiceProcess(
            "notifier",
            [sys.executable, "-m", "notifier", "serve"],
            links=_service_links(
                notifier,
                **{
                    "answer an SMS with STOP": (
                        "curl -H 'Authorization: Bearer '$(cat .local/secrets/"
                        "sms-reply-token) -H 'Content-Type: application/json' -d "
                        f'\'{{"from": "+49...", "text": "STOP"}}\' '
                        f"http://127.0.0.1:{notifier}/api/v1/sms/replies"
                    )
                },
            ),
            env={
                "NOTIFIER_HTTP_PORT": str(notifier),
                "NOTIFIER_SMTP_PORT": str(smtp),
                "NOTIFIER_SMS_GATEWAY_URL": f"http://127.0.0.1:{sms}/sms",
                "NOTIFIER_CUSTOMER_LINK_BASE_URL": f"http://127.0.0.1:{intake}",
                "NOTIFIER_LEAD_MANAGER_URL": f"http://127.0.0.1:{manager}",  # the leads' keys
            },
        ),
        ServiceProcess(
            "dms",
            [
                *(sys.executable, "-m", "osb_cli.main", "simulate", "dms", "--port", str(dms)),
                *("--lead-manager", f"http://127.0.0.1:{manager}"),
            ],
            links={
                "appointments": f"http://127.0.0.1:{dms}/appointments",
                "delete one": f"curl -X POST http://127.0.0.1:{dms}/appointments/<id>/delete",
            },
        ),
        ServiceProcess(
            "advisor",
            [
                *(sys.executable, "-m", "osb_cli.main", "simulate", "advisor"),
                *("--url", f"http://127.0.0.1:{manager}"),
            ],
            links={"what it decided": "the confirmations and counter-offers in .local/mail"},
        ),
        ServiceProcess(
            "portal",
            [sys.executable, "-m", "osb_cli.main", "simulate", "portal"],
            links={"bookings": "uv run osb tail osb.portal.bookings.v1"},
        ),
    ]


def local_secrets(settings: InfraSettings) -> dict[str, str]:
    """Secrets for the local run, made once and kept in the run folder (never in the repo)."""
    folder = settings.run_dir / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = {}
    for name, variable in (
        ("jwt-secret", "LEAD_MANAGER_JWT_SECRET"),
        ("customer-link-secret", "OSB_CUSTOMER_LINK_SECRET"),  # lead-intake and the notifier
        ("sms-reply-token", "NOTIFIER_SMS_REPLY_TOKEN"),  # the SMS gateway's STOP callback
        # the services' export and erasure of a person's data, the leads' keys
        ("privacy-token", "OSB_PRIVACY_TOKEN"),
    ):
        file = folder / name
        if not file.exists():
            file.write_text(secrets.token_urlsafe(48))
            file.chmod(0o600)
        made[variable] = file.read_text().strip()
    return made


def where(
    say: Callable[[str], None],
    started: local_infra.Infra,
    specs: list[ServiceProcess],
    env: dict[str, str],
    run_dir: Path,
) -> None:
    """Print where everything is."""
    say("")
    say("The OSB lead pipeline is up.")
    say(f"  Kafka              {started.bootstrap_servers}")
    for service, url in started.database_urls.items():
        say(f"  PostgreSQL         {service}: {url}")
    for spec in specs:
        if spec.signed_link is not None:
            label, prefix, command = spec.signed_link
            token = subprocess.run(
                command, env={**env, **spec.env}, check=True, capture_output=True, text=True
            ).stdout.strip()
            say(f"  {spec.name:18} {label}: {prefix}{token}")
        for label, place in spec.links.items():
            say(f"  {spec.name:18} {label}: {place}")
    say(f"  Logs               {run_dir / 'logs'}")
    say(f"  Run folder         {run_dir}")


def _never_failing(say: Callable[[str], None]) -> Callable[[str], None]:
    """``say`` that stops saying when the terminal is gone instead of raising: with
    ``make run | tee run.log``, Ctrl-C ends tee too, and the first line written after it
    (BrokenPipeError) used to end the stopping before Kafka and PostgreSQL were stopped."""
    gone = False

    def tolerant(line: str) -> None:
        nonlocal gone
        if gone:
            return
        try:
            say(line)
        except OSError:  # BrokenPipeError, or a closed terminal
            gone = True

    return tolerant


def run(say: Callable[[str], None] = print, only: list[ServiceProcess] | None = None) -> int:
    say = _never_failing(say)
    settings = InfraSettings()
    started = local_infra.up(settings)
    children: list[tuple[ServiceProcess, subprocess.Popen[bytes]]] = []
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    before = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        env = {**local_secrets(settings), **os.environ, **started.env()}
        (settings.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        for spec in (
            services(settings.run_dir, settings.osb_run_port_base) if only is None else only
        ):
            for step in spec.setup:
                subprocess.run(step, env={**env, **spec.env}, check=True)
            # Each process logs to its own file: the terminal keeps the overview.
            log = (settings.run_dir / "logs" / f"{spec.name}.log").open("ab")
            proc = subprocess.Popen(
                spec.command, env={**env, **spec.env}, stdout=log, stderr=subprocess.STDOUT
            )
            log.close()  # the child holds its own copy
            children.append((spec, proc))
        where(say, started, [spec for spec, _ in children], env, settings.run_dir)
        say("Ctrl-C stops everything.")
        while not stop_requested:
            for spec, proc in children:
                if proc.poll() is not None:
                    say(
                        f"{spec.name} exited with {proc.returncode} (see its log); "
                        "stopping everything"
                    )
                    stop_requested, exit_code = True, 1
            time.sleep(0.5)
    finally:
        say("stopping ...")
        try:
            for _, proc in children:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            for spec, proc in children:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    say(f"{spec.name} did not stop in 30 s; killing it")
                    proc.kill()
        finally:  # whatever happened above, the infrastructure is stopped
            stopped = local_infra.down(settings, only=started.started)
            for sig, handler in before.items():
                signal.signal(sig, handler)
        say(f"stopped: {', '.join([s.name for s, _ in children] + stopped) or 'nothing'}")
    return exit_code


def main() -> None:
    sys.exit(run())
