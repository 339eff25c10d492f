"""Customs plans: an order's document checklist and planned FTS payment on full clearance

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 14:00:00.000000

``customs_plans`` holds one row per order planned with full clearance whose goods money is in: the checklist with
each tick, the managers' tasks and the FTS payment planned from the customs earmark until a payout covers it. It
starts empty: orders whose goods money came before this version get no plan.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customs_plans',
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('goods_cleared_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('payment_id', sa.String(length=128), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('documents_task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('documents_done_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('fts_payee', sa.String(length=255), nullable=False),
    sa.Column('fts_amount_rub', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('fts_due_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('fts_task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payout_key', sa.String(length=128), nullable=True),
    sa.Column('covered_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_customs_plans_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_customs_plans'))
    )
    with op.batch_alter_table('customs_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customs_plans_fts_due_at'), ['fts_due_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customs_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customs_plans_fts_due_at'))
    op.drop_table('customs_plans')
