"""What a client may read of their own order (the signed page, ``workflows/client_links.py``): its number, where it
stands, the payments they made and what their money is meant for and how much of it is spent.

Only this order, and nothing of the office: no manager or store names, no payees, no task, payment or payout ids,
no other order of the same client. A read model: it writes nothing."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from workflows.box_model import STATUSES, Box, client_status
from workflows.errors import OrderNotFound
from workflows.model import Order
from workflows.money_model import PURPOSES, MoneyAccount, Payout, PayoutState, Purpose, rub
from workflows.office_model import PHASE_ORDER, Payment, Phase
from workflows.ports import UnitOfWorkFactory


class ClientStage(enum.StrEnum):
    """Where the order stands, as the client reads it (in the order a client's order passes them)."""

    CANCELLED = "cancelled"
    AWAITING_PAYMENT = "awaiting_payment"  # nothing paid yet
    PAYMENT_PROCESSING = "payment_processing"  # a payment is under way (3-D Secure, authorised), none cleared
    AWAITING_TOPUP = "awaiting_topup"  # the shop asked for a top-up that is not paid yet
    PARTLY_PAID = "partly_paid"  # money came in; the estimate still needs more
    PAID = "paid"  # everything asked for is paid: the order is being worked on
    # from here on, where the goods are: the least advanced of the order's boxes (workflows/box_model.py)
    AT_MOSCOW_WAREHOUSE = "at_moscow_warehouse"
    ON_THE_WAY_TO_MARKETPLACE = "on_the_way_to_marketplace"
    ACCEPTED_AT_FULFILMENT = "accepted_at_fulfilment"


def client_stage(order: Order, payments: list[Payment], account: MoneyAccount | None, payouts: list[Payout],
                 boxes: Sequence[Box] = ()) -> ClientStage:  # fmt: skip
    """The one place the client's stage is decided: first the money the client must act on (a payment, a top-up,
    what the estimate still needs), then, once paid, where the goods are — the least advanced of the order's boxes,
    as the boxes' own client status says it (paid → at the Moscow warehouse → on the way to the marketplace →
    accepted at fulfilment): an order is at the warehouse only when all its goods are."""
    if order.cancelled_at is not None:
        return ClientStage.CANCELLED
    cleared = [p for p in payments if p.phase == Phase.CLEARED]
    topups = {p.topup_payment_id for p in payouts if p.state == PayoutState.AWAITING_TOPUP and p.topup_payment_id}
    if any(p.payment_id in topups and p.phase != Phase.CLEARED for p in payments):
        return ClientStage.AWAITING_TOPUP
    if not cleared:
        under_way = any(PHASE_ORDER.get(p.phase, -1) > PHASE_ORDER[Phase.INITIATED] for p in payments)
        return ClientStage.PAYMENT_PROCESSING if under_way else ClientStage.AWAITING_PAYMENT
    if account is not None and left_to_pay(account) > 0:
        return ClientStage.PARTLY_PAID
    if not boxes:
        return ClientStage.PAID
    least = min((box.status for box in boxes), key=STATUSES.index)
    return ClientStage(client_status(least).value)


def left_to_pay(account: MoneyAccount) -> Decimal:
    """What the estimate still needs of the client's money: every earmark's plan not yet filled."""
    return rub(sum((e.room for e in account.earmarks), Decimal(0)))


@dataclass(frozen=True)
class ClientPayment:
    amount: Decimal
    currency: str
    phase: Phase
    at: datetime  # when it last moved
    topup_for: Purpose | None  # a top-up the shop asked for: what it is meant for
    pay_url: str | None = None  # a top-up not paid yet, created at the gateway: where the client pays it


@dataclass(frozen=True)
class ClientEarmark:
    purpose: Purpose
    planned: Decimal  # what the estimate sets aside for it
    reserved: Decimal  # how much of it is laid in
    spent: Decimal  # what was paid out of it


@dataclass(frozen=True)
class ClientMoney:
    credited: Decimal  # every cleared payment, in roubles
    left_to_pay: Decimal
    unallocated: Decimal  # received, not meant for anything yet (more than the estimate, or before it)
    earmarks: tuple[ClientEarmark, ...]


@dataclass(frozen=True)
class ClientOrderStatus:
    order_id: int
    number: str  # the order's number as the client knows it (the channel's)
    created_at: datetime
    total: Decimal | None
    currency: str
    stage: ClientStage
    payments: tuple[ClientPayment, ...]
    money: ClientMoney | None  # None until the order has a money plan


class ClientStatus:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def of(self, order_id: int) -> ClientOrderStatus:
        async with self._uow(read_only=True) as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise OrderNotFound(f"no order {order_id}")
            payments = sorted(await uow.payments.for_order(order_id), key=lambda p: (p.created_at, p.payment_id))
            account = await uow.money.account(order_id)
            payouts = await uow.money.payouts_of(order_id)
            boxes = await uow.boxes.of_order(order_id)
            pay_urls: dict[str, str] = {}
            for payment in payments:
                made = await uow.gateway_payments.get(payment.payment_id) if payment.phase == Phase.INITIATED else None
                if made is not None and made.confirmation_url:
                    pay_urls[payment.payment_id] = made.confirmation_url
        topup_for = {p.topup_payment_id: p.purpose for p in payouts if p.topup_payment_id}
        return ClientOrderStatus(
            order_id, order.external_id, order.created_at, order.total, order.currency,
            client_stage(order, payments, account, payouts, boxes),
            tuple(ClientPayment(p.amount, p.currency, p.phase, p.updated_at, topup_for.get(p.payment_id),
                                pay_urls.get(p.payment_id)) for p in payments),
            _money(account) if account is not None and account.planned else None,
        )  # fmt: skip


def _money(account: MoneyAccount) -> ClientMoney:
    by_purpose = {e.purpose: e for e in account.earmarks}
    earmarks = tuple(
        ClientEarmark(purpose, e.planned, e.reserved, e.drawn)
        for purpose in PURPOSES
        if (e := by_purpose.get(purpose)) is not None and (e.planned or e.reserved or e.drawn)
    )
    return ClientMoney(account.credited, left_to_pay(account), account.unallocated, earmarks)
