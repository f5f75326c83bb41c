"""The customer-matching process: replica writer, index follower, request responder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from osb_contracts import ContractError, Envelope, Message, encode, one_line
from osb_contracts.dms import CustomerMasterChanged, VehicleMasterChanged
from osb_contracts.leads import AppointmentCreated
from osb_contracts.matching import MatchingFailed
from osb_contracts.topics import (
    CUSTOMER_EVENTS,
    DMS_CUSTOMERS,
    DMS_VEHICLES,
    LEAD_EVENTS,
    MATCHING_REPLIES,
    MATCHING_REQUESTS,
)
from osb_platform import Outgoing, Producer, RetryWithBackoff, make_broker
from osb_platform.asyncapi import describe, install_asyncapi
from osb_platform.http import BodySizeLimit, install_error_handlers, install_health, install_metrics
from osb_platform.kafka import header
from osb_platform.matching import REPLY_TO
from osb_platform.service import readiness, serve, service_runtime, utc_now
from osb_platform.subscriber import batch_subscriber, record_subscriber
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_matching import SERVICE, SOURCE
from customer_matching.adapters.decisions import ShownRecorder, record_decisions
from customer_matching.adapters.learning import Learner
from customer_matching.adapters.registration import Registrar, ensure_range
from customer_matching.adapters.replica import (
    IndexFollower,
    SqlVehicleMaster,
    apply_customer_changes,
    apply_vehicle_changes,
)
from customer_matching.adapters.tables import outbox
from customer_matching.domain.index import CustomerIndex, Scoring
from customer_matching.service.answers import answer
from customer_matching.service.ports import Shown
from customer_matching.settings import Settings

log = logging.getLogger(__name__)
RELAY_LOCK = 0x05B0_C0DE
MIGRATIONS = Path(__file__).resolve().parents[1] / "adapters" / "migrations"
NIL = uuid.UUID(int=0)
DECIDED = AppointmentCreated.cloudevents_type()  # of the lead events, the one it learns from


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
            await run.consume(
                build_broker(
                    settings,
                    run.engine,
                    run.producer,
                    follower.index,
                    learner.scoring,
                    registrar,
                    shown,
                    replies=await run.prompt_producer("customer-matching-replies"),
                )
            )
            app.state.checks = readiness(run.engine, run.producer, MATCHING_REPLIES.name)
            app.state.follower = follower
            app.state.learner = learner
            yield

    app = FastAPI(title="OSB customer-matching", version="1", lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    install_health(app, lambda: app.state.checks)
    install_metrics(app)
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


def _reply(record: Any, reply: Message, *, causation: str | None) -> list[Outgoing]:
    """The reply to a request, where its asker waits for it (none when nobody does)."""
    reply_to = header(record, REPLY_TO)
    correlation = header(record, "ce_correlationid")
    if reply_to != MATCHING_REPLIES.name or correlation is None:
        return []  # nobody waits for it where we may answer
    key = (record.key or b"").decode(errors="replace") or str(NIL)
    return [
        Outgoing(
            MATCHING_REPLIES.name,
            encode(
                reply,
                key=key,
                source=SOURCE,
                correlation_id=correlation,
                causation_id=causation,
            ),
        )
    ]


def build_broker(
    settings: Settings,
    engine: AsyncEngine,
    producer: Producer,
    index: CustomerIndex,
    scoring: Scoring,
    registrar: Registrar,
    shown_recorder: ShownRecorder,
    *,
    replies: Producer,  # answers to requests: sent at once
) -> KafkaBroker:
    broker = make_broker(
        settings.kafka_bootstrap_servers, client_id=SERVICE, middlewares=[RetryWithBackoff()]
    )

    async def label(envelopes: Sequence[Envelope[Any]]) -> None:
        await shown_recorder.flush()  # a decision labels what its lead's search showed
        async with engine.begin() as conn:
            await record_decisions(conn, [e.message for e in envelopes])

    async def apply_changes(envelopes: Sequence[Envelope[Any]]) -> None:
        async with engine.begin() as conn:
            await apply_customer_changes(
                conn, [e.message for e in envelopes if isinstance(e.message, CustomerMasterChanged)]
            )
            await apply_vehicle_changes(
                conn, [e.message for e in envelopes if isinstance(e.message, VehicleMasterChanged)]
            )

    vehicles = SqlVehicleMaster(engine)

    async def answer_all(requests: Sequence[tuple[Any, Envelope[Any]]]) -> None:
        answers: list[Outgoing] = []
        shown: list[tuple[uuid.UUID, list[Shown]]] = []
        for record, envelope in requests:
            reply = await answer(
                envelope.message,
                index=index,
                scoring=scoring,
                vehicles=vehicles,
                registrar=registrar,
                shown=shown,
            )
            answers += _reply(record, reply, causation=envelope.id)
        await replies.send_many(answers)
        for lead_id, candidates in shown:
            shown_recorder.add(lead_id, candidates)

    async def refuse(refused: Sequence[tuple[Any, ContractError]]) -> None:
        """A request the codec refused is answered, so its asker need not wait."""
        answers: list[Outgoing] = []
        for record, exc in refused:
            failed = MatchingFailed(
                request_id=NIL, code="INVALID_REQUEST", reason=one_line(exc.reason)
            )
            answers += _reply(record, failed, causation=None)
        await replies.send_many(answers)

    batch_subscriber(  # committed after the replica transaction
        broker,
        DMS_CUSTOMERS,
        DMS_VEHICLES,
        group_id=f"{settings.consumer_group}.replica",
        producer=producer,
        service=SERVICE,
        handle=apply_changes,
    )
    record_subscriber(
        broker,
        MATCHING_REQUESTS,
        group_id=settings.consumer_group,
        producer=producer,
        service=SERVICE,
        handle=answer_all,
        refused=refuse,
        prompt=True,
        auto_offset_reset="latest",  # a request nobody answered in time is not waited for
    )
    batch_subscriber(  # the advisor's decisions label what they were shown; twice, the same
        broker,
        LEAD_EVENTS,
        group_id=f"{settings.consumer_group}.decisions",
        producer=producer,
        service=SERVICE,
        handle=label,
        only={DECIDED},
    )

    return broker


def main() -> None:
    settings = Settings()
    serve(create_app(settings), host=settings.http_host, port=settings.http_port)


def asyncapi(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI document of this service's broker (nothing is connected)."""
    none = cast(Any, None)
    broker = build_broker(settings, none, none, none, none, none, none, replies=none)
    return describe(
        broker,
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
