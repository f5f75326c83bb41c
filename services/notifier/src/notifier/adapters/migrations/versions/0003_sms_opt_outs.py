"""numbers whose owners answered STOP to an SMS: no SMS is sent to them until START

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
    op.create_table(
        "sms_opt_outs",
        sa.Column("phone", sa.String(20), primary_key=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keyword", sa.String(20), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
