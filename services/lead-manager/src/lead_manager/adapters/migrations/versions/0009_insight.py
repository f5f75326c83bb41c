"""the branch's rejection reasons; the figures' read model (Auswertung), fed from
osb.lead.events.v1 and rebuilt from its beginning when emptied

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REASONS = (
    '\'["Kein freier Termin", "Leistung wird nicht angeboten", '
    '"Fahrzeug wird nicht betreut", "Doppelte Buchung", "Sonstiges"]\'::jsonb'
)


def upgrade() -> None:
    op.add_column(
        "branch_settings",
        sa.Column(
            "rejection_reasons", postgresql.JSONB(), nullable=False, server_default=sa.text(REASONS)
        ),
    )
    op.create_table(
        "insight_leads",
        sa.Column("lead_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("branch_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),  # created_at in the branch's zone
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(32)),  # the first: SCHEDULED or REJECTED
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_minutes", sa.Integer()),  # in the branch's opening time
        sa.Column("reason", sa.String(60)),
        sa.Column("customer_choice", sa.String(32)),
        sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "failed_notifications",
            postgresql.ARRAY(postgresql.UUID(as_uuid=True)),
            nullable=False,
            server_default="{}",
        ),
    )
    op.create_index("ix_insight_leads_branch_day", "insight_leads", ["branch_id", "day"])
    op.create_table(
        "insight_positions",
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("insight_positions")
    op.drop_table("insight_leads")
    op.drop_column("branch_settings", "rejection_reasons")
