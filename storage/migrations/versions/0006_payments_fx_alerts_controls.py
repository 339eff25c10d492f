"""payments fx alerts controls

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 02:08:54.215843
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_mutes',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('until', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_alert_mutes'))
    )
    op.create_table('blocked_clients',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('blocked_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_blocked_clients'))
    )
    with op.batch_alter_table('blocked_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blocked_clients_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_blocked_clients_phone'), ['phone'], unique=False)

    op.create_table('controls',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_controls'))
    )
    op.create_table('fx_rates',
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('rate_date', sa.Date(), nullable=False),
    sa.Column('rate', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('fetched_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('currency', 'rate_date', name=op.f('pk_fx_rates'))
    )
    op.create_table('payment_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('payment_id', sa.String(length=128), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('received_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('applied', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_payment_events'))
    )
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_events_payment_id'), ['payment_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('shown_count', sa.Integer(), nullable=False),
    sa.Column('first_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('shown_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_alerts_task_id_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_key_state'), ['key', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_state_shown_at'), ['state', 'shown_at'], unique=False)

    op.create_table('payments',
    sa.Column('payment_id', sa.String(length=128), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('void_requested_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payments_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('rate_at_payment', sa.Numeric(precision=18, scale=6), nullable=True))
        batch_op.add_column(sa.Column('rate_at_due', sa.Numeric(precision=18, scale=6), nullable=True))
        batch_op.add_column(sa.Column('topup_rub', sa.Numeric(precision=18, scale=2), nullable=True))
        batch_op.create_index(batch_op.f('ix_obligations_state_due_at'), ['state', 'due_at'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_hold', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('shipping_hold')

    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_obligations_state_due_at'))
        batch_op.drop_column('topup_rub')
        batch_op.drop_column('rate_at_due')
        batch_op.drop_column('rate_at_payment')
        batch_op.drop_column('state')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_order_id'))

    op.drop_table('payments')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_state_shown_at'))
        batch_op.drop_index(batch_op.f('ix_alerts_key_state'))

    op.drop_table('alerts')
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_events_payment_id'))

    op.drop_table('payment_events')
    op.drop_table('fx_rates')
    op.drop_table('controls')
    with op.batch_alter_table('blocked_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blocked_clients_phone'))
        batch_op.drop_index(batch_op.f('ix_blocked_clients_email'))

    op.drop_table('blocked_clients')
    op.drop_table('alert_mutes')
