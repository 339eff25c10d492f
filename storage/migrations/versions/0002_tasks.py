"""human tasks and their deadlines

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:35:46.589557
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('assignee', sa.String(length=128), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('deadline', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.String(length=32), nullable=True),
    sa.Column('answered_by', sa.String(length=128), nullable=True),
    sa.Column('closed_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_state_assignee'), ['state', 'assignee'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_subject'), ['subject'], unique=False)

    op.create_table('task_deadlines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('leased_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('fired_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_deadlines_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_deadlines'))
    )
    with op.batch_alter_table('task_deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_deadlines_fired_at_due_at'), ['fired_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_deadlines_task_id'), ['task_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('task_deadlines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_deadlines_task_id'))
        batch_op.drop_index(batch_op.f('ix_task_deadlines_fired_at_due_at'))

    op.drop_table('task_deadlines')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_subject'))
        batch_op.drop_index(batch_op.f('ix_tasks_state_assignee'))

    op.drop_table('tasks')
    
