"""each lead keeps its booking's trace context (W3C traceparent), so an advisor's decision
and the messages it sends continue the booking's trace

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("trace_parent", sa.String(length=55)))


def downgrade() -> None:
    op.drop_column("leads", "trace_parent")
