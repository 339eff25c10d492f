"""SQL implementation of the box book (``workflows.ports.BoxBook``): a purchase's boxes and the statuses each
reached, one scan row per box and status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.box_model import STATUSES, Box, BoxLine, BoxScan, BoxStatus

_IN_ORDER = case({s.value: n for n, s in enumerate(STATUSES)}, value=t.box_scans.c.status)


class SqlBoxBook:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, boxes: Sequence[Box]) -> None:
        b = t.boxes.c
        for box in boxes:
            values = {
                "barcode": box.barcode, "order_id": box.order_id, "payout_id": box.payout_id, "number": box.number,
                "boxes": box.boxes, "contents": [{"sku": line.sku, "qty": line.qty} for line in box.contents],
                "value_rub": box.value_rub, "status": box.status.value, "status_at": box.status_at, "key": box.key,
                "created_at": box.created_at,
            }  # fmt: skip
            box.id = int((await self._c.execute(t.boxes.insert().returning(b.id), values)).scalar_one())

    async def of_payout(self, payout_id: int) -> list[Box]:
        b = t.boxes.c
        return [
            _box(r) for r in await self._c.execute(select(t.boxes).where(b.payout_id == payout_id).order_by(b.number))
        ]

    async def of_order(self, order_id: int) -> list[Box]:
        b = t.boxes.c
        query = select(t.boxes).where(b.order_id == order_id).order_by(b.payout_id, b.number)
        return [_box(r) for r in await self._c.execute(query)]

    async def with_key(self, key: str) -> list[Box]:
        b = t.boxes.c
        return [_box(r) for r in await self._c.execute(select(t.boxes).where(b.key == key).order_by(b.id))]

    async def by_barcode(self, barcode: str) -> Box | None:
        row = (await self._c.execute(select(t.boxes).where(t.boxes.c.barcode == barcode))).one_or_none()
        return None if row is None else _box(row)

    async def move(self, box_id: int, came_from: BoxStatus, to: BoxStatus, at: datetime) -> bool:
        b = t.boxes.c
        statement = (
            update(t.boxes).where(b.id == box_id, b.status == came_from.value).values(status=to.value, status_at=at)
        )
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def add_scan(self, scan: BoxScan) -> bool:
        values = {
            "box_id": scan.box_id, "order_id": scan.order_id, "status": scan.status.value, "at": scan.at,
            "key": scan.key, "skipped": scan.skipped, "released": {p: str(v) for p, v in scan.released.items()},
            "stock": scan.stock, "round": scan.round, "undone_at": scan.undone_at, "undo_key": scan.undo_key,
        }  # fmt: skip
        # either unique constraint (box and status, or the key) makes it a repeat: nothing written
        statement = _upsert(self._c, t.box_scans).values(values).on_conflict_do_nothing()
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def scans(self, box_id: int) -> list[BoxScan]:
        s = t.box_scans.c
        return [
            _scan(r)
            for r in await self._c.execute(select(t.box_scans).where(s.box_id == box_id).order_by(_IN_ORDER, s.round))
        ]

    async def scan_by_key(self, key: str) -> BoxScan | None:
        row = (await self._c.execute(select(t.box_scans).where(t.box_scans.c.key == key))).one_or_none()
        return None if row is None else _scan(row)

    async def set_released(self, box_id: int, status: BoxStatus, round_: int, released: dict[str, Decimal]) -> None:
        s = t.box_scans.c
        statement = (
            update(t.box_scans)
            .where(s.box_id == box_id, s.status == status.value, s.round == round_)
            .values(released={p: str(v) for p, v in released.items()})
        )
        await self._c.execute(statement)

    async def undo_scan(self, box_id: int, status: BoxStatus, round_: int, at: datetime, key: str) -> bool:
        s = t.box_scans.c
        statement = (
            update(t.box_scans)
            .where(s.box_id == box_id, s.status == status.value, s.round == round_, s.undone_at.is_(None))
            .values(undone_at=at, undo_key=key)
        )
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def undone_by(self, key: str) -> list[BoxScan]:
        s = t.box_scans.c
        return [
            _scan(r) for r in await self._c.execute(select(t.box_scans).where(s.undo_key == key).order_by(_IN_ORDER))
        ]


def _box(row: Any) -> Box:
    contents = tuple(BoxLine(str(line["sku"]), int(line["qty"])) for line in row.contents)
    return Box(
        row.order_id, row.payout_id, row.number, row.boxes, row.barcode, contents, Decimal(row.value_rub),
        BoxStatus(row.status), row.status_at, row.key, row.created_at, row.id,
    )  # fmt: skip


def _scan(row: Any) -> BoxScan:
    released = {str(p): Decimal(str(v)) for p, v in dict(row.released).items()}
    return BoxScan(row.box_id, row.order_id, BoxStatus(row.status), row.at, row.key, bool(row.skipped), released,
                   row.stock, int(row.round), row.undone_at, row.undo_key)  # fmt: skip
