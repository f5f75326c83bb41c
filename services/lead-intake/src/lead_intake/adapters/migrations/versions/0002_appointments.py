"""the appointments of the lead events, for the customer's links (confirm, cancel, ask
for another time)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lead_id", UUID(as_uuid=True), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("branch_id", sa.String(32), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
    )
    op.create_index("ix_appointments_lead_id", "appointments", ["lead_id"])


def downgrade() -> None:
    op.drop_table("appointments")
