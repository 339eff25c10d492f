"""channel states, 1C heartbeats and report deliveries

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 12:38:50.569030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_states',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('paused_by', sa.String(length=255), nullable=True),
    sa.Column('paused_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('circuit_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('failures_in_a_row', sa.Integer(), nullable=False),
    sa.Column('sync_requested_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('sync_requested_by', sa.String(length=255), nullable=True),
    sa.Column('reconciled_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reconciled', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_channel_states'))
    )
    op.create_table('onec_heartbeats',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_onec_heartbeats'))
    )
    op.create_table('report_deliveries',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_report_deliveries'))
    )


def downgrade() -> None:
    op.drop_table('report_deliveries')
    op.drop_table('onec_heartbeats')
    op.drop_table('channel_states')
