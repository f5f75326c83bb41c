"""the customer's confirmation of the appointment by a link in a confirmation or reminder

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("leads", sa.Column("confirmed_by_customer_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("leads", "confirmed_by_customer_at")
