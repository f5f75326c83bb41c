"""counter-offers (Ablehnen mit Terminvorschlag): the offers, each branch's time for the
customer to take one

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "branch_settings",
        sa.Column(
            "offer_response_hours", sa.Integer(), nullable=False, server_default=sa.text("48")
        ),
    )
    op.create_table(
        "offers",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("lead_id", UUID(as_uuid=True), nullable=False),
        sa.Column("times", JSONB(), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("plan", JSONB(), nullable=False),
        sa.Column("offered_by", sa.String(64), nullable=False),
        sa.Column("offered_by_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("taken_index", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_offers_lead_id", "offers", ["lead_id"])
    op.create_index(
        "ix_offers_open", "offers", ["respond_by"], postgresql_where=sa.text("state = 'OPEN'")
    )


def downgrade() -> None:
    op.drop_table("offers")
    op.drop_column("branch_settings", "offer_response_hours")
