"""Payments from the gateway, and the fraud call check they may start.

Each event is recorded once (``event_id``); a payment only moves forward (initiated → 3ds →
authorised → cleared), failed and refunded end it, so an event that arrives late or twice
changes nothing it should not. One order may have several payments. When money is authorised
or cleared the order is looked at for fraud: a new client (no cleared payment on another order
by the same phone or e-mail) at or over the threshold, or a risk signal (payer ≠ recipient, IP
country ≠ card country, repeated failed attempts) opens a call check for the managers and holds
shipping until it is answered. For a new client or a large amount, steps that cost money wait
for ``cleared``; for the others ``authorised`` is enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from workflows.client_money import ClientMoney
from workflows.errors import OrderNotFound, PaymentConflict
from workflows.fraud_check import FraudCheck
from workflows.fx import FxWatch
from workflows.model import Order, OrderEvent
from workflows.office_model import FROM_GATEWAY, PHASE_ORDER, TERMINAL, Payment, Phase
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory

FAILED_ATTEMPTS_SIGNAL = 3


@dataclass(frozen=True)
class PaymentEvent:
    event_id: str
    payment_id: str
    order_id: int
    idempotency_key: str
    phase: Phase
    amount: Decimal
    currency: str
    payer_name: str = ""
    ip_country: str = ""
    card_country: str = ""
    raw: dict[str, object] = field(default_factory=dict)
    source: str = FROM_GATEWAY  # or FROM_STATUS_POLL: our own reading of the gateway's status


@dataclass(frozen=True)
class EventOutcome:
    duplicate: bool
    applied: str  # advanced | ignored_out_of_order | ignored_after_end | duplicate
    phase: Phase | None
    fraud_check_task: int | None = None


@dataclass(frozen=True)
class MoneyState:
    """What the order's payments allow: ``may_spend`` gates buying from suppliers and shipping."""

    requires: Phase  # cleared for a new client or a large amount, else authorised
    best_phase: Phase | None
    may_spend: bool
    shipping_hold: str | None


def _advances(current: Phase, new: Phase) -> bool:
    if current in TERMINAL:
        return False
    if new == Phase.REFUNDED:
        return current in (Phase.AUTHORIZED, Phase.CLEARED)
    if new == Phase.FAILED:
        return current != Phase.CLEARED
    return PHASE_ORDER[new] > PHASE_ORDER[current]


class PaymentDesk:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        fraud: FraudCheck,
        fx: FxWatch | None,
        threshold_rub: Decimal,
        money: ClientMoney | None = None,
    ) -> None:
        self._uow, self._clock, self._fraud, self._fx, self._threshold = uow, clock, fraud, fx, threshold_rub
        self._money = money  # credits each cleared payment to the order's virtual account

    async def record(self, event: PaymentEvent) -> EventOutcome:
        async with self._uow() as uow:
            # one event of an order at a time: a new payment's first events, or two payments
            # authorised at once, must not both create it or both open a fraud check
            await uow.locks.hold(f"order:{event.order_id}:payments")
            order = await uow.orders.get(event.order_id)
            if order is None:
                raise OrderNotFound(f"no order {event.order_id}")
            payment = await uow.payments.get(event.payment_id)
            if payment is None:  # the gateway's own id for a top-up we created there: our payment
                made = await uow.gateway_payments.by_gateway_id(event.payment_id)
                payment = None if made is None else await uow.payments.get(made.payment_id)
                if payment is not None and payment.order_id == event.order_id:
                    event = replace(event, payment_id=payment.payment_id, idempotency_key=payment.idempotency_key)
            if payment is not None and (payment.order_id, payment.idempotency_key) != (
                event.order_id, event.idempotency_key,
            ):  # fmt: skip
                raise PaymentConflict(
                    f"payment {event.payment_id} belongs to order {payment.order_id} with another idempotency key",
                    [{"payment_id": event.payment_id, "order_id": payment.order_id}],
                )
            now = self._clock.now()
            if payment is None:
                applied = "advanced"
                payment = Payment(
                    event.payment_id, event.order_id, event.idempotency_key, event.phase, event.amount,
                    event.currency, now, now,
                )  # fmt: skip
            elif _advances(payment.phase, event.phase):
                applied, payment.phase, payment.updated_at = "advanced", event.phase, now
            else:
                applied = "ignored_after_end" if payment.phase in TERMINAL else "ignored_out_of_order"
            if not await uow.payments.add_event(
                event.event_id, event.payment_id, event.phase.value, now, applied, event.raw, event.source
            ):
                return EventOutcome(True, "duplicate", payment.phase)  # nothing written: rolled back
            task_id: int | None = None
            if applied == "advanced":
                await uow.payments.save(payment)
                detail: dict[str, object] = {
                    "payment_id": payment.payment_id, "amount": str(payment.amount), "currency": payment.currency,
                }  # fmt: skip
                await uow.orders.add_events(order.id or 0, [OrderEvent(now, f"payment_{event.phase.value}", detail)])
                if event.phase == Phase.CLEARED and self._fx is not None:
                    await self._fx.record_at_payment(uow, order)
                if self._money is not None:
                    await self._money_moves(uow, order, payment, event.phase)
                if event.phase in (Phase.AUTHORIZED, Phase.CLEARED) and order.cancelled_at is None:
                    task_id = await self._screen(uow, order, event)
            await uow.commit()
        return EventOutcome(False, applied, payment.phase, task_id)

    async def _money_moves(self, uow: UnitOfWork, order: Order, payment: Payment, phase: Phase) -> None:
        """The order's account follows the payment: credited when it clears, taken back when it is refunded after
        that; a top-up that failed puts its payout back to the managers."""
        assert self._money is not None
        if phase == Phase.CLEARED:
            await self._money.credit(uow, order, payment)
        elif phase == Phase.REFUNDED:
            await self._money.refunded(uow, order, payment)
        elif phase == Phase.FAILED:
            await self._money.failed(uow, order, payment)

    async def _screen(self, uow: UnitOfWork, order: Order, event: PaymentEvent) -> int | None:
        assert order.id is not None
        if order.shipping_hold is not None or any(e.kind == "fraud_check_opened" for e in order.history):
            return None  # checked once per order
        new_client = not await uow.payments.paid_before(order.customer.phone, order.customer.email, order.id)
        signals: list[str] = []
        if event.payer_name and order.customer.name and _name(event.payer_name) != _name(order.customer.name):
            signals.append("payer_is_not_recipient")
        if event.ip_country and event.card_country and event.ip_country.upper() != event.card_country.upper():
            signals.append("ip_country_differs_from_card")
        failed = await uow.payments.failed_attempts(order.id)
        if failed >= FAILED_ATTEMPTS_SIGNAL:
            signals.append("repeated_failed_attempts")
        large = self._amount_rub(order, event) >= self._threshold
        if not ((new_client and large) or signals):
            return None
        reasons = (["new_client_large_order"] if new_client and large else []) + signals
        task = await self._fraud.open(uow, order, reasons, event.payer_name, failed)
        return task.id

    def _amount_rub(self, order: Order, event: PaymentEvent) -> Decimal:
        """The order total (or, without one, this payment) in roubles when it is in roubles;
        a foreign-currency order counts as large — it is checked rather than waved through."""
        total, currency = (order.total, order.currency) if order.total is not None else (event.amount, event.currency)
        return total if currency.upper() == "RUB" else self._threshold

    async def money_state(self, order_id: int) -> MoneyState:
        async with self._uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise OrderNotFound(f"no order {order_id}")
            return await self.money_in(uow, order)

    async def money_in(self, uow: UnitOfWork, order: Order) -> MoneyState:
        """What ``order``'s payments allow, read inside the caller's unit of work (a listing reads many)."""
        assert order.id is not None
        payments = await uow.payments.for_order(order.id)
        new_client = not await uow.payments.paid_before(order.customer.phone, order.customer.email, order.id)
        return money_state(order, payments, new_client, self._threshold)


def money_state(order: Order, payments: list[Payment], new_client: bool, threshold_rub: Decimal) -> MoneyState:
    large = order.total is None or order.currency.upper() != "RUB" or order.total >= threshold_rub
    requires = Phase.CLEARED if new_client or large else Phase.AUTHORIZED
    live = [p.phase for p in payments if p.phase in PHASE_ORDER]
    best = max(live, key=lambda phase: PHASE_ORDER[phase]) if live else None
    enough = best is not None and PHASE_ORDER[best] >= PHASE_ORDER[requires]
    may_spend = enough and order.shipping_hold is None and order.cancelled_at is None
    return MoneyState(requires, best, may_spend, order.shipping_hold)


def _name(value: str) -> str:
    return " ".join(value.casefold().split())
