"""returns

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:40:00.000000

One row per returned order line (order and SKU): where it comes back, who reported it, the warehouse's task and
what the warehouse said arrived. Going back drops the table and what it recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('returns',
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=False),
    sa.Column('warehouse', sa.String(length=64), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('announced_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('qty > 0', name=op.f('ck_returns_qty_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_returns_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'sku', name=op.f('pk_returns'))
    )
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_returns_sku_state'), ['sku', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_returns_sku_state'))

    op.drop_table('returns')
