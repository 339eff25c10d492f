"""The payment watch: where a payment event came from, and the watch's record of each stuck payment

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 08:00:00.000000

``payment_events.source`` says whether an event is the gateway's own notice (``gateway``: every existing row) or
our reading of the gateway's status (``status_poll``), which is never a payment attempt for the fraud check.
``payment_watches`` holds, per payment the watch polled, when to ask next, the answered and unanswered polls, the
managers' task and the lease; it starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='gateway', nullable=False))
    op.create_table('payment_watches',
    sa.Column('payment_id', sa.String(length=128), nullable=False),
    sa.Column('next_poll_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('task_for', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('leased_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.payment_id'],
                            name=op.f('fk_payment_watches_payment_id_payments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_payment_watches'))
    )
    with op.batch_alter_table('payment_watches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_watches_next_poll_at'), ['next_poll_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payment_watches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_watches_next_poll_at'))
    op.drop_table('payment_watches')
    with op.batch_alter_table('payment_events', schema=None) as batch_op:
        batch_op.drop_column('source')
