"""The lead-manager process: subscribers, outbox relay and the advisor API in one app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from osb_contracts.topics import (
    BRANCH_SETTINGS,
    LEAD_EVENTS,
    MATCHING_REPLIES,
    MATCHING_REQUESTS,
    NOTIFICATION_COMMANDS,
)
from osb_platform.asyncapi import describe, install_asyncapi
from osb_platform.http import (
    BodySizeLimit,
    install_error_handlers,
    install_health,
    install_metrics,
    install_tracing,
)
from osb_platform.keys import install_keys
from osb_platform.matching import MatchingClient
from osb_platform.service import readiness, service_runtime, utc_now

from lead_manager import SERVICE, SOURCE
from lead_manager.adapters import privacy
from lead_manager.adapters.insight import InsightFeed, InsightQueries
from lead_manager.adapters.keys import existing_keys
from lead_manager.adapters.lead_feed import LeadFeed
from lead_manager.adapters.privacy import HttpPeer
from lead_manager.adapters.queries import LeadQueries
from lead_manager.adapters.tables import outbox
from lead_manager.adapters.unit_of_work import SqlUnitOfWork
from lead_manager.entrypoints import http
from lead_manager.entrypoints.subscribers import Consuming, subscribers
from lead_manager.entrypoints.web import router as web_router
from lead_manager.entrypoints.web import static
from lead_manager.service.deadlines import watch_time
from lead_manager.service.privacy import expire_leads, watch_retention
from lead_manager.settings import Settings

log = logging.getLogger(__name__)
RELAY_LOCK = 0x05B0_07B0  # advisory lock id of lead-manager's outbox relay
MIGRATIONS = Path(__file__).resolve().parents[1] / "adapters" / "migrations"


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(
            SERVICE, settings, MIGRATIONS, pool_size=settings.db_pool_size
        ) as run:
            # Every branch's settings once more: a notifier reading the compacted topic has
            # them even if it was set up (or the topic re-created) after they last changed.
            async with SqlUnitOfWork(run.engine, clock) as uow:
                await uow.branches.publish(await uow.branches.all())
                await uow.commit()
            run.relay(outbox, lock_key=RELAY_LOCK)
            engine = run.engine
            # the lead events' personal fields are sealed where the installation can hand
            # out the keys (its OSB_PRIVACY_TOKEN): docs/architecture.md, "Privacy"
            seal = settings.privacy_token is not None
            if not seal:
                log.warning("no OSB_PRIVACY_TOKEN: lead events carry personal fields unsealed")

            def units() -> SqlUnitOfWork:
                return SqlUnitOfWork(engine, clock, seal=seal)

            run.background(
                partial(
                    watch_time,
                    units,
                    clock,
                    every=settings.overdue_scan_s,
                ),
                "time rules",
            )
            matching = MatchingClient(
                settings.kafka_bootstrap_servers,
                await run.prompt_producer("lead-manager-matching"),
                source=SOURCE,
                timeout=settings.matching_timeout_s,
            )
            await matching.start()
            run.stack.push_async_callback(matching.stop)

            broker = subscribers.broker(
                settings.kafka_bootstrap_servers,
                group_id=settings.consumer_group,
                deps=Consuming(units, clock, matching),
                producer=run.producer,
                max_records=settings.max_batch,
            )
            await run.consume(broker)
            feed = LeadFeed(settings.kafka_bootstrap_servers)
            await feed.start()
            run.stack.push_async_callback(feed.stop)
            assert feed.log is not None
            if settings.insight_feed:
                figures = InsightFeed(
                    run.engine,
                    settings.kafka_bootstrap_servers,
                    interval=settings.insight_interval_s,
                )
                await figures.start()
                run.stack.push_async_callback(figures.stop)

            token = settings.privacy_token
            peers = (
                [HttpPeer(name, url, token) for name, url in sorted(settings.privacy_peers.items())]
                if token is not None
                else []
            )
            for peer in peers:
                run.stack.push_async_callback(peer.close)
            run.background(
                partial(
                    watch_retention,
                    partial(
                        expire_leads,
                        partial(privacy.expired_leads, run.engine),
                        partial(privacy.anonymise_leads, run.engine),
                        peers,
                    ),
                    clock,
                    every=settings.retention_scan_s,
                ),
                "lead retention",
            )
            app.state.wiring = http.Wiring(
                engine=run.engine,
                clock=clock,
                seal=seal,
                reads=LeadQueries(run.engine),
                matching=matching,
                changes=feed.log,
                insight=InsightQueries(run.engine),
                privacy=http.Privacies(
                    partial(privacy.export, run.engine),
                    list(peers),
                    partial(privacy.erasure_subject, run.engine),
                    partial(privacy.erase, run.engine),
                    partial(privacy.erase_dead_letters, settings.kafka_bootstrap_servers),
                    partial(
                        privacy.cut_work_topics,
                        settings.kafka_bootstrap_servers,
                        settings.privacy_groups,
                        timedelta(seconds=settings.matching_timeout_s),
                    ),
                    sealed=seal,
                    one_at_a_time=partial(privacy.one_at_a_time, run.engine),
                ),
            )
            app.state.checks = readiness(run.engine, run.producer, LEAD_EVENTS.name)
            yield

    app = FastAPI(
        title="OSB lead-manager",
        version="1",
        summary="The Servicetermin Leadmanager: leads, their history, the advisor's actions.",
        lifespan=lifespan,
    )
    app.state.jwt_secret = settings.jwt_secret.get_secret_value()
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    install_health(app, lambda: app.state.checks)
    install_metrics(app)
    install_tracing(app)
    install_asyncapi(app, asyncapi(settings))
    http.install(app)
    install_keys(
        app, settings.privacy_token, lambda: partial(existing_keys, app.state.wiring.engine)
    )
    app.include_router(web_router)
    app.mount("/static", static, name="static")
    return app


def asyncapi(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI document of this service's subscriptions and what it produces."""
    return describe(
        [
            *subscribers.consumed(settings.consumer_group),
            (MATCHING_REPLIES, None),
            (LEAD_EVENTS, None),
        ],
        servers=settings.kafka_bootstrap_servers,
        service=SERVICE,
        summary=(
            "The Servicetermin Leadmanager: lead requests, DMS appointment deletions and "
            "notification outcomes in; every change of a lead out through the outbox; "
            "customer-matching asked by request/reply (replies read by partition, no group); "
            "its own lead events read back by partition, no group, for the advisors' live "
            "pages (GET /api/v1/lead-events) and for the branches' figures (a read model "
            "rebuilt from the topic's beginning, GET /api/v1/branches/{id}/insight)."
        ),
        produces=[LEAD_EVENTS, NOTIFICATION_COMMANDS, MATCHING_REQUESTS, BRANCH_SETTINGS],
    )
