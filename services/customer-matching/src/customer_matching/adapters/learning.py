"""The duplicate search learns from its own searches, shared by every instance.

Each instance counts the comparison vectors of its searches' candidates in memory and adds
them to ``comparison_counts`` now and then. Once enough pairs are counted, and again each
time they have grown by a share, one instance (the one holding an advisory lock) estimates
a Fellegi-Sunter model from all counts and stores it in ``match_models``; every instance
then takes up the newest model. Until the first model the rules band the candidates.

A model is stored only if it ranks the labelled check set at least as well as what it
would replace (``service.model_check``): estimated without labels, nothing else says it
puts the right customer first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_matching.adapters.decisions import decided, labelled_vectors, per_band
from customer_matching.adapters.tables import comparison_counts, match_models
from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.index import Scoring
from customer_matching.service.model_check import Decided, Verdict, check

log = logging.getLogger(__name__)

_ADD_COUNTS = text(
    """
    INSERT INTO comparison_counts (vector, count)
    SELECT * FROM unnest(CAST(:v AS text[]), CAST(:c AS int8[]))
    ON CONFLICT (vector) DO UPDATE SET count = comparison_counts.count + excluded.count
    """
)

_TOTAL = select(func.coalesce(func.sum(comparison_counts.c.count), 0))


@dataclass
class Learner:
    engine: AsyncEngine
    scoring: Scoring
    min_pairs: int = 20_000
    growth: float = 0.1  # estimate again once the pairs counted grew by this share
    lock_key: int = 0x05B0_F5E1
    model_id: int | None = None
    refused_at: int = 0  # pairs counted when the last estimate was refused
    last_check: Verdict | None = None  # of the last model estimated here
    # whether a model may replace what bands now (the model in use, or the rules)
    check: Callable[[fs.Model, fs.Model | None, Scoring, Decided], Verdict] = check
    # flush() and counted() one at a time: no pair counted twice or not at all in between
    _flushing: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def _due(self, total: int, last: int | None) -> bool:
        grown = max(last or 0, self.refused_at) * (1 + self.growth)
        return total >= self.min_pairs and total >= grown

    async def flush(self) -> int:
        """Add the vectors counted since the last flush to the shared counts."""
        async with self._flushing:
            seen, self.scoring.observed = self.scoring.observed, Counter()
            if not seen:
                return 0
            vectors = sorted(seen)  # the same order in every instance: no deadlock between them
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(_ADD_COUNTS, {"v": vectors, "c": [seen[v] for v in vectors]})
            except BaseException:
                self.scoring.observed.update(seen)  # kept for the next flush
                raise
            return sum(seen.values())

    async def counted(self) -> int:
        """The candidate pairs counted so far: by every instance, and by this one since its
        last flush (a search's pairs count from its answer on)."""
        async with self._flushing:
            async with self.engine.connect() as conn:
                stored = int((await conn.execute(_TOTAL)).scalar_one())
            return stored + sum(self.scoring.observed.values())

    async def estimate(self) -> fs.Model | None:
        """Estimate and store a model when the counts call for one (one instance at a time)."""
        async with self.engine.begin() as conn:
            if not await conn.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self.lock_key}
            ):
                return None
            last = await conn.scalar(select(func.max(match_models.c.pairs)))
            total = (await conn.execute(_TOTAL)).scalar_one()
            if not self._due(total, last):
                return None
            rows = (await conn.execute(select(comparison_counts))).all()
            counts = {vector: count for vector, count in rows}
            total = sum(counts.values())
            searches = await decided(conn)
            try:
                model = await asyncio.to_thread(
                    fs.estimate,
                    counts,
                    min_pairs=self.min_pairs,
                    labelled=labelled_vectors(searches),
                )
            except fs.NotEstimableError as exc:
                log.warning("no duplicate-search model from %d pairs: %s", total, exc)
                self.refused_at = total  # tried again once the counts grew
                return None
            verdict = await asyncio.to_thread(
                self.check, model, self.scoring.model, self.scoring, searches
            )
            self.last_check = verdict
            if not verdict.adopt:
                log.warning(
                    "duplicate-search model from %d pairs not adopted: it ranks the labelled "
                    "set worse (first right %d of %d, wrong certain %d) than what it would "
                    "replace (%d, %d)",
                    total,
                    verdict.model.first_right,
                    verdict.model.leads,
                    verdict.model.wrong_certain,
                    verdict.current.first_right,
                    verdict.current.wrong_certain,
                )
                self.refused_at = total
                return None
            await conn.execute(insert(match_models).values(model=model.to_json(), pairs=total))
        log.info(
            "duplicate-search model estimated from %d pairs (match share %.4f)", total, model.share
        )
        return model

    async def refresh(self) -> bool:
        """Take up the newest stored model, if it is not the one in use."""
        async with self.engine.connect() as conn:
            newest = await conn.scalar(select(func.max(match_models.c.id)))
            if newest is None or newest == self.model_id:
                return False  # every step asks; only a new model is read
            stored = (
                await conn.execute(select(match_models.c.model).where(match_models.c.id == newest))
            ).scalar_one()
        self.scoring.model = fs.Model.from_json(stored)
        self.model_id = newest
        log.info("duplicate search bands by model %d (%d pairs)", newest, self.scoring.model.pairs)
        return True

    async def decisions(self) -> dict[str, object]:
        """How each band fared on the advisor's decisions (``GET /model``)."""
        async with self.engine.connect() as conn:
            return await per_band(conn)

    async def step(self) -> None:
        await self.flush()
        await self.estimate()
        await self.refresh()
