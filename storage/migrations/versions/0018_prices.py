"""Prices: 1C's price book, the price outbox, what each channel shows, and the batches the guard holds

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 23:30:00.000000

``onec_prices`` holds 1C's price per price type and SKU (kopecks); ``price_pushes`` the newest price each channel
should show, sent like stock (a held line waits for its batch's decision); ``channel_prices`` what each channel last
accepted; ``price_batches`` one price type's held prices from one upload, and who decided. All start empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('price_pushes',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('first_pending_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('leased_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('batch_id', _ID, nullable=True),
    sa.PrimaryKeyConstraint('channel', 'sku', name=op.f('pk_price_pushes'))
    )
    with op.batch_alter_table('price_pushes', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_price_pushes_channel_state_next_attempt_at'), ['channel', 'state', 'next_attempt_at'],
            unique=False,
        )
        batch_op.create_index(batch_op.f('ix_price_pushes_batch_id'), ['batch_id'], unique=False)
    op.create_table('channel_prices',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('accepted_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'sku', name=op.f('pk_channel_prices'))
    )
    op.create_table('onec_prices',
    sa.Column('price_type', sa.String(length=255), nullable=False),
    sa.Column('sku', sa.String(length=255), nullable=False),
    sa.Column('price_minor', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('price_type', 'sku', name=op.f('pk_onec_prices'))
    )
    op.create_table('price_batches',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('price_type', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('decided_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_batches'))
    )


def downgrade() -> None:
    op.drop_table('price_batches')
    op.drop_table('onec_prices')
    op.drop_table('channel_prices')
    with op.batch_alter_table('price_pushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_pushes_batch_id'))
        batch_op.drop_index(batch_op.f('ix_price_pushes_channel_state_next_attempt_at'))
    op.drop_table('price_pushes')
