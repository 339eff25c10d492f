"""SQL implementation of the customs plans (``workflows.ports.CustomsBook``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.customs_model import CustomsDocument, CustomsPlan


class SqlCustomsBook:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def plan(self, order_id: int) -> CustomsPlan | None:
        c = t.customs_plans.c
        row = (await self._c.execute(select(t.customs_plans).where(c.order_id == order_id))).one_or_none()
        return None if row is None else _plan(row)

    async def add(self, plan: CustomsPlan) -> bool:
        values = {"order_id": plan.order_id, "goods_cleared_at": plan.goods_cleared_at, "payment_id": plan.payment_id,
                  "fts_payee": plan.fts_payee, "fts_amount_rub": plan.fts_amount_rub, "fts_due_at": plan.fts_due_at,
                  **_values(plan)}  # fmt: skip
        statement = _upsert(self._c, t.customs_plans).values(values).on_conflict_do_nothing(index_elements=["order_id"])
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def save(self, plan: CustomsPlan) -> None:
        c = t.customs_plans.c
        await self._c.execute(update(t.customs_plans).where(c.order_id == plan.order_id).values(**_values(plan)))

    async def uncovered(self, until: datetime) -> list[CustomsPlan]:
        c, o = t.customs_plans.c, t.orders.c
        query = (
            select(t.customs_plans)
            .join(t.orders, o.id == c.order_id)
            .where(c.payout_key.is_(None), c.fts_due_at < until, o.cancelled_at.is_(None))
            .order_by(c.fts_due_at, c.order_id)
        )
        return [_plan(row) for row in await self._c.execute(query)]


def _values(plan: CustomsPlan) -> dict[str, Any]:
    documents = [
        {"n": d.n, "title": d.title, "ticked_by": d.ticked_by,
         "ticked_at": d.ticked_at.isoformat() if d.ticked_at else None}
        for d in plan.documents
    ]  # fmt: skip
    return {
        "documents": documents, "documents_task_id": plan.documents_task_id,
        "documents_done_at": plan.documents_done_at, "fts_task_id": plan.fts_task_id, "payout_key": plan.payout_key,
        "covered_at": plan.covered_at,
    }  # fmt: skip


def _plan(row: Any) -> CustomsPlan:
    documents = [
        CustomsDocument(int(d["n"]), str(d["title"]), d.get("ticked_by"),
                        datetime.fromisoformat(d["ticked_at"]) if d.get("ticked_at") else None)
        for d in row.documents
    ]  # fmt: skip
    return CustomsPlan(
        row.order_id, row.goods_cleared_at, row.payment_id, row.fts_payee, Decimal(row.fts_amount_rub), row.fts_due_at,
        documents, row.documents_task_id, row.documents_done_at, row.fts_task_id, row.payout_key, row.covered_at,
    )  # fmt: skip
