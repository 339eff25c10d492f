"""SQL implementation of :class:`workflows.ports.OneCCatalogueRecords`: what 1C said of its products, by 1C id, and
the figures held until the catalogue names them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert, batched
from workflows.ports import HeldFigure, OneCProduct

_CHUNK = 500
_FIELDS = ("article", "name", "barcode", "size", "updated_at")


class SqlOneCCatalogue:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def learn(self, products: Sequence[OneCProduct]) -> None:
        latest = {product.onec_id: product for product in products}  # the file's last word on an id
        for chunk in batched(latest.values(), _CHUNK):
            statement = _upsert(self._c, t.onec_products).values([_row(p) for p in chunk])
            kept = {name: func.coalesce(statement.excluded[name], t.onec_products.c[name]) for name in _FIELDS}
            await self._c.execute(statement.on_conflict_do_update(index_elements=["onec_id"], set_=kept))

    async def get(self, onec_ids: Collection[str]) -> dict[str, OneCProduct]:
        found: dict[str, OneCProduct] = {}
        p = t.onec_products.c
        for chunk in batched(sorted(set(onec_ids)), _CHUNK):
            for row in await self._c.execute(select(t.onec_products).where(p.onec_id.in_(chunk))):
                found[row.onec_id] = _product(row)
        return found

    async def without_article(self, after: str, limit: int) -> list[OneCProduct]:
        p = t.onec_products.c
        query = select(t.onec_products).where(p.article.is_(None), p.onec_id > after).order_by(p.onec_id).limit(limit)
        return [_product(row) for row in await self._c.execute(query)]

    async def hold(self, figures: Sequence[HeldFigure]) -> None:
        h = t.onec_held_stock
        for chunk in batched(figures, _CHUNK):
            statement = _upsert(self._c, h).values([_held_row(f) for f in chunk])
            newer = {name: statement.excluded[name] for name in ("qty", "as_of", "received_at")}
            await self._c.execute(
                statement.on_conflict_do_update(
                    index_elements=["onec_id", "warehouse"], set_=newer, where=statement.excluded.as_of >= h.c.as_of
                )
            )

    async def held(self) -> list[HeldFigure]:
        h = t.onec_held_stock.c
        query = select(t.onec_held_stock).order_by(h.as_of, h.onec_id, h.warehouse)
        return [
            HeldFigure(row.onec_id, row.warehouse, row.qty, row.as_of, row.received_at)
            for row in await self._c.execute(query)
        ]

    async def release(self, keys: Collection[tuple[str, str]]) -> None:
        h = t.onec_held_stock.c
        for chunk in batched(sorted(set(keys)), _CHUNK):
            await self._c.execute(delete(t.onec_held_stock).where(tuple_(h.onec_id, h.warehouse).in_(chunk)))


def _row(product: OneCProduct) -> dict[str, Any]:
    return {"onec_id": product.onec_id, **{name: getattr(product, name) for name in _FIELDS}}


def _product(row: Any) -> OneCProduct:
    return OneCProduct(row.onec_id, row.article, row.name, row.barcode, row.size, row.updated_at)


def _held_row(figure: HeldFigure) -> dict[str, Any]:
    return {"onec_id": figure.onec_id, "warehouse": figure.warehouse, "qty": figure.qty, "as_of": figure.as_of,
            "received_at": figure.received_at}  # fmt: skip
