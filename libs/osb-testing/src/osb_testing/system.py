"""lead-intake and lead-manager as processes on given infrastructure, each run in fresh groups."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from osb_contracts.topics import (
    DMS_APPOINTMENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    LEAD_EVENTS,
    LEAD_REQUESTS,
    MATCHING_REQUESTS,
    NOTIFICATION_COMMANDS,
    NOTIFICATION_EVENTS,
    PORTAL_BOOKINGS,
)

from osb_testing.kafka import move_group_to_end
from osb_testing.processes import ServiceProcess, free_port

LOGS = Path(__file__).resolve().parents[4] / ".local" / "process-logs"
# what lead-intake checks and the notifier signs the customers' links with, in tests
CUSTOMER_LINK_SECRET = "test-customer-link-secret-of-32-characters"  # noqa: S105
# the services' shared token in tests: lead-manager seals the lead events' personal fields
# and hands the keys to the notifier with it, the privacy endpoints take it
PRIVACY_TOKEN = "test-privacy-token-of-32-characters-0123"  # noqa: S105


@dataclass
class LeadSystem:
    intake: ServiceProcess
    manager: ServiceProcess
    run_id: str


async def lead_system(
    run_id: str,
    *,
    bootstrap: str,
    database_urls: dict[str, str],
    jwt_secret: str,
    extra_env: dict[str, str] | None = None,
) -> LeadSystem:
    """Both services, their consumer groups placed at the end of their topics (not started)."""
    intake_group, manager_group = f"intake-{run_id}", f"manager-{run_id}"
    await move_group_to_end(bootstrap, intake_group, [PORTAL_BOOKINGS.name])
    await move_group_to_end(bootstrap, f"{intake_group}.lead-events", [LEAD_EVENTS.name])
    for topic in (LEAD_REQUESTS.name, DMS_APPOINTMENTS.name, NOTIFICATION_EVENTS.name):
        await move_group_to_end(bootstrap, f"{manager_group}.{topic}", [topic])
    base = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "OSB_CUSTOMER_LINK_SECRET": CUSTOMER_LINK_SECRET,
        "OSB_PRIVACY_TOKEN": PRIVACY_TOKEN,
        **(extra_env or {}),
    }
    intake_port, manager_port = free_port(), free_port()
    intake = ServiceProcess(
        "lead-intake",
        ["lead_intake", "serve"],
        {
            **base,
            "LEAD_INTAKE_DATABASE_URL": database_urls["lead-intake"],
            "LEAD_INTAKE_CONSUMER_GROUP": intake_group,
            "LEAD_INTAKE_HTTP_PORT": str(intake_port),
        },
        intake_port,
        LOGS / run_id,
    )
    manager = ServiceProcess(
        "lead-manager",
        ["lead_manager", "serve"],
        {
            **base,
            "LEAD_MANAGER_DATABASE_URL": database_urls["lead-manager"],
            "LEAD_MANAGER_CONSUMER_GROUP": manager_group,
            "LEAD_MANAGER_HTTP_PORT": str(manager_port),
            "LEAD_MANAGER_JWT_SECRET": jwt_secret,
        },
        manager_port,
        LOGS / run_id,
    )
    return LeadSystem(intake, manager, run_id)


async def notifier_process(
    run_id: str,
    *,
    bootstrap: str,
    database_url: str,
    smtp_port: int,
    sms_gateway_url: str = "http://127.0.0.1:9/sms",
    lead_manager: ServiceProcess | None = None,
    extra_env: dict[str, str] | None = None,
) -> ServiceProcess:
    """The notifier as a process in fresh consumer groups (not started); ``lead_manager``:
    whom it asks for the keys of the lead events' sealed fields."""
    group = f"notifier-{run_id}"
    await move_group_to_end(bootstrap, group, [LEAD_EVENTS.name])
    await move_group_to_end(bootstrap, f"{group}.commands", [NOTIFICATION_COMMANDS.name])
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "NOTIFIER_DATABASE_URL": database_url,
        "NOTIFIER_CONSUMER_GROUP": group,
        "NOTIFIER_HTTP_PORT": str(port),
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_SMS_GATEWAY_URL": sms_gateway_url,
        "OSB_CUSTOMER_LINK_SECRET": CUSTOMER_LINK_SECRET,
        "OSB_PRIVACY_TOKEN": PRIVACY_TOKEN,
        **({"NOTIFIER_LEAD_MANAGER_URL": lead_manager.url} if lead_manager else {}),
        **(extra_env or {}),
    }
    return ServiceProcess("notifier", ["notifier", "serve"], env, port, LOGS / run_id)


async def matching_process(
    run_id: str,
    *,
    bootstrap: str,
    database_url: str,
    extra_env: dict[str, str] | None = None,
) -> ServiceProcess:
    """customer-matching as a process: its replica, request and decision groups at the
    topics' end."""
    group = f"cm-{run_id}"
    await move_group_to_end(bootstrap, f"{group}.replica", [DMS_CUSTOMERS.name, DMS_VEHICLES.name])
    await move_group_to_end(bootstrap, group, [MATCHING_REQUESTS.name])
    await move_group_to_end(bootstrap, f"{group}.decisions", [LEAD_EVENTS.name])
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CUSTOMER_MATCHING_DATABASE_URL": database_url,
        "CUSTOMER_MATCHING_CONSUMER_GROUP": group,
        "CUSTOMER_MATCHING_HTTP_PORT": str(port),
        **(extra_env or {}),
    }
    return ServiceProcess(
        "customer-matching", ["customer_matching", "serve"], env, port, LOGS / run_id
    )
