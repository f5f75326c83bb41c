"""each notification keeps the trace context of the event that asked for it (W3C
traceparent): its sending continues that trace

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("trace_parent", sa.String(length=55)))


def downgrade() -> None:
    op.drop_column("notifications", "trace_parent")
