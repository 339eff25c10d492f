"""Clients' money: the purchase watch, delivery modes and what the estimate set, for route changes

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 14:00:00.000000

``money_accounts`` gains ``delivery`` (how the goods go on from the warehouse; null reads as ``marketplace``),
``cleared_at`` (the first client payment credited: filled from the journal for existing accounts),
``purchase_ask_at`` (when the purchase watch asks the managers about money with no purchase started; existing
accounts are not watched) and ``purchase_task_id`` (its open question). ``earmarks.estimated`` is what the estimate
set, without the top-ups asked since; existing earmarks take their ``planned``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('money_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('cleared_at', storage.schema.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('purchase_ask_at', storage.schema.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('purchase_task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True)
        )
        batch_op.create_index(batch_op.f('ix_money_accounts_purchase_ask_at'), ['purchase_ask_at'], unique=False)
    with op.batch_alter_table('earmarks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estimated', sa.Numeric(precision=18, scale=2), nullable=True))
    op.execute("UPDATE earmarks SET estimated = planned")
    op.execute(
        "UPDATE money_accounts SET cleared_at = (SELECT min(e.at) FROM money_entries e"
        " WHERE e.order_id = money_accounts.order_id AND e.kind = 'credit')"
    )


def downgrade() -> None:
    with op.batch_alter_table('earmarks', schema=None) as batch_op:
        batch_op.drop_column('estimated')
    with op.batch_alter_table('money_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_money_accounts_purchase_ask_at'))
        batch_op.drop_column('purchase_task_id')
        batch_op.drop_column('purchase_ask_at')
        batch_op.drop_column('cleared_at')
        batch_op.drop_column('delivery')
