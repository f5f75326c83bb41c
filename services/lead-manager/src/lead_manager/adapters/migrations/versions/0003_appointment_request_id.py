"""the schedule request an appointment came from (one appointment per request)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("appointments", sa.Column("request_id", sa.UUID(), nullable=True))
    op.create_unique_constraint("appointments_request_id_key", "appointments", ["request_id"])


def downgrade() -> None:
    op.drop_constraint("appointments_request_id_key", "appointments")
    op.drop_column("appointments", "request_id")
