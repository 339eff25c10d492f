"""FBS supplies and the seller's cancel of an assembly order, as the Wildberries emulator keeps them (shapes from
WB's published ``orders-fbs`` spec). Plain data and pure answers, on the orders of a
:class:`~emulators.wildberries.seller.SellerAccount`.

A supply is a batch of assembly orders the seller hands over to WB together. The seller creates it (empty, no cargo
type), adds orders to it (each goes from ``new`` to ``confirm``; the supply takes the cargo type of its first order,
and all its orders must be of that type and of one warehouse), and the warehouse staff closes it in WB's cabinet
when the courier takes it (``done``; its orders go to ``complete``). A cancelled order leaves its supply.

Where the spec is silent the emulator picks something and says so:

* adding to a closed supply, or adding an order that is cancelled, already handed over, of another cargo type or
  another warehouse, answers 409 ``FailedToAddSupplyOrder`` for the whole request and changes nothing;
* an order already in an open supply may be added again (to the same one or another open one: WB moves it);
* the supply list is oldest first, ``next`` being the internal number of the last supply on the page (the one asked
  for when the page is empty);
* cancelling an order already cancelled (by anyone), sold or refused answers 409 ``StatusMismatch``; one handed
  over for delivery 409 ``StatusChangeNotAllowed``; the seller's cancel sets ``supplierStatus`` to ``cancel`` and
  leaves ``wbStatus`` as it was, as WB does until its side catches up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulators.wildberries.seller import SellerAccount, WbAnswer, error

MAX_SUPPLY_ORDERS = 100  # order ids per request that adds them to a supply
MAX_SUPPLIES_PAGE = 1000
MAX_SUPPLY_NAME = 128
FIRST_SUPPLY = 1_000_000
_ENDED_WB_STATUSES = frozenset({"sold", "canceled", "canceled_by_client", "declined_by_client", "defect"})
_NOT_ADDED = (
    "Не удалось закрепить сборочное задание за поставкой. "
    "Убедитесь, что сборочное задание и поставка удовлетворяют всем необходимым требованиям."
)
_MISMATCH = "Несоответствие статусов, проверьте их правильность"
_NOT_ALLOWED = "Задание перейдёт в завершенные после сканирования на пунте выдачи заказов (ПВЗ)"


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Supply:
    number: int  # the emulator's own sequence, what ``next`` pages by
    name: str
    created_at: dt.datetime
    done: bool = False
    closed_at: dt.datetime | None = None
    cargo_type: int = 0  # none until the first order
    warehouse_id: int | None = None
    orders: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"WB-GI-{self.number}"

    def wire(self) -> dict[str, Any]:
        """The supply as ``GET /api/v3/supplies`` and ``GET /api/v3/supplies/{supplyId}`` show it."""
        return {
            "id": self.id,
            "done": self.done,
            "createdAt": _rfc3339(self.created_at),
            "closedAt": _rfc3339(self.closed_at) if self.closed_at else None,
            "scanDt": None,
            "name": self.name,
            "cargoType": self.cargo_type,
            "destinationOfficeId": None,
        }


class SupplyDesk:
    """The seller's supplies, and WB's answers to the supply methods and to the cancel of an assembly order."""

    def __init__(self, seller: SellerAccount) -> None:
        self.seller = seller
        self.supplies: dict[str, Supply] = {}
        self._next_number = FIRST_SUPPLY

    def open_supply(self, name: str, *, now: dt.datetime | None = None) -> Supply:
        """A new empty supply, as the seller's ``POST /api/v3/supplies`` or the cabinet makes it."""
        self._next_number += 1
        supply = Supply(self._next_number, name, now or dt.datetime.now(dt.UTC))
        self.supplies[supply.id] = supply
        return supply

    def supply_of(self, order_id: int) -> Supply | None:
        return next((s for s in self.supplies.values() if order_id in s.orders), None)

    def close(self, supply_id: str) -> None:
        """The warehouse staff handed the supply over (in WB's cabinet): it is done, its orders ``complete``."""
        supply = self.supplies[supply_id]
        if not supply.orders:
            raise ValueError("WB closes only a supply with at least one order (SupplyHasZeroOrders)")
        supply.done, supply.closed_at = True, dt.datetime.now(dt.UTC)
        for order_id in supply.orders:
            self.seller.set_status(order_id, self.seller.statuses[order_id][1], "complete")

    # -- the methods ---------------------------------------------------------------------------------------------

    def create(self, body: Any) -> WbAnswer:
        """``POST /api/v3/supplies``: 201 with the new supply's id."""
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(body, dict) or set(body) - {"name"}:
            return error(400, "IncorrectRequestBody", "Некорректное тело запроса")
        if name is not None and not (isinstance(name, str) and 1 <= len(name) <= MAX_SUPPLY_NAME):
            return error(400, "IncorrectRequestBody", "Некорректное тело запроса")
        return WbAnswer(201, {"id": self.open_supply(name or "").id})

    def page(self, query: Mapping[str, Sequence[str]]) -> WbAnswer:
        """``GET /api/v3/supplies?limit=&next=``: a page of every supply, open or closed, oldest first."""
        limit, after = _int_param(query, "limit"), _int_param(query, "next")
        if limit is None or after is None or not 1 <= limit <= MAX_SUPPLIES_PAGE or after < 0:
            return error(400, "IncorrectParameter", "Передан некорректный параметр")
        page = sorted((s for s in self.supplies.values() if s.number > after), key=lambda s: s.number)[:limit]
        return WbAnswer(200, {"next": page[-1].number if page else after, "supplies": [s.wire() for s in page]})

    def one(self, supply_id: str) -> WbAnswer:
        """``GET /api/v3/supplies/{supplyId}``."""
        supply = self.supplies.get(supply_id)
        return WbAnswer(200, supply.wire()) if supply else error(404, "NotFound", "Не найдено")

    def add_orders(self, supply_id: str, body: Any) -> WbAnswer:
        """``PATCH /api/marketplace/v3/supplies/{supplyId}/orders``: 204, or nothing changes."""
        wanted = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= MAX_SUPPLY_ORDERS:
            return error(400, "IncorrectRequestBody", "Некорректное тело запроса")
        if not all(isinstance(order_id, int) and not isinstance(order_id, bool) for order_id in wanted):
            return error(400, "IncorrectParameter", "Передан некорректный параметр")
        supply = self.supplies.get(supply_id)
        if supply is None:
            return error(404, "NotFound", "Не найдено")
        if supply.done or not self._may_join(supply, wanted):
            return error(409, "FailedToAddSupplyOrder", _NOT_ADDED)
        for order_id in dict.fromkeys(wanted):
            previous = self.supply_of(order_id)
            if previous is not None:
                previous.orders.remove(order_id)
            order = self.seller.placed[order_id]
            supply.orders.append(order_id)
            supply.cargo_type = supply.cargo_type or int(order["cargoType"])
            supply.warehouse_id = supply.warehouse_id or int(order["warehouseId"])
            self.seller.set_status(order_id, self.seller.statuses[order_id][1], "confirm")
        return WbAnswer(204)

    def _may_join(self, supply: Supply, wanted: list[int]) -> bool:
        cargo, warehouse = supply.cargo_type, supply.warehouse_id
        for order_id in wanted:
            order = self.seller.placed.get(order_id)
            if order is None:
                return False
            supplier, wb = self.seller.statuses[order_id]
            if supplier not in ("new", "confirm") or wb in _ENDED_WB_STATUSES:
                return False
            cargo, warehouse = cargo or int(order["cargoType"]), warehouse or int(order["warehouseId"])
            if (cargo, warehouse) != (order["cargoType"], order["warehouseId"]):
                return False
        return True

    def cancel(self, order_id: int) -> WbAnswer:
        """``PATCH /api/v3/orders/{orderId}/cancel``: 204, and the order is ``cancel`` and out of its supply."""
        if order_id not in self.seller.statuses:
            return error(404, "NotFound", "Не найдено")
        supplier, wb = self.seller.statuses[order_id]
        if supplier == "cancel" or wb in _ENDED_WB_STATUSES:
            return error(409, "StatusMismatch", _MISMATCH)
        if supplier == "complete":
            return error(409, "StatusChangeNotAllowed", _NOT_ALLOWED)
        supply = self.supply_of(order_id)
        if supply is not None:
            supply.orders.remove(order_id)
        self.seller.set_status(order_id, wb, "cancel")
        return WbAnswer(204)


def _int_param(query: Mapping[str, Sequence[str]], name: str) -> int | None:
    values = query.get(name, ())
    if len(values) != 1 or not values[0].isascii() or not values[0].isdigit():
        return None
    return int(values[0])
