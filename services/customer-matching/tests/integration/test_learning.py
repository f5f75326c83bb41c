"""The duplicate search's learning on the real database: counts shared, one model, taken up."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from customer_matching.adapters.learning import Learner
from customer_matching.adapters.tables import match_models
from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.index import Scoring
from customer_matching.entrypoints.app import MIGRATIONS
from customer_matching.service.model_check import Decided, Quality, Verdict
from osb_platform.db import make_engine, upgrade
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(scratch_database: str) -> AsyncIterator[AsyncEngine]:
    # A database of its own: a model stored here must not reach other tests' services.
    engine = make_engine(scratch_database, pool_size=4)
    await upgrade(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


def adopted(model: fs.Model, current: fs.Model | None, like: Scoring, decided: Decided) -> Verdict:
    """The sharing tests' check: every model passes (the check itself is tested below)."""
    seen = Quality(leads=1, first_right=1, wrong_certain=0)
    return Verdict(True, seen, seen)


def pairs(count: int, seed: int) -> Counter[fs.Vector]:
    """Candidate pairs as the searches see them: a tenth alike in most fields."""
    rng = random.Random(seed)
    counts: Counter[fs.Vector] = Counter()
    for _ in range(count):
        alike = 0.9 if rng.random() < 0.1 else 0.2
        counts[".".join("0" if rng.random() < alike else "1" for _ in fs.FIELDS)] += 1
    return counts


async def stored(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        models = (await conn.execute(select(func.count()).select_from(match_models))).scalar_one()
    return await Learner(engine, Scoring()).counted(), models


async def test_two_instances_share_their_counts_and_take_up_one_model(engine: AsyncEngine) -> None:
    one, two = (Learner(engine, Scoring(), min_pairs=10_000, check=adopted) for _ in range(2))
    one.scoring.observed.update(pairs(6_000, seed=1))
    two.scoring.observed.update(pairs(6_000, seed=2))

    assert await one.flush() == 6_000
    assert await one.estimate() is None  # 6,000 of the 10,000 needed
    assert await two.flush() == 6_000
    assert not one.scoring.observed
    assert not two.scoring.observed
    assert await stored(engine) == (12_000, 0)

    made = await asyncio.gather(one.estimate(), two.estimate())
    assert sum(m is not None for m in made) == 1  # one instance estimates, under the lock
    assert await stored(engine) == (12_000, 1)
    assert (await one.refresh(), await two.refresh()) == (True, True)
    assert one.model_id == two.model_id
    assert one.scoring.model == two.scoring.model
    assert one.scoring.model is not None
    assert one.scoring.model.pairs == 12_000
    assert one.scoring.model.share == pytest.approx(0.1, abs=0.02)
    assert not await one.refresh()  # the same model stays


async def test_a_new_model_once_the_counts_grew_by_the_share(engine: AsyncEngine) -> None:
    learner = Learner(engine, Scoring(), min_pairs=10_000, growth=0.1, check=adopted)
    learner.scoring.observed.update(pairs(10_000, seed=3))
    await learner.step()
    first = learner.model_id
    assert first is not None

    learner.scoring.observed.update(pairs(500, seed=4))  # 5 %: not yet
    await learner.step()
    assert learner.model_id == first
    learner.scoring.observed.update(pairs(600, seed=5))  # 11 % in all
    await learner.step()
    assert learner.model_id not in (None, first)
    assert learner.scoring.model is not None
    assert learner.scoring.model.pairs == 11_100


async def test_counts_that_could_not_be_stored_are_kept_for_the_next_flush() -> None:
    unreachable = make_engine("postgresql://postgres@127.0.0.1:9/none", pool_size=1)
    learner = Learner(unreachable, Scoring())
    counts = pairs(100, seed=6)
    learner.scoring.observed.update(counts)
    with pytest.raises(OSError, match="onnect"):
        await learner.flush()
    assert learner.scoring.observed == counts
    await unreachable.dispose()


async def test_a_refused_estimate_is_tried_again_only_once_the_counts_grew(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    learner = Learner(engine, Scoring(), min_pairs=1_000, growth=0.1)
    alike_in_nothing = ".".join("1" for _ in fs.FIELDS)
    learner.scoring.observed[alike_in_nothing] = 2_000
    await learner.step()
    await learner.step()
    assert learner.scoring.model is None
    assert caplog.text.count("no duplicate-search model from 2000 pairs") == 1
    learner.scoring.observed[alike_in_nothing] = 300
    await learner.step()
    assert caplog.text.count("no duplicate-search model from 2300 pairs") == 1


async def test_a_model_that_ranks_the_labelled_set_worse_is_not_adopted(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # Pairs alike in a tenth of the fields at random: a model of nothing in particular.
    learner = Learner(engine, Scoring(), min_pairs=10_000)
    learner.scoring.observed.update(pairs(12_000, seed=7))
    await learner.step()
    assert (learner.scoring.model, learner.model_id) == (None, None)  # the rules band on
    assert await stored(engine) == (12_000, 0)
    verdict = learner.last_check
    assert verdict is not None
    assert not verdict.adopt
    assert verdict.model.first_right < verdict.current.first_right
    assert verdict.current.leads == 360  # the labelled set's leads with a customer
    assert "not adopted" in caplog.text
    assert learner.refused_at == 12_000  # tried again once the counts grew
