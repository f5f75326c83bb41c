"""an appointment's reminders: the branch's offsets and quiet-hours rule, one row per
reminder (sent by the time rules, each once)

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "branch_settings",
        sa.Column(
            "reminder_offsets", JSONB(), nullable=False, server_default=sa.text("'[1440, 120]'")
        ),
    )
    op.add_column(
        "branch_settings",
        sa.Column("reminder_quiet", sa.String(16), nullable=False, server_default="EVENING_BEFORE"),
    )
    op.create_table(
        "reminders",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lead_id", UUID(as_uuid=True), nullable=False),
        sa.Column("appointment_id", UUID(as_uuid=True), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reminders_lead_id", "reminders", ["lead_id"])
    op.create_index(
        "ix_reminders_pending",
        "reminders",
        ["due_at"],
        postgresql_where=sa.text("state = 'PENDING'"),
    )


def downgrade() -> None:
    op.drop_table("reminders")
    op.drop_column("branch_settings", "reminder_quiet")
    op.drop_column("branch_settings", "reminder_offsets")
