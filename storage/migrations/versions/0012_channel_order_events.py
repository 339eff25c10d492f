"""order events from the channels, and each channel's bookmark in them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:30:00.000000

``channel_order_events`` keeps what a channel said became of its orders (cancelled, delivered, returned), one row
per (channel, order, kind): the row is the claim that the event was applied once. ``channel_states`` gains
``order_events_cursor``, the channel's own bookmark handed back on the next read. Both start empty: the first read
after the upgrade asks the channel for its look-back window.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_order_events',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('heard_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('applied_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_channel_order_events_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel', 'external_id', 'kind', name=op.f('pk_channel_order_events'))
    )
    with op.batch_alter_table('channel_order_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_order_events_channel_applied_at'), ['channel', 'applied_at'],
                              unique=False)
    with op.batch_alter_table('channel_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_events_cursor', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_states', schema=None) as batch_op:
        batch_op.drop_column('order_events_cursor')
    with op.batch_alter_table('channel_order_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_order_events_channel_applied_at'))
    op.drop_table('channel_order_events')
