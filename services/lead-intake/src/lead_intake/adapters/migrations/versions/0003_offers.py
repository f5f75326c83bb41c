"""the counter-offers of the lead events, for the customer's links to take a time

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lead_id", UUID(as_uuid=True), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("branch_id", sa.String(32), nullable=False),
        sa.Column("times", JSONB(), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("taken_index", sa.Integer()),
    )
    op.create_index("ix_offers_lead_id", "offers", ["lead_id"])


def downgrade() -> None:
    op.drop_table("offers")
