"""suspect store stock and notices to people

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 00:39:22.733756
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('notices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notices'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notices_delivered_at_id'), ['delivered_at', 'id'], unique=False)

    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspect_since', storage.schema.UtcDateTime(timezone=True), nullable=True))

    


def downgrade() -> None:
    
    with op.batch_alter_table('stock_levels', schema=None) as batch_op:
        batch_op.drop_column('suspect_since')

    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_delivered_at_id'))

    op.drop_table('notices')
    
