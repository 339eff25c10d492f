"""orders ship by: the marketplace's own shipping deadline

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 18:40:00.000000

``orders.ship_by`` is when the marketplace wants the order shipped (Ozon's ``shipment_date``, Yandex Market's
``shipmentDate``), when it tells one; it bounds the managers' time to decide on an order nobody can fill. Orders
taken before stay without one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ship_by', storage.schema.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('ship_by')
