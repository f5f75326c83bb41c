"""the branch's appointments by time, for the Servicetermin Manager's day and week

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_appointments_branch_start", "appointments", ["branch_id", "start"])


def downgrade() -> None:
    op.drop_index("ix_appointments_branch_start", "appointments")
