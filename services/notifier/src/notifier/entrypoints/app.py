"""The notifier process: the lead-event subscriber, the dispatcher, the outbox relay."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from osb_contracts.branches import BranchSettingsChanged
from osb_contracts.topics import (
    BRANCH_SETTINGS,
    NOTIFICATION_EVENTS,
)
from osb_platform.asyncapi import describe, install_asyncapi
from osb_platform.http import (
    BodySizeLimit,
    install_error_handlers,
    install_health,
    install_metrics,
    install_tracing,
)
from osb_platform.keys import Keyring
from osb_platform.privacy import install_privacy
from osb_platform.service import readiness, serve, service_runtime, utc_now
from osb_platform.table import TopicTable

from notifier import SERVICE
from notifier.adapters import privacy
from notifier.adapters.branches import BranchDirectory
from notifier.adapters.email import SmtpSender
from notifier.adapters.sms import HttpSmsGateway
from notifier.adapters.store import NotificationStore
from notifier.adapters.tables import outbox
from notifier.domain.notification import RetryPolicy
from notifier.entrypoints.http import router
from notifier.entrypoints.subscribers import Consuming, subscribers
from notifier.service.dispatch import Dispatcher
from notifier.settings import Settings

RELAY_LOCK = 0x05B0_0A11  # advisory lock id of the notifier's outbox relay
MIGRATIONS = Path(__file__).resolve().parents[1] / "adapters" / "migrations"


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(SERVICE, settings, MIGRATIONS) as run:
            # Read whole before anything is planned or sent: the branches' settings as
            # lead-manager last published them.
            published: TopicTable[BranchSettingsChanged] = TopicTable(
                settings.kafka_bootstrap_servers,
                BRANCH_SETTINGS,
                newer=lambda a, b: a.settings_version > b.settings_version,
            )
            await published.start()
            run.stack.push_async_callback(published.stop)
            branches = BranchDirectory(settings.branch_channels(), published)
            store = NotificationStore(run.engine, clock)
            smtp = SmtpSender(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=(
                    settings.smtp_password.get_secret_value() if settings.smtp_password else None
                ),
                timeout=settings.smtp_timeout_s,
                pool_size=settings.smtp_connections,
                tls_context=(
                    ssl.create_default_context(cafile=str(settings.smtp_ca_file))
                    if settings.smtp_ca_file
                    else None
                ),
            )
            run.stack.push_async_callback(smtp.close)
            token = settings.sms_gateway_token
            sms = HttpSmsGateway(
                settings.sms_gateway_url, token=token.get_secret_value() if token else None
            )
            run.stack.push_async_callback(sms.close)
            dispatcher = Dispatcher(
                store,
                email=smtp,
                sms=sms,
                branches=branches,
                policy=RetryPolicy(
                    settings.retry_max_attempts,
                    settings.retry_base_delay_s,
                    settings.retry_max_delay_s,
                ),
                clock=clock,
                batch_size=settings.dispatch_batch,
                lease=timedelta(seconds=settings.lease_s),
            )
            run.relay(outbox, lock_key=RELAY_LOCK)
            run.background(dispatcher.run, "dispatcher")
            keyring = Keyring(settings.lead_manager_url, settings.privacy_token)
            run.stack.push_async_callback(keyring.close)
            await run.consume(
                subscribers.broker(
                    settings.kafka_bootstrap_servers,
                    group_id=settings.consumer_group,
                    deps=Consuming(
                        store,
                        branches,
                        dispatcher.wake,
                        links=settings.customer_links(),
                        keyring=keyring,
                    ),
                    producer=run.producer,
                )
            )
            app.state.checks = readiness(run.engine, run.producer, NOTIFICATION_EVENTS.name)
            app.state.privacy_export = partial(privacy.export, run.engine)
            app.state.privacy_erase = partial(privacy.erase, run.engine)
            app.state.store = store
            reply_token = settings.sms_reply_token
            app.state.sms_reply_token = reply_token.get_secret_value() if reply_token else None
            app.state.branch_settings = published
            yield

    app = FastAPI(title="OSB notifier", version="1", lifespan=lifespan)
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
    return app


def main() -> None:
    settings = Settings()
    serve(create_app(settings), host=settings.http_host, port=settings.http_port)


def asyncapi(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI document of this service's subscriptions and what it produces."""
    return describe(
        [*subscribers.consumed(settings.consumer_group), (BRANCH_SETTINGS, None)],
        servers=settings.kafka_bootstrap_servers,
        service=SERVICE,
        summary=(
            "Lead events and resend commands in; e-mail (SMTP) and SMS (HTTP gateway) out, "
            "each notification recorded before it is sent; outcomes out for the lead's history."
        ),
        produces=[NOTIFICATION_EVENTS],
    )
