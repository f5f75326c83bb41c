"""The customer-matching database: the replica of the DMS masters (migrations create it)."""

from __future__ import annotations

from osb_platform.outbox import outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    Sequence,
    SmallInteger,
    String,
    Table,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

# Every write to the replica takes the next value: each instance's index follows the
# replica by reading the rows above the last value it has seen.
master_change_seq = Sequence("master_change_seq", metadata=metadata)

customers = Table(
    "customers",
    metadata,
    Column("customer_number", String(20), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_customers_change_seq", "change_seq"),
)

vehicles = Table(
    "vehicles",
    metadata,
    Column("vin", String(17), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("owner_customer_number", String(20)),
    Column("data", JSONB, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Customer numbers this system hands out: per prefix, the next free value up to the range end.
number_ranges = Table(
    "number_ranges",
    metadata,
    Column("prefix", String(10), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
    Column("last_value", BigInteger, nullable=False),
    Column("digits", Integer, nullable=False),
)

# A registration request retried (same request id) gets the number it got the first time.
registrations = Table(
    "registrations",
    metadata,
    Column("request_id", UUID(as_uuid=True), primary_key=True),
    Column("customer_number", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The duplicate search's training data: how often each comparison vector (per field an
# agreement level, no personal data) came up among the searches' candidates, all instances.
comparison_counts = Table(
    "comparison_counts",
    metadata,
    Column("vector", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# Fellegi-Sunter models estimated from those counts; the newest one is in use.
match_models = Table(
    "match_models",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("model", JSONB, nullable=False),
    Column("pairs", BigInteger, nullable=False),
    Column("estimated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# What each lead's duplicate search showed the advisor (the last search before the
# decision), and, once AppointmentCreated tells it, what the advisor decided: the labels the
# search is checked and taught by. Customer numbers, bands and agreement levels only.
shown_candidates = Table(
    "shown_candidates",
    metadata,
    Column("lead_id", UUID(as_uuid=True), primary_key=True),
    Column("customer_number", String(20), primary_key=True),
    Column("rank", SmallInteger, nullable=False),
    Column("band", String(10), nullable=False),
    Column("vector", String(64), nullable=False),
    Column("rules_score", Float, nullable=False),
    Column("decided", Boolean, nullable=False, server_default=false()),
    Column("chosen", Boolean, nullable=False, server_default=false()),
    Column("shown_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("shown_candidates_decided", "band", postgresql_where=text("decided")),
)

outbox = outbox_table(metadata)
