"""The notifier database (the migrations in ``migrations/`` create it)."""

from __future__ import annotations

from osb_platform.outbox import inbox_table, outbox_table
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()

# One row per (event, channel), written before the first attempt: a redelivered event finds
# its row and sends nothing.
notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("source_event_id", String(64), nullable=False),
    Column("source_event_type", String(200), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("lead_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("branch_id", String(32), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("subject", String(200)),
    Column("text", Text, nullable=False),
    Column("html", Text),
    Column("sender", String(254)),
    Column("reply_to", String(254)),
    Column("message_id", String(300)),
    Column("trace_parent", String(55)),  # of the event that asked for it (W3C)
    Column("status", String(8), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error_code", String(60)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    UniqueConstraint("source_event_id", "channel", name="uq_notifications_event_channel"),
    Index(
        "ix_notifications_due", "next_attempt_at", postgresql_where=Column("status") == "PENDING"
    ),
)

# numbers that answered STOP to an SMS (E.164); their SMS fail as SMS_OPTED_OUT until START
sms_opt_outs = Table(
    "sms_opt_outs",
    metadata,
    Column("phone", String(20), primary_key=True),
    Column("opted_out_at", DateTime(timezone=True), nullable=False),
    Column("keyword", String(20), nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
