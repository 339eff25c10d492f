"""JSON views of workflow results, in the shapes the public HTTP API promises (README, "HTTP API")."""

from __future__ import annotations

from typing import Any

from workflows.ledger import Availability, StockUpdateResult
from workflows.model import Order, Shipment
from workflows.offer_ids import OfferIdConflict
from workflows.payments import EventOutcome, MoneyState


def conflict_view(conflict: OfferIdConflict) -> dict[str, str]:
    return {
        "channel": conflict.channel,
        "offer_id": conflict.offer_id,
        "sku": conflict.sku,
        "existing_sku": conflict.existing_sku,
    }


def stock_result_view(result: StockUpdateResult) -> dict[str, Any]:
    return {
        "accepted": result.accepted,
        "ignored_stale": result.ignored_stale,
        "absorbed": result.absorbed,
        "shortfalls": [vars(s) for s in result.shortfalls],
        "offer_id_conflicts": [conflict_view(c) for c in result.offer_id_conflicts],
    }


def availability_view(stock: Availability) -> dict[str, Any]:
    return {
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


def order_view(order: Order, *, history: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
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
    if history:
        view.update(
            created_at=order.created_at.isoformat(),
            cancelled_at=order.cancelled_at.isoformat() if order.cancelled_at else None,
            total=None if order.total is None else str(order.total),
            currency=order.currency,
            shipping_hold=order.shipping_hold,
            obligations=[
                {
                    "payee": o.payee,
                    "currency": o.currency,
                    "amount": str(o.amount),
                    "due_at": o.due_at.isoformat(),
                    "state": o.state.value,
                    "rate_at_payment": _text(o.rate_at_payment),
                    "rate_at_due": _text(o.rate_at_due),
                    "topup_rub": _text(o.topup_rub),
                }
                for o in order.obligations
            ],
            history=[{"at": e.at.isoformat(), "event": e.kind, **e.detail} for e in order.history],
        )
    return view


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


def money_view(state: MoneyState) -> dict[str, Any]:
    return {
        "requires": state.requires.value,
        "best_phase": state.best_phase.value if state.best_phase else None,
        "may_spend": state.may_spend,
        "shipping_hold": state.shipping_hold,
    }


def payment_outcome_view(outcome: EventOutcome) -> dict[str, Any]:
    return {
        "duplicate": outcome.duplicate,
        "applied": outcome.applied,
        "phase": outcome.phase.value if outcome.phase else None,
        "fraud_check_task": outcome.fraud_check_task,
    }


def shipment_view(shipment: Shipment | None) -> dict[str, Any] | None:
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
