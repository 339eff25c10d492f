"""a chat may show a task more than once

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:40:00.000000

A task's message is in a chat once from its delivery and again each time a person's ``/tasks`` sends a fresh
copy there; its decision edits every copy. The key of ``task_messages`` so far allowed one message per task and
chat, so recording the second copy failed: it now includes the message's id. Every existing row is kept.

Going back keeps one copy per task and chat (the lowest message id) and forgets the others.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_task_messages = sa.table(
    'task_messages', sa.column('task_id', sa.BigInteger()), sa.column('platform', sa.String()),
    sa.column('chat', sa.String()), sa.column('message_id', sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table('task_messages', schema=None) as batch_op:
        batch_op.drop_constraint('pk_task_messages', type_='primary')
        batch_op.create_primary_key('pk_task_messages', ['task_id', 'platform', 'chat', 'message_id'])


def downgrade() -> None:
    _forget_extra_copies()
    with op.batch_alter_table('task_messages', schema=None) as batch_op:
        batch_op.drop_constraint('pk_task_messages', type_='primary')
        batch_op.create_primary_key('pk_task_messages', ['task_id', 'platform', 'chat'])


def _forget_extra_copies() -> None:
    """Delete every copy of a task in a chat but the one of the lowest message id."""
    kept, other = _task_messages.alias('kept'), _task_messages
    lower = sa.exists().where(
        kept.c.task_id == other.c.task_id, kept.c.platform == other.c.platform, kept.c.chat == other.c.chat,
        kept.c.message_id < other.c.message_id,
    )
    op.execute(sa.delete(other).where(lower))
