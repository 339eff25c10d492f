"""A partial index of the stock rows promised beyond what is on hand

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04 17:00:00.000000

Every 1C message asks which of its rows have more reserved than on hand (shortfalls). Through the primary key
that fetched each of the message's 5 000 rows to compare the two; ``ix_stock_levels_overdrawn`` holds only the
rows where ``reserved > on_hand`` (next to none), so the same look-up touches only those. Nothing stored changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

_WHERE = sa.text("reserved > on_hand")


def upgrade() -> None:
    op.create_index('ix_stock_levels_overdrawn', 'stock_levels', ['sku', 'warehouse'], unique=False,
                    sqlite_where=_WHERE, postgresql_where=_WHERE)


def downgrade() -> None:
    op.drop_index('ix_stock_levels_overdrawn', table_name='stock_levels')
