"""JSON views of workflow results, in the shapes the public HTTP API promises (README, "HTTP API")."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, cast, overload

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from workflows.ledger import Availability, Shortfall, StockUpdateResult
from workflows.model import Obligation, Order, OrderEvent, Shipment
from workflows.offer_ids import OfferIdConflict
from workflows.payments import EventOutcome, MoneyState
from workflows.prices import PriceResult

# The shapes below are the JSON bodies the API sends. Views build them as plain dicts (so the bytes sent are
# what ``json.dumps`` makes of them); ``app/http/openapi.py`` turns the same types into the published schemas.


class ConflictView(TypedDict):
    """An offer id two articles claim on one channel: the newer one was not registered."""

    channel: str
    offer_id: str
    sku: str
    existing_sku: str


class ConflictsView(TypedDict):
    conflicts: list[ConflictView]


class ShortfallView(TypedDict):
    """1C reports less on hand than is promised from that warehouse."""

    sku: str
    warehouse: str
    on_hand: int
    reserved: int


class StockResultView(TypedDict):
    accepted: int
    ignored_stale: int
    absorbed: int
    shortfalls: list[ShortfallView]
    offer_id_conflicts: list[ConflictView]


class PriceResultView(TypedDict):
    """What became of one upload of 1C's prices (``POST /api/1c/prices``, the exchange's offers and prices)."""

    received: int
    changed: int  # SKU prices 1C changed, per price type
    unmapped: int  # prices of offers 1C's catalogue has not named yet: not used
    queued: dict[str, int]  # channel -> prices queued to send
    held: dict[str, int]  # channel -> prices held for the managers' decision
    batches: list[int]  # the held batches, one question each
    unused_types: list[str]  # price types no channel sells at


class DeductionView(TypedDict):
    order_id: int
    absorbed: int


class WarehouseStockView(TypedDict):
    on_hand: int
    reserved: int
    as_of: str  # ISO 8601 with offset
    suspect: bool  # store staff said it is not there


class AvailabilityView(TypedDict):
    sku: str
    available: int
    on_hand: int
    reserved: int
    by_warehouse: dict[str, WarehouseStockView]
    by_channel: dict[str, int]
    components: NotRequired[dict[str, int]]  # a kit: its composition in force, each component's qty per kit


class OrderLineView(TypedDict):
    line: int
    sku: str
    qty: int
    status: str
    warehouse: str | None


class OrderView(TypedDict):
    """An order as ``POST /api/orders`` answers it."""

    order_id: int | None  # always set on an order the API answers with
    channel: str
    external_id: str
    status: str
    lines: list[OrderLineView]


class ObligationView(TypedDict):
    """Money owed to a supplier for the order; amounts and rates are decimal strings."""

    payee: str
    currency: str
    amount: str
    due_at: str
    state: str
    rate_at_payment: str | None
    rate_at_due: str | None
    topup_rub: str | None


@with_config(ConfigDict(extra="allow"))
class HistoryEntryView(TypedDict):
    """One event of the order's history; each kind of event adds its own fields."""

    at: str
    event: str
    text: NotRequired[str]  # the event in the service's language, as the office's /order words it (GET only)


class MoneyView(TypedDict):
    requires: str
    best_phase: str | None
    may_spend: bool
    shipping_hold: str | None


class AddressView(TypedDict):
    country_code: str
    city: str
    city_code: int | None
    postal_code: str
    line: str


class ShipmentView(TypedDict):
    carrier: Literal["cdek"]
    state: str
    tracking_number: str | None
    carrier_id: str | None
    reason: str | None
    tariff_code: int
    address: AddressView
    pickup_point: str | None
    weight_g: int | None


class OrderRecordView(OrderView):
    """An order with its history, as ``POST /api/orders/{id}/cancel`` answers it."""

    created_at: str
    cancelled_at: str | None
    total: str | None  # a decimal string
    currency: str
    shipping_hold: str | None  # why nothing may ship yet
    ship_by: str | None  # the marketplace's own shipping deadline, when it told one
    obligations: list[ObligationView]
    history: list[HistoryEntryView]


class OrderDetailView(OrderRecordView):
    """An order as ``GET /api/orders/{id}`` answers it."""

    money: MoneyView
    shipment: ShipmentView | None


class PaymentOutcomeView(TypedDict):
    duplicate: bool
    applied: str  # advanced, ignored_out_of_order, ignored_after_end or duplicate
    phase: str | None
    fraud_check_task: int | None


class GatewayNoticeView(TypedDict):
    # advanced, ignored_out_of_order, ignored_after_end, duplicate; or nothing recorded: pending, not_ours,
    # not_at_gateway, partial_refund, refund_not_done, other_event
    applied: str
    payment_id: str | None  # ours
    phase: str | None
    gateway_status: str  # what YooKassa's own read said


class StoreStatsRow(TypedDict):
    store: str
    asked: int
    answered: int
    answer_rate: float
    median_seconds_to_answer: float | None


class StoreStatsView(TypedDict):
    since: str
    stores: list[StoreStatsRow]


class HealthView(TypedDict):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]


def conflict_view(conflict: OfferIdConflict) -> ConflictView:
    return {
        "channel": conflict.channel,
        "offer_id": conflict.offer_id,
        "sku": conflict.sku,
        "existing_sku": conflict.existing_sku,
    }


def stock_result_view(result: StockUpdateResult) -> StockResultView:
    return {
        "accepted": result.accepted,
        "ignored_stale": result.ignored_stale,
        "absorbed": result.absorbed,
        "shortfalls": [_shortfall(s) for s in result.shortfalls],
        "offer_id_conflicts": [conflict_view(c) for c in result.offer_id_conflicts],
    }


def price_result_view(result: PriceResult) -> PriceResultView:
    return {
        "received": result.received, "changed": result.changed, "unmapped": result.unmapped,
        "queued": dict(result.queued), "held": dict(result.held), "batches": list(result.batches),
        "unused_types": list(result.unused_types),
    }  # fmt: skip


def _shortfall(shortfall: Shortfall) -> ShortfallView:
    return {
        "sku": shortfall.sku,
        "warehouse": shortfall.warehouse,
        "on_hand": shortfall.on_hand,
        "reserved": shortfall.reserved,
    }


def availability_view(stock: Availability) -> AvailabilityView:
    view: AvailabilityView = {
        "sku": stock.sku,
        "available": stock.available,
        "on_hand": stock.on_hand,
        "reserved": stock.reserved,
        "by_warehouse": {
            code: {
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "as_of": level.as_of.isoformat(),
                "suspect": level.suspect_since is not None,  # store staff said it is not there
            }
            for code, level in sorted(stock.by_warehouse.items())
        },
        "by_channel": stock.by_channel,
    }
    if stock.components is not None:
        view["components"] = dict(stock.components)
    return view


@overload
def order_view(order: Order, *, history: Literal[False]) -> OrderView: ...
@overload
def order_view(order: Order, *, history: Literal[True]) -> OrderRecordView: ...
def order_view(order: Order, *, history: bool) -> OrderView | OrderRecordView:
    view: OrderView = {
        "order_id": order.id,
        "channel": order.channel,
        "external_id": order.external_id,
        "status": order.status.value,
        "lines": [
            {
                "line": line.line_no,
                "sku": line.sku,
                "qty": line.qty,
                "status": line.status.value,
                "warehouse": line.warehouse,
            }
            for line in order.lines
        ],
    }
    if not history:
        return view
    return {
        **view,
        "created_at": order.created_at.isoformat(),
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "total": None if order.total is None else str(order.total),
        "currency": order.currency,
        "shipping_hold": order.shipping_hold,
        "ship_by": order.ship_by.isoformat() if order.ship_by else None,
        "obligations": [_obligation(o) for o in order.obligations],
        "history": [_event(e) for e in order.history],
    }


def _event(event: OrderEvent) -> HistoryEntryView:
    entry: dict[str, object] = {"at": event.at.isoformat(), "event": event.kind, **event.detail}
    return cast(HistoryEntryView, entry)  # the detail's own fields follow: the schema allows them


def _obligation(o: Obligation) -> ObligationView:
    return {
        "payee": o.payee,
        "currency": o.currency,
        "amount": str(o.amount),
        "due_at": o.due_at.isoformat(),
        "state": o.state.value,
        "rate_at_payment": _text(o.rate_at_payment),
        "rate_at_due": _text(o.rate_at_due),
        "topup_rub": _text(o.topup_rub),
    }


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


def money_view(state: MoneyState) -> MoneyView:
    return {
        "requires": state.requires.value,
        "best_phase": state.best_phase.value if state.best_phase else None,
        "may_spend": state.may_spend,
        "shipping_hold": state.shipping_hold,
    }


def payment_outcome_view(outcome: EventOutcome) -> PaymentOutcomeView:
    return {
        "duplicate": outcome.duplicate,
        "applied": outcome.applied,
        "phase": outcome.phase.value if outcome.phase else None,
        "fraud_check_task": outcome.fraud_check_task,
    }


def shipment_view(shipment: Shipment | None) -> ShipmentView | None:
    """The order's delivery and its carrier registration, as ``GET /api/orders/{id}`` shows them."""
    if shipment is None:
        return None
    d = shipment.delivery
    return {
        "carrier": "cdek",
        "state": shipment.state.value,
        "tracking_number": shipment.tracking_number,
        "carrier_id": shipment.carrier_id,
        "reason": shipment.reason,
        "tariff_code": d.tariff_code,
        "address": {"country_code": d.country_code, "city": d.city, "city_code": d.city_code,
                    "postal_code": d.postal_code, "line": d.address},
        "pickup_point": d.pickup_point,
        "weight_g": d.weight_g,
    }  # fmt: skip


class ErrorView(TypedDict):
    """Every error: a stable code, a sentence for people, and details (for a refused body: one entry per field,
    ``{"field", "problem"}``)."""

    error: str
    message: str
    details: list[Any]
