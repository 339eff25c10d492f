"""orders named as people type them: the order number case-folded and the phone as digits

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 04:00:00.000000

``orders.external_key`` is the channel's order number case-folded (``wb-1`` finds ``WB-1``) and
``orders.phone_key`` the customer's phone as digits with the country code (``8 (916) 123-45-67`` finds
``+79161234567``), each on an index, so `/order`, the order search and the client checks look an order up in one
indexed step whatever case or way of writing a person uses. ``blocked_clients.phone_key`` the same for a blocked
client, so writing the phone another way does not get a blocked client through. Existing rows are filled here.

The rules are copied, not imported (``workflows.typed_names.name_key``, ``workflows.clients.phone_key``): a migration
must fill what it filled on the day it was written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_BATCH = 2000


def _name_key(name: str) -> str:
    return name.strip().casefold()


def _phone_key(phone: str | None) -> str | None:
    text = (phone or "").strip()
    digits = "".join(char for char in text if char.isdigit())
    if len(digits) < 5:
        return None
    if text.startswith("+"):
        return digits
    if len(digits) == 11 and digits[0] in "78":
        return "7" + digits[1:]
    if len(digits) == 10:
        return "7" + digits
    return digits


def _fill(table: str, key_of: dict[str, tuple[str, object]]) -> None:
    """Fill the key columns of ``table`` (column → (source column, rule)) in batches by id."""
    connection = op.get_bind()
    sources = sorted({source for source, _ in key_of.values()})
    columns = [sa.column("id"), *(sa.column(c) for c in sources), *(sa.column(c) for c in key_of)]
    rows_of = sa.table(table, *columns)
    update = (
        sa.update(rows_of)
        .where(rows_of.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam(f"new_{column}") for column in key_of})
    )
    last = 0
    while True:
        query = sa.select(rows_of.c.id, *(rows_of.c[c] for c in sources)).where(rows_of.c.id > last)
        rows = connection.execute(query.order_by(rows_of.c.id).limit(_BATCH)).all()
        if not rows:
            return
        connection.execute(
            update,
            [
                {"row_id": row.id}
                | {f"new_{column}": rule(getattr(row, source)) for column, (source, rule) in key_of.items()}
                for row in rows
            ],
        )
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_key', sa.String(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('phone_key', sa.String(length=32), nullable=True))
    with op.batch_alter_table('blocked_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_key', sa.String(length=32), nullable=True))
    _fill("orders", {"external_key": ("external_id", _name_key), "phone_key": ("customer_phone", _phone_key)})
    _fill("blocked_clients", {"phone_key": ("phone", _phone_key)})
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_channel_external_key'), ['channel', 'external_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_phone_key_created_at'), ['phone_key', 'created_at'], unique=False)
    with op.batch_alter_table('blocked_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blocked_clients_phone_key'), ['phone_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('blocked_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blocked_clients_phone_key'))
        batch_op.drop_column('phone_key')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_phone_key_created_at'))
        batch_op.drop_index(batch_op.f('ix_orders_channel_external_key'))
        batch_op.drop_column('phone_key')
        batch_op.drop_column('external_key')
