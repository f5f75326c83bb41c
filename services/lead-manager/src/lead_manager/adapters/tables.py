"""The lead-manager database (the migrations in ``migrations/`` create it)."""

from __future__ import annotations

import json
from datetime import time

from osb_platform.outbox import inbox_table, outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB, UUID

from lead_manager.domain.branch import DEFAULT_OPENING_HOURS

metadata = MetaData()


def hours_json(hours: tuple[tuple[tuple[time, time], ...], ...]) -> list[list[list[str]]]:
    """Opening hours as stored: per weekday, Monday first, [opens, closes] as "HH:MM"."""
    return [[[o.strftime("%H:%M"), c.strftime("%H:%M")] for o, c in day] for day in hours]


def hours_of(stored: list[list[list[str]]]) -> tuple[tuple[tuple[time, time], ...], ...]:
    return tuple(
        tuple((time.fromisoformat(o), time.fromisoformat(c)) for o, c in day) for day in stored
    )


DEFAULT_HOURS_SQL = f"'{json.dumps(hours_json(DEFAULT_OPENING_HOURS))}'::jsonb"

# What the live search looks in: name, e-mail, phones, plate (also without separators), VIN,
# booking reference, and the name spelt without umlauts both ways (Bähr as baehr and bahr,
# so "Baehr", "Mueller" and "Muller" find them). A trigram GIN index over it keeps
# substring search fast at a million rows.
_NAME = "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
_NAME_AE = (
    f"replace(replace(replace(replace({_NAME}, 'ä', 'ae'), 'ö', 'oe'), 'ü', 'ue'), 'ß', 'ss')"
)
_NAME_A = f"translate(replace({_NAME}, 'ß', 'ss'), 'äöü', 'aou')"
SEARCH_TEXT = (
    f"{_NAME} || ' ' || lower("
    "coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(mobile, '') || ' ' || "
    "coalesce(licence_plate, '') || ' ' || "
    "translate(coalesce(licence_plate, ''), '- ', '') || ' ' || "
    f"coalesce(vin, '') || ' ' || booking_id) || ' ' || {_NAME_AE} || ' ' || {_NAME_A}"
)

leads = Table(
    "leads",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("booking_id", String(64), nullable=False, unique=True),
    Column("branch_id", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("requested_start", DateTime(timezone=True), nullable=False),
    Column("requested_end", DateTime(timezone=True)),
    Column("customer", JSONB, nullable=False),
    Column("vehicle", JSONB, nullable=False),
    Column("services", JSONB, nullable=False),
    Column("comment", Text),
    Column("warnings", JSONB, nullable=False),
    Column("unusable", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("appointment_id", UUID(as_uuid=True), unique=True),
    Column("acceptor", String(64)),
    # Denormalised from the customer and vehicle for filtering and search.
    Column("first_name", String(200)),
    Column("last_name", String(200), nullable=False),
    Column("email", String(254)),
    Column("phone", String(20)),
    Column("mobile", String(20)),
    Column("licence_plate", String(60)),
    Column("vin", String(17)),
    Column("customer_number", String(20)),
    # a new lead must be answered by then (the branch's opening time after it was received)
    Column("respond_by", DateTime(timezone=True)),
    Column("escalated_at", DateTime(timezone=True)),  # reported overdue (LeadOverdue)
    Column("trace_parent", String(55)),  # the booking's W3C traceparent
    Column("arrived_at", DateTime(timezone=True)),  # the customer checked in (the DMS)
    # the customer confirmed the appointment by a link in a confirmation or a reminder
    Column("confirmed_by_customer_at", DateTime(timezone=True)),
    Column("anonymised_at", DateTime(timezone=True)),  # erased or past the branch's retention
    Column("search_text", Text, Computed(SEARCH_TEXT, persisted=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_leads_branch_status_start", "branch_id", "status", "requested_start"),
    Index("ix_leads_branch_received", "branch_id", "received_at", "id"),
    Index("ix_leads_branch_status_received", "branch_id", "status", "received_at", "id"),
    # the no-show watch's: scheduled leads nobody has checked in
    Index(
        "ix_leads_awaited",
        "appointment_id",
        postgresql_where=text("status = 'SCHEDULED' AND arrived_at IS NULL"),
    ),
    Index("ix_leads_new_respond_by", "respond_by", postgresql_where=text("status = 'NEW'")),
    # the retention rule's: leads not yet anonymised, by their last change
    Index("ix_leads_not_anonymised", "updated_at", postgresql_where=text("anonymised_at IS NULL")),
    Index(
        "ix_leads_search_trgm",
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    ),
)

lead_history = Table(
    "lead_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("lead_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_id", String(64), nullable=False),
    Column("actor_name", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32), nullable=False),
    Column("reason", Text),
    Column("details", JSONB, nullable=False),
)

appointments = Table(
    "appointments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lead_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("branch_id", String(32), nullable=False),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("acceptor", String(64), nullable=False),
    Column("customer_number", String(20), nullable=False),
    Column("customer_choice", String(32), nullable=False),
    Column("customer", JSONB, nullable=False),
    Column("vehicle", JSONB, nullable=False),
    Column("vehicle_case", String(32), nullable=False),
    Column("warnings", JSONB, nullable=False),
    Column("confirmation", String(8), nullable=False),
    Column("request_id", UUID(as_uuid=True), unique=True),
    Column("request_fingerprint", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_appointments_branch_start", "branch_id", "start"),  # the Servicetermin Manager
)

branch_settings = Table(
    "branch_settings",
    metadata,
    Column("branch_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("acceptors", JSONB, nullable=False),
    Column("sms_enabled", Boolean, nullable=False),
    Column("templates", JSONB, nullable=False),
    Column("cash_sale_customer_number", String(20)),
    Column("duplicate_criteria", JSONB, nullable=False),
    Column("sender_email", String(254)),
    # per weekday (Monday first) a list of [opens, closes] as "HH:MM"
    Column("opening_hours", JSONB, nullable=False, server_default=text(DEFAULT_HOURS_SQL)),
    Column("holiday_region", String(10), nullable=False, server_default="DE"),
    Column("response_minutes", Integer, nullable=False, server_default=text("120")),
    Column("escalation_email", String(254)),
    Column("rejection_reasons", JSONB, nullable=False),
    Column("no_show_grace_minutes", Integer, nullable=False, server_default=text("30")),
    Column("offer_response_hours", Integer, nullable=False, server_default=text("48")),
    Column("lead_retention_months", Integer, nullable=False, server_default=text("24")),
    Column("reminder_offsets", JSONB, nullable=False, server_default=text("'[1440, 120]'")),
    Column("reminder_quiet", String(16), nullable=False, server_default="EVENING_BEFORE"),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", String(64)),
)

# An appointment's reminders (issue 17): written with the appointment, sent by the time
# rules (service/deadlines.py) as LeadReminderDue, each once.
reminders = Table(
    "reminders",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lead_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("appointment_id", UUID(as_uuid=True), nullable=False),
    Column("offset_minutes", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("recipient", String(254), nullable=False),
    # PENDING, then SENT (handed to the notifier), CANCELLED (the lead changed) or MISSED
    Column("state", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_reminders_pending", "due_at", postgresql_where=text("state = 'PENDING'")),
)

# Counter-offers (Ablehnen mit Terminvorschlag): the times, the customer's deadline and how
# a taken time is scheduled (the advisor's identification and acceptor, as ScheduleLead)
offers = Table(
    "offers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("lead_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("times", JSONB, nullable=False),  # [[start, end], ...] ISO 8601
    Column("respond_by", DateTime(timezone=True), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("plan", JSONB, nullable=False),
    Column("offered_by", String(64), nullable=False),
    Column("offered_by_name", String(200), nullable=False),
    # OPEN, then TAKEN (taken_index), LAPSED (rejected by the deadline) or CLOSED
    Column("state", String(16), nullable=False),
    Column("taken_index", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_offers_open", "respond_by", postgresql_where=text("state = 'OPEN'")),
)

# The figures' read model (Auswertung): one row per lead, fed from osb.lead.events.v1
# (service/insight.py); emptied, it is rebuilt from the topic's beginning.
insight_leads = Table(
    "insight_leads",
    metadata,
    Column("lead_id", UUID(as_uuid=True), primary_key=True),
    Column("branch_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("day", Date, nullable=False),
    Column("status", String(32), nullable=False),
    Column("decision", String(32)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_minutes", Integer),
    Column("reason", String(60)),
    Column("customer_choice", String(32)),
    Column("overdue", Boolean, nullable=False, server_default=false()),
    Column("failed_notifications", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    Column("appointment_day", Date),  # the day of its (last) appointment, the branch's zone
    Column("arrived", Boolean, nullable=False, server_default=false()),
    Index("ix_insight_leads_branch_day", "branch_id", "day"),
)
# the next offset of each partition of osb.lead.events.v1 the read model holds
insight_positions = Table(
    "insight_positions",
    metadata,
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)

# each lead's key, sealing the personal fields of its events on osb.lead.events.v1; an
# erasure deletes it (crypto-shredding), lead-manager hands it to the notifier and the DMS
lead_keys = Table(
    "lead_keys",
    metadata,
    Column("lead_id", UUID(as_uuid=True), primary_key=True),
    Column("key", BYTEA, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
