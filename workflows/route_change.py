"""A route change after the goods arrived: the client has them go on another way (small lots to a region instead
of Ozon, say) or with other figures, and the order's earmarks follow.

Each earmark is estimated again from the topology's ``[estimates]``; one whose estimate changes moves by the
difference (a top-up asked since stays planned on top of it):

* **down** — the surplus the client's money filled beyond the new figure goes back to ``unallocated``; never below
  what payments out drew from it (nor what the shop absorbed). A new figure below what was drawn refuses the whole
  change (:class:`~workflows.money_model.RouteBelowDrawn`) and nothing moves.
* **up** — unallocated money fills the increase first; the rest is asked of the client as a top-up payment linked
  to the order (phase ``initiated``, its id also its session's idempotency key), which fills that earmark first
  when it clears.

Idempotent by the caller's ``key``: the same key with the same figures returns the account as it is, with other
figures it is a :class:`~workflows.money_model.MoneyConflict`. Every movement is a journal line. See
docs/client_money.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from workflows.client_topups import ask_client
from workflows.errors import OrderNotFound
from workflows.estimates import Consignment, EstimateRates, estimate
from workflows.model import Order, OrderEvent
from workflows.money_model import (
    PURPOSES,
    Earmark,
    MoneyAccount,
    MoneyConflict,
    MoneyEntry,
    MoneyNotPlanned,
    Purpose,
    RouteBelowDrawn,
)
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class RouteRequest:
    key: str  # the caller's idempotency key
    order_id: int
    consignment: Consignment  # the whole new route and figures

    def figures(self) -> dict[str, object]:
        c = self.consignment
        return {
            "goods_rub": _plain(c.goods_rub), "transport": c.transport.value, "clearance": c.clearance.value,
            "delivery": c.delivery.value, "weight_kg": _plain(c.weight_kg), "volume_m3": _plain(c.volume_m3),
            "boxes": c.boxes,
        }  # fmt: skip


@dataclass(frozen=True)
class RouteOutcome:
    account: MoneyAccount
    duplicate: bool
    changed: dict[Purpose, tuple[Decimal, Decimal]] = field(default_factory=dict)  # estimate before, after
    given_back: dict[Purpose, Decimal] = field(default_factory=dict)  # surplus moved back to unallocated
    topups: dict[Purpose, str] = field(default_factory=dict)  # the payment requests made, by earmark


def _plain(value: Decimal) -> str:
    """A figure as one spelling whatever zeros it was sent with (600000 and 600000.00 are the same route)."""
    return format(value.normalize(), "f")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _estimated(earmark: Earmark) -> Decimal:
    return earmark.estimated if earmark.estimated is not None else earmark.planned


# the money desk's "draw what waited if its earmark holds it now" (ClientMoney._draw_waiting)
DrawWaiting = Callable[[UnitOfWork, Order, MoneyAccount], Awaitable[None]]


class RouteChange:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, rates: EstimateRates, draw_waiting: DrawWaiting) -> None:
        self._uow, self._clock, self._rates, self._draw_waiting = uow, clock, rates, draw_waiting

    async def change(self, request: RouteRequest) -> RouteOutcome:
        new = estimate(self._rates, request.consignment)
        journal_key = f"route:{request.order_id}:{_digest(request.key)}"
        async with self._uow() as uow:
            await uow.locks.hold(f"order:{request.order_id}:money")
            order = await uow.orders.get(request.order_id)
            if order is None:
                raise OrderNotFound(f"no order {request.order_id}")
            account = await uow.money.account(request.order_id)
            if account is None or not account.planned:
                raise MoneyNotPlanned(f"order {request.order_id} has no money plan: plan it first")
            seen = await uow.money.entry(journal_key)
            if seen is not None:
                if seen.detail.get("figures") != request.figures():
                    raise MoneyConflict(f"route change {request.key!r} was asked before with other figures")
                return RouteOutcome(account, True)
            changed = {p: (_estimated(account.earmark(p)), new[p]) for p in PURPOSES
                       if new[p] != _estimated(account.earmark(p))}  # fmt: skip
            below = [p.value for p, (old, now_) in changed.items()
                     if account.earmark(p).planned + now_ - old < account.earmark(p).drawn]  # fmt: skip
            if below:
                raise RouteBelowDrawn(f"the new route leaves {', '.join(below)} below what was drawn from it")
            outcome = await self._apply(uow, request, account, changed, journal_key)
            await self._draw_waiting(uow, order, account)  # an earmark filled from unallocated may hold one now
            await uow.commit()
        return outcome

    async def _apply(
        self, uow: UnitOfWork, request: RouteRequest, account: MoneyAccount,
        changed: dict[Purpose, tuple[Decimal, Decimal]], journal_key: str,
    ) -> RouteOutcome:  # fmt: skip
        now, c = self._clock.now(), request.consignment
        account.transport, account.clearance, account.delivery = c.transport, c.clearance, c.delivery
        given_back: dict[Purpose, Decimal] = {}
        for purpose, (old, new) in changed.items():  # decreases first: their surplus may fill an increase
            earmark = account.earmark(purpose)
            earmark.planned, earmark.estimated = earmark.planned + new - old, new
            surplus = earmark.reserved - max(earmark.planned, earmark.drawn, earmark.absorbed)
            if new < old and surplus > 0:
                earmark.reserved, account.unallocated = earmark.reserved - surplus, account.unallocated + surplus
                given_back[purpose] = surplus
        short: dict[Purpose, Decimal] = {}
        for purpose, (old, new) in changed.items():
            earmark = account.earmark(purpose)
            if new > old:
                share = min(account.unallocated, new - old, earmark.room)
                earmark.reserved, account.unallocated = earmark.reserved + share, account.unallocated - share
                if new - old - share > 0:
                    short[purpose] = new - old - share
        await uow.money.save_account(account)
        detail: dict[str, object] = {
            "key": request.key, "figures": request.figures(),
            "changed": {p.value: [str(old), str(new)] for p, (old, new) in changed.items()},
            "given_back": {p.value: str(x) for p, x in given_back.items()},
        }  # fmt: skip
        total = sum((abs(new - old) for old, new in changed.values()), Decimal(0))
        await uow.money.record(MoneyEntry(journal_key, request.order_id, "route", total, now, detail=detail))
        await uow.orders.add_events(request.order_id, [OrderEvent(now, "money_route_changed", detail)])
        for purpose, amount in given_back.items():
            await uow.money.record(MoneyEntry(f"{journal_key}:{purpose.value}", request.order_id, "give_back", amount,
                                              now, purpose, {"key": request.key}))  # fmt: skip
            event: dict[str, object] = {"amount_rub": str(amount), "purpose": purpose.value}
            await uow.orders.add_events(request.order_id, [OrderEvent(now, "money_given_back", event)])
        topups = {p: await self._topup(uow, request, p, amount) for p, amount in short.items()}
        return RouteOutcome(account, False, changed, given_back, topups)

    async def _topup(self, uow: UnitOfWork, request: RouteRequest, purpose: Purpose, amount: Decimal) -> str:
        """A payment request for the increase, linked to the order; it fills ``purpose`` first when it clears."""
        payment_id = f"route-{request.order_id}-{_digest(request.key)}-{purpose.value}"  # also its session's key
        link: dict[str, object] = {"route": request.key}
        await ask_client(uow, request.order_id, purpose, amount, payment_id, self._clock.now(), link)
        return payment_id
