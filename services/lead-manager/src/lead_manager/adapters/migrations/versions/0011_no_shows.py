"""no-shows: a lead's customer arrival (from the DMS), each branch's grace after an
appointment's start, the read model's appointment day and arrival (emptied: every instance
rebuilds it from the lead events with them)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("arrived_at", sa.DateTime(timezone=True)))
    # what the no-show watch looks at: the scheduled leads nobody has checked in
    op.create_index(
        "ix_leads_awaited",
        "leads",
        ["appointment_id"],
        postgresql_where=sa.text("status = 'SCHEDULED' AND arrived_at IS NULL"),
    )
    op.add_column(
        "branch_settings",
        sa.Column(
            "no_show_grace_minutes", sa.Integer(), nullable=False, server_default=sa.text("30")
        ),
    )
    op.add_column("insight_leads", sa.Column("appointment_day", sa.Date()))
    op.add_column(
        "insight_leads",
        sa.Column("arrived", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute("DELETE FROM insight_leads")
    op.execute("DELETE FROM insight_positions")


def downgrade() -> None:
    op.drop_column("insight_leads", "arrived")
    op.drop_column("insight_leads", "appointment_day")
    op.drop_column("branch_settings", "no_show_grace_minutes")
    op.drop_index("ix_leads_awaited", table_name="leads")
    op.drop_column("leads", "arrived_at")
