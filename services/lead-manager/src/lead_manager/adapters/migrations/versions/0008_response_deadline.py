"""a new lead's response deadline: the branch's opening hours, holidays, response time and
escalation address; each lead's deadline, indexed for the new leads

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Monday to Friday 08:00-18:00 (what every branch had implicitly before)
HOURS = (
    '\'[[["08:00", "18:00"]], [["08:00", "18:00"]], [["08:00", "18:00"]], '
    '[["08:00", "18:00"]], [["08:00", "18:00"]], [], []]\'::jsonb'
)


def upgrade() -> None:
    op.add_column(
        "branch_settings",
        sa.Column(
            "opening_hours", postgresql.JSONB(), nullable=False, server_default=sa.text(HOURS)
        ),
    )
    op.add_column(
        "branch_settings",
        sa.Column("holiday_region", sa.String(length=10), nullable=False, server_default="DE"),
    )
    op.add_column(
        "branch_settings",
        sa.Column("response_minutes", sa.Integer(), nullable=False, server_default=sa.text("120")),
    )
    op.add_column("branch_settings", sa.Column("escalation_email", sa.String(length=254)))
    op.add_column("leads", sa.Column("respond_by", sa.DateTime(timezone=True)))
    op.add_column("leads", sa.Column("escalated_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_leads_new_respond_by",
        "leads",
        ["respond_by"],
        postgresql_where=sa.text("status = 'NEW'"),
    )


def downgrade() -> None:
    op.drop_index("ix_leads_new_respond_by", "leads")
    op.drop_column("leads", "escalated_at")
    op.drop_column("leads", "respond_by")
    for column in ("escalation_email", "response_minutes", "holiday_region", "opening_hours"):
        op.drop_column("branch_settings", column)
