"""Where a person's data is (issue 19): every table of the services' databases and every
topic, all partitions from the beginning, searched for what identifies them (an e-mail
address, a phone number in either way of writing it, a name, a VIN). What the export and
the erasure are checked against; an operator runs it as ``osb privacy scan``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from osb_platform.db import make_engine
from osb_platform.kafka_security import KafkaSecurity
from osb_platform.privacy import Subject
from sqlalchemy import text

from osb_cli.kafka_ops import partitions_by_topic


@dataclass(frozen=True)
class Traces:
    """What identifies the person, each way it may be written; lower-case."""

    values: Mapping[str, tuple[str, ...]]  # what it is ("e-mail") -> its spellings

    @classmethod
    def of(
        cls,
        *,
        email: str | None = None,
        phone: str | None = None,
        names: Sequence[str] = (),
        vin: str | None = None,
    ) -> Traces:
        values: dict[str, tuple[str, ...]] = {}
        if email:
            values["e-mail"] = (email.lower(),)
        if phone:  # each way it is written, as the erasure looks for it
            values["phone"] = tuple(Subject(phones=[phone]).spellings())
        for name in names:
            # as JSON writers may escape it, too
            escaped = json.dumps(name.lower(), ensure_ascii=True)[1:-1]
            values[f"name {name}"] = tuple(dict.fromkeys((name.lower(), escaped)))
        if vin:
            values["VIN"] = (vin.lower(),)
        return cls(values)

    def found_in(self, text: str) -> list[str]:
        lowered = text.lower()
        return [
            what for what, spellings in self.values.items() if any(s in lowered for s in spellings)
        ]


@dataclass
class Finding:
    where: str  # "database lead_manager, table leads" or "topic osb.lead.events.v1"
    count: int  # rows or records
    found: set[str] = field(default_factory=set)  # what of the traces


async def scan_database(name: str, url: str, traces: Traces) -> list[Finding]:
    """Every table of the database's public schema, each row as JSON text."""
    engine = make_engine(url, pool_size=1)
    findings: list[Finding] = []
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' "
                        "ORDER BY table_name"
                    )
                )
            ).scalars()
            patterns = [f"%{s}%" for spellings in traces.values.values() for s in spellings]
            for table in list(tables):
                rows = (
                    await conn.execute(
                        text(
                            f'SELECT row_to_json(t)::text FROM "{table}" t '  # noqa: S608 - names from the catalogue
                            "WHERE lower(row_to_json(t)::text) LIKE ANY(:patterns)"
                        ),
                        {"patterns": patterns},
                    )
                ).scalars()
                hits = [traces.found_in(row) for row in rows]
                if hits:
                    where = f"database {name}, table {table}"
                    findings.append(Finding(where, len(hits), {w for h in hits for w in h}))
    finally:
        await engine.dispose()
    return findings


async def _partitions(bootstrap: str) -> list[TopicPartition]:
    """Every partition of every topic but Kafka's own."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **KafkaSecurity().aiokafka())
    await admin.start()
    try:
        found = await partitions_by_topic(admin)
    except RuntimeError:
        # a search that saw nothing must not read as "found nowhere"
        raise RuntimeError(f"no topics found at {bootstrap}") from None
    finally:
        await admin.close()
    return [tp for name in sorted(found) for tp in found[name]]


async def scan_topics(bootstrap: str, traces: Traces) -> list[Finding]:
    """Every topic (dead-letter and compacted ones too), every record still in it: key,
    value and headers."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        **KafkaSecurity().aiokafka(),
    )
    await consumer.start()
    findings: dict[str, Finding] = {}
    try:
        partitions = await _partitions(bootstrap)
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        ends = {tp: await consumer.position(tp) for tp in partitions}
        await consumer.seek_to_beginning(*partitions)
        left = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while left:
            batches = await consumer.getmany(*left, timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    parts = [record.key or b"", record.value or b""]
                    parts += [v for _, v in record.headers or ()]
                    found = traces.found_in(b"\n".join(parts).decode("utf-8", "replace"))
                    if found:
                        finding = findings.setdefault(tp.topic, Finding(f"topic {tp.topic}", 0))
                        finding.count += 1
                        finding.found.update(found)
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
    finally:
        await consumer.stop()
    return sorted(findings.values(), key=lambda f: f.where)


async def scan(traces: Traces, *, databases: Mapping[str, str], bootstrap: str) -> list[Finding]:
    """Everywhere the person's data is: the databases' tables, then the topics."""
    findings: list[Finding] = []
    for name, url in sorted(databases.items()):
        findings += await scan_database(name, url, traces)
    return findings + await scan_topics(bootstrap, traces)
