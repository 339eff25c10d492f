"""Why an order waits and what happens next, as one fact a screen can word: the order's own state, its open tasks
(a store asked, the managers' call check or question about missing goods), its money and its carrier registration.

The first reason that holds wins, in the order an order moves: cancelled or finished orders wait for nothing; a
fraud call check holds everything (nothing ships, no money is spent); then a store's answer, the managers'
decision about goods nobody has, the client's money, and last what the shipping side does. Nothing here reads or
writes: :func:`waiting_for` is a function over what the caller read."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from workflows.fulfilment import SENT_EVENT
from workflows.model import LineStatus, Order, Shipment, ShipmentState
from workflows.order_actions import Action
from workflows.payments import MoneyState
from workflows.task_model import Task
from workflows.vocabulary import TaskKind, assigned_store

DONE_KINDS = ("delivered_to_buyer", "returned_by_buyer")  # the channel's last word: nothing more to wait for
WAIT_KINDS = ("unfillable_decided", "unfillable_wait_moved")  # a delivery awaited, with the day to look again


class WaitingReason(enum.StrEnum):
    CANCELLED = "cancelled"
    DELIVERED = "delivered_to_buyer"
    RETURNED = "returned_by_buyer"
    FRAUD_CHECK = "fraud_check"  # held: the managers call the client; no shipping, no money spent
    STORE_ANSWER = "store_answer"  # a store is asked whether the item is there
    MISSING_GOODS = "missing_goods"  # the managers are asked: cancel or wait for a delivery
    DELIVERY_AWAITED = "delivery_awaited"  # the managers chose to wait; stock is looked for again then
    OUT_OF_STOCK = "out_of_stock"  # no stock and nobody asked yet
    PAYMENT = "payment"  # the client's money is not yet as far as the order needs
    CARRIER = "carrier"  # CDEK registration under way
    CARRIER_REFUSED = "carrier_refused"
    SHIPPED = "shipped"  # CDEK registered it: a tracking number
    MARKETPLACE_TOLD = "marketplace_told"  # the marketplace knows it is packed: its courier or drop-off next
    READY_TO_SHIP = "ready_to_ship"


@dataclass(frozen=True)
class Waiting:
    reason: WaitingReason
    until: datetime | None = None  # the deadline of what is awaited (a store's answer, the managers', a wait)
    store: str | None = None  # the store asked
    note: str | None = None  # the payment phase needed (PAYMENT), the tracking number, the carrier's refusal


def order_task_id(subject: str) -> int | None:
    """The order a task is about (``order:<id>:…``), ``None`` for a task about something else."""
    kind, _, rest = subject.partition(":")
    number = rest.partition(":")[0]
    return int(number) if kind == "order" and number.isdigit() else None


def waiting_for(order: Order, tasks: Sequence[Task], money: MoneyState, shipment: Shipment | None) -> Waiting:
    """Why ``order`` waits; ``tasks`` are its open tasks."""
    if order.cancelled_at is not None:
        return Waiting(WaitingReason.CANCELLED)
    done = [e for e in order.history if e.kind in DONE_KINDS]
    if done:
        return Waiting(WaitingReason(done[-1].kind))
    by_kind = {kind: sorted((t for t in tasks if t.kind == kind), key=lambda t: t.deadline) for kind in TaskKind}
    if by_kind[TaskKind.FRAUD_CHECK] or order.shipping_hold is not None:
        checks = by_kind[TaskKind.FRAUD_CHECK]
        return Waiting(WaitingReason.FRAUD_CHECK, checks[0].deadline if checks else None)
    if asked := by_kind[TaskKind.STORE_CONFIRMATION]:
        return Waiting(WaitingReason.STORE_ANSWER, asked[0].deadline, assigned_store(asked[0].assignee))
    if asked := by_kind[TaskKind.UNFILLABLE_ORDER]:
        return Waiting(WaitingReason.MISSING_GOODS, asked[0].deadline)
    if any(line.status in (LineStatus.OUT_OF_STOCK, LineStatus.UNFULFILLABLE) for line in order.lines):
        return _missing(order)
    if not money.may_spend:
        return Waiting(WaitingReason.PAYMENT, note=money.requires.value)
    return _shipping(order, shipment)


def _missing(order: Order) -> Waiting:
    waits = [e for e in order.history if e.kind in WAIT_KINDS and e.detail.get("ask_again_at")]
    if waits and (again := _moment(waits[-1].detail["ask_again_at"])) is not None:
        return Waiting(WaitingReason.DELIVERY_AWAITED, again)
    return Waiting(WaitingReason.OUT_OF_STOCK)


def _shipping(order: Order, shipment: Shipment | None) -> Waiting:
    if shipment is not None:
        if shipment.state == ShipmentState.REGISTERED:
            return Waiting(WaitingReason.SHIPPED, note=shipment.tracking_number)
        if shipment.state == ShipmentState.REFUSED:
            return Waiting(WaitingReason.CARRIER_REFUSED, note=shipment.reason)
        return Waiting(WaitingReason.CARRIER)
    if any(e.kind == SENT_EVENT[Action.READY_TO_SHIP] for e in order.history):
        return Waiting(WaitingReason.MARKETPLACE_TOLD, order.ship_by)
    return Waiting(WaitingReason.READY_TO_SHIP, order.ship_by)


def _moment(value: object) -> datetime | None:
    try:
        found = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None
