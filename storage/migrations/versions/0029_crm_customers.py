"""The CRM's customer of each client, claimed before it is looked up or made

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 17:00:00.000000

``crm_customers`` holds, per client key (the phone's digits with the country code, else the e-mail), the CRM's
customer id once known, and the claim of the instance finding or making it. It starts empty: the customers the CRM
already holds are found by phone on each client's next order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crm_customers',
    sa.Column('client', sa.String(length=320), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client', name=op.f('pk_crm_customers'))
    )


def downgrade() -> None:
    op.drop_table('crm_customers')
