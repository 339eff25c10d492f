"""the managers' CRM's copy of each order

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 16:40:00.000000

``crm_exports`` holds, per order, the version (the number of the order's own history events) the CRM last took
and the retry after a failure; ``crm_cursors`` how far the CRM's order history was read. Both start empty: every
existing order is sent once, and the history is read from its beginning.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crm_exports',
        sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('sent_version', sa.Integer(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('updated_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['order_id'], ['orders.id'], name=op.f('fk_crm_exports_order_id_orders'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('order_id', name=op.f('pk_crm_exports')),
    )
    op.create_table(
        'crm_cursors',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('since_id', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_crm_cursors')),
    )


def downgrade() -> None:
    op.drop_table('crm_cursors')
    op.drop_table('crm_exports')
