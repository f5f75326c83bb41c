"""the lead list's order within a branch and status

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_leads_branch_status_received", "leads", ["branch_id", "status", "received_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_leads_branch_status_received", table_name="leads")
