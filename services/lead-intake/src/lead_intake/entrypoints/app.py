"""The lead-intake process: the portal subscriber and the HTTP endpoint in one app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from osb_contracts.topics import LEAD_REQUESTS
from osb_platform.asyncapi import describe, install_asyncapi
from osb_platform.http import (
    BodySizeLimit,
    install_error_handlers,
    install_health,
    install_metrics,
    install_tracing,
)
from osb_platform.privacy import install_privacy
from osb_platform.service import readiness, serve, service_runtime, utc_now

from lead_intake import SERVICE
from lead_intake.adapters import privacy
from lead_intake.adapters.appointments import AppointmentBook, OfferBook
from lead_intake.adapters.idempotency import IdempotencyStore
from lead_intake.entrypoints.customer_page import router as customer_page
from lead_intake.entrypoints.http import router
from lead_intake.entrypoints.subscribers import subscribers
from lead_intake.entrypoints.wiring import Wiring
from lead_intake.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "adapters" / "migrations"


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    settings = settings or Settings()
    branches = settings.branch_map()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(SERVICE, settings, MIGRATIONS, pool_size=5) as run:
            secret = settings.customer_link_secret
            wiring = Wiring(
                run.producer,
                IdempotencyStore(run.engine),
                branches,
                clock,
                AppointmentBook(run.engine),
                secret.get_secret_value() if secret else None,
                OfferBook(run.engine),
            )
            broker = subscribers.broker(
                settings.kafka_bootstrap_servers,
                group_id=settings.consumer_group,
                deps=wiring,
                producer=run.producer,
                max_records=settings.max_batch,
            )
            await run.consume(broker)
            app.state.wiring = wiring
            app.state.checks = readiness(run.engine, run.producer, LEAD_REQUESTS.name)
            app.state.privacy_export = partial(privacy.export, run.engine)
            app.state.privacy_erase = partial(privacy.erase, run.engine)
            yield

    app = FastAPI(
        title="OSB lead-intake",
        version="1",
        summary="Portal bookings in, validated lead requests out.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    install_health(app, lambda: app.state.checks)
    install_metrics(app)
    install_tracing(app)
    install_privacy(
        app,
        SERVICE,
        settings.privacy_token,
        lambda: app.state.privacy_export,
        lambda: app.state.privacy_erase,
    )
    install_asyncapi(app, asyncapi(settings))
    app.include_router(router)
    app.include_router(customer_page)
    return app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), host=settings.http_host, port=settings.http_port)


def asyncapi(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI document of this service's subscriptions and what it produces."""
    return describe(
        subscribers.consumed(settings.consumer_group),
        servers=settings.kafka_bootstrap_servers,
        service=SERVICE,
        summary=(
            "Portal bookings and cancellations in, and the appointments of the lead events "
            "for the customers' links; validated, normalised lead requests and the "
            "customers' answers out."
        ),
        produces=[LEAD_REQUESTS],
    )
