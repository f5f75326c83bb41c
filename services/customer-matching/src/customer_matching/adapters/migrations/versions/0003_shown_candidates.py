"""the candidates each lead's duplicate search showed, and the advisor's decision on them

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shown_candidates",
        sa.Column("lead_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("customer_number", sa.String(length=20), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("band", sa.String(length=10), nullable=False),
        sa.Column("vector", sa.String(length=64), nullable=False),
        sa.Column("rules_score", sa.Float(), nullable=False),
        sa.Column("decided", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("chosen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "shown_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("lead_id", "customer_number"),
    )
    op.create_index(
        "shown_candidates_decided",
        "shown_candidates",
        ["band"],
        postgresql_where=sa.text("decided"),
    )


def downgrade() -> None:
    op.drop_index("shown_candidates_decided", table_name="shown_candidates")
    op.drop_table("shown_candidates")
