"""The lead-intake database (the migrations in ``migrations/`` create it)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# The counter-offers of the lead events: the times, the deadline, how each stands
offers = Table(
    "offers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lead_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("booking_id", String(64), nullable=False),
    Column("branch_id", String(32), nullable=False),
    Column("times", JSONB, nullable=False),  # [[start, end], ...] ISO 8601
    Column("respond_by", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),  # OPEN, TAKEN, CLOSED
    Column("taken_index", Integer),
)

# The appointments of the lead events, as the customer's links need them
appointments = Table(
    "appointments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lead_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("booking_id", String(64), nullable=False),
    Column("branch_id", String(32), nullable=False),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("made_at", DateTime(timezone=True), nullable=False),  # AppointmentCreated's time
    Column("state", String(16), nullable=False),
    Column("answers", Integer, nullable=False),
)
