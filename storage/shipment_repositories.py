"""The SQL shipments (``workflows.ports.Shipments``): one row per order sent to the carrier, leased by the shipping
run like deadlines and the outbox, so two instances never send one order twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from workflows.model import Delivery, Shipment, ShipmentState

IN_PROGRESS = (ShipmentState.WAITING.value, ShipmentState.REGISTERING.value, ShipmentState.ACCEPTED.value)


class SqlShipments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add(self, shipment: Shipment) -> None:
        await self._c.execute(t.shipments.insert(), {"order_id": shipment.order_id, **_values(shipment)})

    async def get(self, order_id: int) -> Shipment | None:
        row = (await self._c.execute(select(t.shipments).where(t.shipments.c.order_id == order_id))).one_or_none()
        return None if row is None else _shipment(row)

    async def claim(self, now: datetime, lease_until: datetime, owner: str, limit: int) -> list[Shipment]:
        s = t.shipments.c
        due = (
            select(s.order_id)
            .where(s.state.in_(IN_PROGRESS), s.next_attempt_at <= now)
            .where(or_(s.leased_until.is_(None), s.leased_until < now))
            .order_by(s.next_attempt_at, s.order_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        order_ids = list((await self._c.execute(due)).scalars())
        if not order_ids:
            return []
        mine = s.order_id.in_(order_ids)
        await self._c.execute(update(t.shipments).where(mine).values(leased_until=lease_until, lease_owner=owner))
        rows = await self._c.execute(select(t.shipments).where(mine).order_by(s.next_attempt_at, s.order_id))
        return [_shipment(row) for row in rows]

    async def save(self, shipment: Shipment, owner: str) -> bool:
        s = t.shipments.c
        held = and_(s.order_id == shipment.order_id, or_(s.lease_owner == owner, s.lease_owner.is_(None)))
        changed = await self._c.execute(update(t.shipments).where(held).values(**_values(shipment)))
        return bool(changed.rowcount == 1)


def _values(shipment: Shipment) -> dict[str, Any]:
    d = shipment.delivery
    return {
        "tariff_code": d.tariff_code, "country_code": d.country_code, "city": d.city, "address": d.address,
        "postal_code": d.postal_code, "city_code": d.city_code, "pickup_point": d.pickup_point, "weight_g": d.weight_g,
        "state": shipment.state.value, "created_at": shipment.created_at, "updated_at": shipment.updated_at,
        "next_attempt_at": shipment.next_attempt_at, "attempts": shipment.attempts, "failures": shipment.failures,
        "carrier_id": shipment.carrier_id, "tracking_number": shipment.tracking_number, "reason": shipment.reason,
        "leased_until": shipment.leased_until, "lease_owner": shipment.lease_owner,
    }  # fmt: skip


def _shipment(row: Any) -> Shipment:
    delivery = Delivery(
        row.tariff_code, row.country_code, row.city, row.address, row.postal_code, row.city_code, row.pickup_point,
        row.weight_g,
    )  # fmt: skip
    return Shipment(
        row.order_id, delivery, ShipmentState(row.state), row.created_at, row.next_attempt_at, row.attempts,
        row.failures, row.carrier_id, row.tracking_number, row.reason, row.updated_at, row.leased_until,
        row.lease_owner,
    )  # fmt: skip
