"""the sync outbox's lines carry a priority: what an order changed goes ahead of a bulk backlog

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 08:00:00.000000

``stock_pushes.priority`` and ``price_pushes.priority``: 0 for a value an order changed (a reservation taken or
released, a return), 1 for the rest (1C's figures, kits, reconciliation); every existing line is 1. Each outbox's
index on ``(channel, state, next_attempt_at)`` becomes one in the claim's order, ``(channel, state, priority,
first_pending_at, sku)``, so a claim walks the index to its limit instead of sorting every due line of the channel.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_TABLES = ('stock_pushes', 'price_pushes')


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('priority', sa.SmallInteger(), server_default='1', nullable=False))
            batch_op.drop_index(batch_op.f(f'ix_{table}_channel_state_next_attempt_at'))
            batch_op.create_index(
                batch_op.f(f'ix_{table}_channel_state_priority_first_pending_at_sku'),
                ['channel', 'state', 'priority', 'first_pending_at', 'sku'], unique=False,
            )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_channel_state_priority_first_pending_at_sku'))
            batch_op.create_index(
                batch_op.f(f'ix_{table}_channel_state_next_attempt_at'), ['channel', 'state', 'next_attempt_at'],
                unique=False,
            )
            batch_op.drop_column('priority')
