"""Asking the client for more money on an order: a payment request linked to the order like its other payments
(phase ``initiated``; its id is also its session's idempotency key, which the gateway sends back with its events).
When it clears it fills the earmark it was asked for first (journal ``topup:<payment>`` names that earmark). Made
for a payout's shortfall (``request_topup``) and for a route change's increase. See docs/client_money.md."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from workflows.model import OrderEvent
from workflows.money_model import MoneyAccount, MoneyEntry, Payout, PayoutState, Purpose
from workflows.office_model import Payment, Phase
from workflows.payment_gateway import GatewayPayment
from workflows.ports import UnitOfWork


async def ask_client(
    uow: UnitOfWork, order_id: int, purpose: Purpose, amount: Decimal, payment_id: str, now: datetime,
    link: dict[str, object],
) -> Payment:  # fmt: skip
    """The payment request for ``amount`` roubles towards ``purpose``, its journal line and its history line."""
    payment = Payment(payment_id, order_id, payment_id, Phase.INITIATED, amount, "RUB", now, now)
    await uow.payments.save(payment)
    await uow.money.record(MoneyEntry(f"topup:{payment_id}", order_id, "topup_requested", amount, now, purpose,
                                      {**link, "payment_id": payment_id}))  # fmt: skip
    detail: dict[str, object] = {"payment_id": payment_id, "amount_rub": str(amount), "purpose": purpose.value}
    await uow.orders.add_events(order_id, [OrderEvent(now, "topup_requested", detail)])
    order = await uow.orders.get(order_id)
    number = order.external_id if order is not None else str(order_id)
    await uow.gateway_payments.add(GatewayPayment(payment_id, order_id, describe(number, purpose), now))
    return payment


PURPOSE_WORDS = {
    Purpose.GOODS: "товар", Purpose.LOGISTICS: "доставка из Китая", Purpose.CUSTOMS: "таможня",
    Purpose.WAREHOUSE: "склад в Москве", Purpose.MARKETPLACE: "доставка на маркетплейс",
}  # fmt: skip


def describe(number: str, purpose: Purpose) -> str:
    """What the client reads at the gateway's payment page (YooKassa allows 128 characters)."""
    return f"Заказ {number}: доплата, {PURPOSE_WORDS[purpose]}"[:128]


async def request_topup(
    uow: UnitOfWork, account: MoneyAccount, payout: Payout, short: Decimal, task_id: int | None, now: datetime
) -> None:
    """A manager's ``request_topup``: the estimate was short, so the earmark plans ``short`` more, the client is
    asked for it, and the payout waits for that payment to clear."""
    request = f"topup-{payout.order_id}-{payout.id}-{task_id}"
    payment = await ask_client(uow, payout.order_id, payout.purpose, short, request, now, {"payout": payout.key})
    account.earmark(payout.purpose).planned += short
    await uow.money.save_account(account)
    payout.state, payout.topup_payment_id, payout.task_id = PayoutState.AWAITING_TOPUP, payment.payment_id, None
    await uow.money.save_payout(payout)
