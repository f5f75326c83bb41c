"""privacy (issue 19): each branch's lead retention, when a lead was anonymised

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "branch_settings",
        sa.Column(
            "lead_retention_months", sa.Integer(), nullable=False, server_default=sa.text("24")
        ),
    )
    op.add_column("leads", sa.Column("anonymised_at", sa.DateTime(timezone=True)))
    # the retention rule looks for leads not yet anonymised, by their last change
    op.create_index(
        "ix_leads_not_anonymised",
        "leads",
        ["updated_at"],
        postgresql_where=sa.text("anonymised_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_leads_not_anonymised", table_name="leads")
    op.drop_column("leads", "anonymised_at")
    op.drop_column("branch_settings", "lead_retention_months")
