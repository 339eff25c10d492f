"""Boxes: a wrong scan forward undone by a manager, and the box scanned on again

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 15:00:00.000000

``box_scans`` gains ``round`` (how many times the box's reaching that status was undone before: 0 for every
existing row), ``undone_at`` and ``undo_key`` (the manager's correction that took the box back, kept for the
history). A box reaches a status once per round: the unique ``(box_id, status)`` becomes ``(box_id, status,
round)``, so a box scanned on again after an undo is recorded, and a repeat still is not.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('box_scans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('undone_at', storage.schema.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('undo_key', sa.String(length=128), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_box_scans_box_id_status'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_box_scans_box_id_status_round'), ['box_id', 'status', 'round'])
        batch_op.create_index(batch_op.f('ix_box_scans_undo_key'), ['undo_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('box_scans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_box_scans_undo_key'))
        batch_op.drop_constraint(batch_op.f('uq_box_scans_box_id_status_round'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_box_scans_box_id_status'), ['box_id', 'status'])
        batch_op.drop_column('undo_key')
        batch_op.drop_column('undone_at')
        batch_op.drop_column('round')
