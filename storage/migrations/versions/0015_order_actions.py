"""order actions: what a marketplace must do about an order, and questions about orders nobody can fill

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 17:00:00.000000

``order_actions`` holds, per order, the steps sent to its marketplace (``ready_to_ship``, ``cancel_unfillable``)
with their attempts and backoff, and when the managers are asked about an order with a line nobody could fill
(``ask_unfillable``). One row per (order, action): the insert is the claim that it is queued once. Starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_actions',
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('done_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_actions_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'action', name=op.f('pk_order_actions'))
    )
    with op.batch_alter_table('order_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_actions_state_next_attempt_at'), ['state', 'next_attempt_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('order_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_actions_state_next_attempt_at'))
    op.drop_table('order_actions')
