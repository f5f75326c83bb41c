"""``lead-manager``: serve, issue a local token, load the demo branch settings, rebuild
the figures' read model."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from osb_contracts.matching import DuplicateCriterion
from osb_platform.db import make_engine, upgrade
from osb_platform.service import serve as run_server
from osb_platform.service import utc_now

from lead_manager.adapters.insight import rebuild
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.domain.branch import Acceptor, BranchSettings
from lead_manager.domain.permissions import Permission
from lead_manager.entrypoints.app import MIGRATIONS, create_app
from lead_manager.entrypoints.auth import issue_token
from lead_manager.settings import Settings

app = typer.Typer(help="OSB lead-manager.", no_args_is_help=True)

DEMO_BRANCHES = [
    BranchSettings(
        branch_id="HH-01",
        name="Autohaus Hansa Hamburg",
        acceptors=(Acceptor("anna", "Anna Albers"), Acceptor("ben", "Ben Brandt", active=False)),
        sms_enabled=True,
        cash_sale_customer_number="BAR-HH",
        duplicate_criteria=(DuplicateCriterion.ADDRESS, DuplicateCriterion.EMAIL),
        sender_email="service@hansa-hamburg.example",
    ),
    BranchSettings(
        branch_id="M-01",
        name="Autohaus Isar München",
        acceptors=(Acceptor("clara", "Clara Huber"),),
        sms_enabled=False,
        cash_sale_customer_number="BAR-M",
        sender_email="service@isar-muenchen.example",
    ),
    BranchSettings(branch_id="W-01", name="Autohaus Donau Wien", acceptors=()),
]


@app.command()
def serve() -> None:
    """Run the service (subscribers, outbox relay, HTTP API)."""
    settings = Settings()
    run_server(create_app(settings), host=settings.http_host, port=settings.http_port)


@app.command()
def token(
    user: Annotated[str, typer.Option(help="user id")] = "anna",
    name: Annotated[str, typer.Option(help="display name")] = "Anna Albers",
    branch: Annotated[list[str], typer.Option(help="branch ids")] = ["HH-01"],  # noqa: B006
    permission: Annotated[list[Permission], typer.Option(help="permissions")] = [  # noqa: B006
        Permission.LEAD_MANAGER
    ],
    hours: int = 12,
) -> None:
    """Print a bearer token for local use, signed with LEAD_MANAGER_JWT_SECRET."""
    settings = Settings()
    print(
        issue_token(
            settings.jwt_secret.get_secret_value(),
            user=user,
            name=name,
            branches={b: permission for b in branch},
            ttl=timedelta(hours=hours),
        )
    )


@app.command()
def seed_demo() -> None:
    """Store the demo branches' OSB settings where none are stored yet."""

    async def run() -> None:
        settings = Settings()
        engine = make_engine(settings.database_url, pool_size=1)
        await upgrade(engine, MIGRATIONS)
        async with SqlUnitOfWork(engine, utc_now) as uow:
            for branch in DEMO_BRANCHES:
                if await uow.branches.get(branch.branch_id) is None:
                    await uow.branches.put(branch, updated_by="demo", expected_version=None)
            await uow.commit()
        await engine.dispose()

    asyncio.run(run())


@app.command()
def rebuild_insight() -> None:
    """Empty the figures' read model (Auswertung): every running instance fills it again
    from the beginning of osb.lead.events.v1."""

    async def run() -> None:
        engine = make_engine(Settings().database_url, pool_size=1)
        await upgrade(engine, MIGRATIONS)
        await rebuild(engine)
        await engine.dispose()

    asyncio.run(run())
    print("emptied; the running lead-manager instances fill it again from the topic")


def main() -> None:
    app()
