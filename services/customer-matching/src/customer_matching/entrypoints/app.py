"""The customer-matching process: replica writer, index follower, request responder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from osb_contracts.topics import (
    CUSTOMER_EVENTS,
    MATCHING_REPLIES,
)
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

from customer_matching import SERVICE
from customer_matching.adapters import privacy
from customer_matching.adapters.decisions import ShownRecorder
from customer_matching.adapters.learning import Learner
from customer_matching.adapters.registration import Registrar, ensure_range
from customer_matching.adapters.replica import (
    IndexFollower,
    SqlVehicleMaster,
)
from customer_matching.adapters.tables import outbox
from customer_matching.domain.index import CustomerIndex, Scoring
from customer_matching.entrypoints.subscribers import Consuming, subscribers
from customer_matching.settings import Settings

log = logging.getLogger(__name__)
RELAY_LOCK = 0x05B0_C0DE
MIGRATIONS = Path(__file__).resolve().parents[1] / "adapters" / "migrations"


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_runtime(SERVICE, settings, MIGRATIONS) as run:
            await ensure_range(
                run.engine,
                prefix=settings.number_prefix,
                first=settings.number_first,
                last=settings.number_last,
                digits=settings.number_digits,
            )
            follower = IndexFollower(run.engine, CustomerIndex(too_common=settings.too_common))
            loaded = await follower.load()
            log.info("index built from the replica: %d customers", loaded)
            learner = Learner(
                run.engine,
                Scoring(
                    certain_from=settings.certain_from,
                    likely_from=settings.likely_from,
                    possible_from=settings.possible_from,
                ),
                min_pairs=settings.model_min_pairs,
            )
            await learner.refresh()
            registrar = Registrar(run.engine, prefix=settings.number_prefix, clock=clock)
            shown = ShownRecorder(run.engine)
            run.relay(outbox, lock_key=RELAY_LOCK)
            run.background(
                every(settings.follow_interval_s, follower.poll, "following the replica"), "index"
            )
            run.background(
                every(settings.learn_interval_s, learner.step, "learning", last=learner.flush),
                "learning",
            )
            run.background(
                every(0.2, shown.flush, "recording what searches showed", last=shown.flush),
                "shown",
            )
            deps = Consuming(
                engine=run.engine,
                index=follower.index,
                scoring=learner.scoring,
                vehicles=SqlVehicleMaster(run.engine),
                registrar=registrar,
                shown=shown,
                replies=await run.prompt_producer("customer-matching-replies"),
            )
            await run.consume(
                subscribers.broker(
                    settings.kafka_bootstrap_servers,
                    group_id=settings.consumer_group,
                    deps=deps,
                    producer=run.producer,
                )
            )
            app.state.checks = readiness(run.engine, run.producer, MATCHING_REPLIES.name)
            app.state.privacy_export = partial(privacy.export, run.engine)
            app.state.privacy_erase = partial(privacy.erase, run.engine)
            app.state.follower = follower
            app.state.learner = learner
            yield

    app = FastAPI(title="OSB customer-matching", version="1", lifespan=lifespan)
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

    @app.get("/index", tags=["operations"])
    async def index_state() -> dict[str, int]:
        follower: IndexFollower = app.state.follower
        return {"customers": len(follower.index), "last_change_seq": follower.last_seq}

    @app.get("/model", tags=["operations"])
    async def model_state() -> dict[str, Any]:
        """What bands the duplicate search: the learned model in use (none yet: the rules),
        and the candidate pairs counted towards the next one."""
        learner: Learner = app.state.learner
        model = learner.scoring.model
        return {
            "model": None
            if model is None
            else {"id": learner.model_id, "pairs": model.pairs, "match_share": model.share},
            "pairs_counted": await learner.counted(),
            "first_model_from_pairs": learner.min_pairs,
            # the last model estimated by this instance, checked on the labelled set
            "last_check": learner.last_check.to_json() if learner.last_check else None,
            # how each band fared on the advisor's decisions in the duplicate dialog
            "decisions": await learner.decisions(),
        }

    return app


def every(
    interval: float,
    step: Callable[[], Awaitable[object]],
    what: str,
    *,
    last: Callable[[], Awaitable[object]] | None = None,
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A background task: ``step`` every ``interval`` seconds until stopped, then ``last``."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await step()
            except Exception:
                log.exception("%s failed; trying again", what)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        if last is not None:
            try:
                await last()
            except Exception:
                log.exception("%s: the last step failed", what)

    return run


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
            "The DMS customer and vehicle masters in (a replica every instance follows); "
            "duplicate search, customer and VIN lookups and registrations answered by "
            "request/reply; new customers and master-data update requests out for the DMS; "
            "the advisor's decisions (AppointmentCreated) as labels for the search."
        ),
        produces=[MATCHING_REPLIES, CUSTOMER_EVENTS],
    )
