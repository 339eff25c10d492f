"""Instances and their leases: who runs, a notice's first attempt, an order action's claimer

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 10:00:00.000000

``instances`` holds each storeops instance sharing the database: its stable id, the process running it now (its
incarnation) and that process's heartbeat; it starts empty. ``notices.attempted_at`` is when a notice's first
sending began (a chat may have taken it unheard), null for every existing notice. ``order_actions.lease_owner``
names who claimed a row (null for existing rows: their claims run out as before). ``task_deadlines.lease_owner``
widens to 128 characters like every other lease's owner (``<instance>/<incarnation>``); existing values fit.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instances',
    sa.Column('instance', sa.String(length=64), nullable=False),
    sa.Column('incarnation', sa.String(length=32), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('instance', name=op.f('pk_instances'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempted_at', storage.schema.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('order_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=128), nullable=True))
    with op.batch_alter_table('task_deadlines', schema=None) as batch_op:
        batch_op.alter_column(
            'lease_owner', existing_type=sa.String(length=64), type_=sa.String(length=128), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table('task_deadlines', schema=None) as batch_op:
        batch_op.alter_column(
            'lease_owner', existing_type=sa.String(length=128), type_=sa.String(length=64), existing_nullable=True,
            postgresql_using='left(lease_owner, 64)',
        )
    with op.batch_alter_table('order_actions', schema=None) as batch_op:
        batch_op.drop_column('lease_owner')
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_column('attempted_at')
    op.drop_table('instances')
