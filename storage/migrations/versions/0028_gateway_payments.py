"""Top-up payments created at the gateway for the client to pay

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 15:00:00.000000

``gateway_payments`` holds, per top-up payment request, whether it was created at the gateway yet (``pending``,
``created``, ``dropped``), the gateway's payment id and the client's ``confirmation_url``, the attempts, the last
error, when to try next and the lease. It starts empty: top-ups asked before this migration stay as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('gateway_payments',
    sa.Column('payment_id', sa.String(length=128), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=128), nullable=False),
    sa.Column('gateway_id', sa.String(length=128), nullable=True),
    sa.Column('confirmation_url', sa.Text(), nullable=True),
    sa.Column('return_url', sa.Text(), nullable=True),
    sa.Column('first_tried_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('leased_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_gateway_payments_order_id_orders'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.payment_id'],
                            name=op.f('fk_gateway_payments_payment_id_payments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_gateway_payments')),
    sa.UniqueConstraint('gateway_id', name=op.f('uq_gateway_payments_gateway_id'))
    )
    with op.batch_alter_table('gateway_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_payments_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_payments_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gateway_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_payments_order_id'))
        batch_op.drop_index(batch_op.f('ix_gateway_payments_next_attempt_at'))
    op.drop_table('gateway_payments')
