"""Clients' money per order: virtual accounts, earmarks, payouts and their journal

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 08:00:00.000000

Four new tables, empty at first (workflows/client_money.py, docs/client_money.md): ``money_accounts`` (one per order
that has a money plan or a cleared payment since), ``earmarks`` (the reserves per purpose; ``drawn <= reserved`` is
checked by the database too), ``payouts`` (payments out, each drawn from one earmark) and ``money_entries`` (the
journal; its unique key makes a repeated payment, draw or decision change nothing). Payments cleared before this
migration are not credited: accounts start with what clears from now on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('money_accounts',
    sa.Column('order_id', _ID, nullable=False),
    sa.Column('transport', sa.String(length=32), nullable=True),
    sa.Column('clearance', sa.String(length=32), nullable=True),
    sa.Column('credited', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('unallocated', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_money_accounts_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_money_accounts'))
    )
    op.create_table('earmarks',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('order_id', _ID, nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('planned', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reserved', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('drawn', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('absorbed', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.CheckConstraint('drawn <= reserved', name=op.f('ck_earmarks_not_overdrawn')),
    sa.CheckConstraint('drawn >= 0', name=op.f('ck_earmarks_drawn_not_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['money_accounts.order_id'],
                            name=op.f('fk_earmarks_order_id_money_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_earmarks')),
    sa.UniqueConstraint('order_id', 'purpose', name=op.f('uq_earmarks_order_id_purpose'))
    )
    op.create_table('payouts',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('order_id', _ID, nullable=False),
    sa.Column('earmark_id', _ID, nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('payee', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('rate', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('amount_rub', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('due_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('requested_due_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('obligation_id', _ID, nullable=True),
    sa.Column('task_id', _ID, nullable=True),
    sa.Column('topup_payment_id', sa.String(length=128), nullable=True),
    sa.Column('absorbed_rub', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('drawn_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('paid_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['earmark_id'], ['earmarks.id'], name=op.f('fk_payouts_earmark_id_earmarks'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['obligation_id'], ['obligations.id'], name=op.f('fk_payouts_obligation_id_obligations'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_payouts_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts')),
    sa.UniqueConstraint('key', name=op.f('uq_payouts_key'))
    )
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payouts_earmark_id'), ['earmark_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_state_due_at'), ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payouts_topup_payment_id'), ['topup_payment_id'], unique=False)
    op.create_table('money_entries',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('order_id', _ID, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=True),
    sa.Column('amount_rub', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_money_entries_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_money_entries')),
    sa.UniqueConstraint('key', name=op.f('uq_money_entries_key'))
    )
    with op.batch_alter_table('money_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_money_entries_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_table('money_entries')
    op.drop_table('payouts')
    op.drop_table('earmarks')
    op.drop_table('money_accounts')
