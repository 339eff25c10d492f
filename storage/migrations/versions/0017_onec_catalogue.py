"""1C's catalogue: what 1C said of its products, and the figures waiting for it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 19:00:00.000000

``onec_products`` holds, per 1C id (a product, or ``product#characteristic``), the article, name, barcode and
size 1C gave it in its catalogue or offers files; ``onec_held_stock`` the 1C figures keyed by an id nothing named
yet, with the time 1C computed them, until the catalogue arrives. Both start empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.schema

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('onec_products',
    sa.Column('onec_id', sa.String(length=255), nullable=False),
    sa.Column('article', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('barcode', sa.String(length=64), nullable=True),
    sa.Column('size', sa.String(length=255), nullable=True),
    sa.Column('updated_at', storage.schema.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('onec_id', name=op.f('pk_onec_products'))
    )
    with op.batch_alter_table('onec_products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_onec_products_article'), ['article'], unique=False)
    op.create_table('onec_held_stock',
    sa.Column('onec_id', sa.String(length=255), nullable=False),
    sa.Column('warehouse', sa.String(length=64), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('as_of', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.Column('received_at', storage.schema.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('onec_id', 'warehouse', name=op.f('pk_onec_held_stock'))
    )


def downgrade() -> None:
    op.drop_table('onec_held_stock')
    with op.batch_alter_table('onec_products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_onec_products_article'))
    op.drop_table('onec_products')
