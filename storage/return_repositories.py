"""The SQL returns (``workflows.ports.ReturnRecords``): one row per order and SKU, and the stock a return brings
back at once when the shop says so."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from workflows.return_model import ReturnRecord, ReturnState


def _insert(connection: AsyncConnection, table: Any) -> Any:
    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)


class SqlReturnRecords:
    def __init__(self, connection: AsyncConnection, touched: set[str], urgent: set[str] | None = None) -> None:
        self._c = connection
        self._touched = touched  # for the sync outbox
        self._urgent = urgent if urgent is not None else set()  # a return is an order's: its lines go first

    async def add(self, record: ReturnRecord) -> bool:
        values = {
            "order_id": record.order_id, "sku": record.sku, "warehouse": record.warehouse, "qty": record.qty,
            "source": record.source, "announced_at": record.announced_at, "task_id": record.task_id,
            "state": record.state.value, "decided_at": record.decided_at,
        }  # fmt: skip
        statement = (
            _insert(self._c, t.returns).values(values).on_conflict_do_nothing(index_elements=["order_id", "sku"])
        )
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def get(self, order_id: int, sku: str) -> ReturnRecord | None:
        r = t.returns.c
        row = (await self._c.execute(select(t.returns).where(r.order_id == order_id, r.sku == sku))).one_or_none()
        if row is None:
            return None
        return ReturnRecord(
            row.order_id, row.sku, row.warehouse, row.qty, row.source, row.announced_at, row.task_id,
            ReturnState(row.state), row.decided_at,
        )  # fmt: skip

    async def settle(self, order_id: int, sku: str, state: ReturnState, at: datetime) -> None:
        r = t.returns.c
        await self._c.execute(
            update(t.returns).where(r.order_id == order_id, r.sku == sku).values(state=state.value, decided_at=at)
        )

    async def expected_back(self, sku: str) -> dict[str, int]:
        r, s = t.returns.c, t.stock_levels.c
        statement = (
            select(r.warehouse, func.sum(r.qty))
            .select_from(t.returns.outerjoin(t.stock_levels, and_(s.sku == r.sku, s.warehouse == r.warehouse)))
            .where(r.sku == sku, r.state == ReturnState.SELLABLE.value)
            .where(or_(s.as_of.is_(None), r.decided_at > s.as_of))
            .group_by(r.warehouse)
        )
        return {warehouse: int(qty) for warehouse, qty in await self._c.execute(statement)}

    async def awaiting_receipt(self) -> int:
        query = select(func.count()).select_from(t.returns).where(t.returns.c.state == ReturnState.ANNOUNCED.value)
        return int((await self._c.execute(query)).scalar_one())

    async def take_back(self, sku: str, warehouse: str, qty: int, as_of_if_new: datetime) -> None:
        self._touched.add(sku)
        self._urgent.add(sku)
        row = {"sku": sku, "warehouse": warehouse, "on_hand": qty, "reserved": 0, "as_of": as_of_if_new}
        statement = _insert(self._c, t.stock_levels).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["sku", "warehouse"], set_={"on_hand": t.stock_levels.c.on_hand + qty}
        )
        await self._c.execute(statement)
