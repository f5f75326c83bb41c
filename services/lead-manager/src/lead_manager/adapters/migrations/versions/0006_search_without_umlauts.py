"""the live search finds names spelt without umlauts (Baehr, Mueller, Muller)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_NAME = "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
_NAME_AE = (
    f"replace(replace(replace(replace({_NAME}, 'ä', 'ae'), 'ö', 'oe'), 'ü', 'ue'), 'ß', 'ss')"
)
_NAME_A = f"translate(replace({_NAME}, 'ß', 'ss'), 'äöü', 'aou')"
SEARCH_TEXT = (
    f"{_NAME} || ' ' || lower("
    "coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(mobile, '') || ' ' || "
    "coalesce(licence_plate, '') || ' ' || "
    "translate(coalesce(licence_plate, ''), '- ', '') || ' ' || "
    f"coalesce(vin, '') || ' ' || booking_id) || ' ' || {_NAME_AE} || ' ' || {_NAME_A}"
)
BEFORE = (
    "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || "
    "coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(mobile, '') || ' ' || "
    "coalesce(licence_plate, '') || ' ' || "
    "translate(coalesce(licence_plate, ''), '- ', '') || ' ' || "
    "coalesce(vin, '') || ' ' || booking_id)"
)


def _search_text(expression: str) -> None:
    # a generated column's expression cannot be altered before PostgreSQL 17: dropped (its
    # index with it) and added again, computed for every row
    op.drop_column("leads", "search_text")
    op.add_column(
        "leads", sa.Column("search_text", sa.Text(), sa.Computed(expression, persisted=True))
    )
    op.create_index(
        "ix_leads_search_trgm",
        "leads",
        ["search_text"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def upgrade() -> None:
    _search_text(SEARCH_TEXT)


def downgrade() -> None:
    _search_text(BEFORE)
