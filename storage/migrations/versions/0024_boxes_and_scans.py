"""Boxes and scans: a purchase's boxes, the statuses each reached, and what each earmark released as goods moved

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 14:00:00.000000

Two new tables, empty at first (workflows/boxes.py, docs/client_money.md "Boxes and scans"): ``boxes`` (one per box
of a purchase, with its barcode, contents, value and status) and ``box_scans`` (one row per box and status it
reached, unique, so a repeated or racing scan is recorded once). ``earmarks.released`` (0 for every existing row) is
what of an earmark's drawn money materialised as the boxes moved; the database checks ``0 <= released <= drawn``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('earmarks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('released', sa.Numeric(precision=18, scale=2), server_default='0',
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_earmarks_not_released_beyond_drawn'), 'released <= drawn')
        batch_op.create_check_constraint(op.f('ck_earmarks_released_not_negative'), 'released >= 0')
    op.create_table('boxes',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('barcode', sa.String(length=40), nullable=False),
    sa.Column('order_id', _ID, nullable=False),
    sa.Column('payout_id', _ID, nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('boxes', sa.Integer(), nullable=False),
    sa.Column('contents', sa.JSON(), nullable=False),
    sa.Column('value_rub', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('status_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_boxes_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_boxes_payout_id_payouts'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boxes')),
    sa.UniqueConstraint('barcode', name=op.f('uq_boxes_barcode')),
    sa.UniqueConstraint('payout_id', 'number', name=op.f('uq_boxes_payout_id_number'))
    )
    with op.batch_alter_table('boxes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_boxes_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_boxes_key'), ['key'], unique=False)
    op.create_table('box_scans',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('box_id', _ID, nullable=False),
    sa.Column('order_id', _ID, nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=True),
    sa.Column('skipped', sa.Boolean(), nullable=False),
    sa.Column('released', sa.JSON(), nullable=False),
    sa.Column('stock', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['box_id'], ['boxes.id'], name=op.f('fk_box_scans_box_id_boxes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_box_scans_order_id_orders'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_box_scans')),
    sa.UniqueConstraint('box_id', 'status', name=op.f('uq_box_scans_box_id_status')),
    sa.UniqueConstraint('key', name=op.f('uq_box_scans_key'))
    )
    with op.batch_alter_table('box_scans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_box_scans_order_id'), ['order_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('box_scans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_box_scans_order_id'))
    op.drop_table('box_scans')
    with op.batch_alter_table('boxes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_boxes_key'))
        batch_op.drop_index(batch_op.f('ix_boxes_order_id'))
    op.drop_table('boxes')
    with op.batch_alter_table('earmarks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_earmarks_released_not_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_earmarks_not_released_beyond_drawn'), type_='check')
        batch_op.drop_column('released')
