"""sync outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 02:55:15.312315
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_stock',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('accepted_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'sku', name=op.f('pk_channel_stock'))
    )
    op.create_table('stock_pushes',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('first_pending_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('leased_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('channel', 'sku', name=op.f('pk_stock_pushes'))
    )
    with op.batch_alter_table('stock_pushes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_pushes_channel_state_next_attempt_at'), ['channel', 'state', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stock_pushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_pushes_channel_state_next_attempt_at'))

    op.drop_table('stock_pushes')
    op.drop_table('channel_stock')
