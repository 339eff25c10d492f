"""Clients' money per order: a virtual account whose earmarks reserve the client's payments for what they are meant
for, and payments out drawn each from exactly one earmark.

``plan`` sets the earmarks from the estimate (:mod:`workflows.estimates`); every cleared client payment is credited
and fills them in :data:`~workflows.money_model.PURPOSES` order (a top-up fills the earmark it was asked for first);
money beyond every earmark waits unallocated. ``draw`` takes a payment out (a supplier in CNY, a carrier in EUR,
customs in RUB) at its rouble cost from its earmark — only if the earmark holds it. One that would take the earmark
below zero is not drawn: the managers get a task — ``request_topup`` (a linked payment request for the difference;
the payout is drawn when it clears), ``absorb`` (the shop puts in the difference, recorded as such) or ``postpone``
(looked at again later). No answer in time goes to the owner. Every movement is a journal line with a unique key,
so a repeated payment, draw or decision changes nothing. See docs/client_money.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.box_money import released_late
from workflows.client_topups import request_topup
from workflows.customs import CustomsPlans
from workflows.errors import OrderNotFound
from workflows.estimates import Consignment, EstimateRates, estimate
from workflows.model import Order, OrderEvent
from workflows.money_model import (
    PURPOSES,
    WAITING,
    DeliveryMode,
    Earmark,
    MoneyAccount,
    MoneyConflict,
    MoneyEntry,
    MoneyNotPlanned,
    NoRate,
    Payout,
    PayoutNotFound,
    PayoutRequest,
    PayoutState,
    Purpose,
    UnknownObligation,
    allocate,
    rub,
)
from workflows.money_refunds import ClientRefunds
from workflows.office_model import Payment
from workflows.payloads import EarmarkShortfall
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.purchase_watch import purchase_started, watch_from, watch_planned
from workflows.route_change import RouteChange
from workflows.tasks import Deadline, Decision, Task, TaskBoard, TaskState, answer_with, expire, notify_closed
from workflows.vocabulary import Assignee, TaskKind

KIND = TaskKind.EARMARK_SHORTFALL
OPTIONS = ("request_topup", "absorb", "postpone")


def money_lock(order_id: int) -> str:
    return f"order:{order_id}:money"


@dataclass(frozen=True)
class PayoutOutcome:
    payout: Payout
    duplicate: bool
    task_id: int | None = None  # the shortfall question this draw opened


@dataclass(frozen=True)
class AccountView:
    account: MoneyAccount
    payouts: list[Payout]
    entries: list[MoneyEntry]


class ClientMoney:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, board: TaskBoard, alerts: AlertDesk, rates: EstimateRates,
        decide_within: timedelta = timedelta(hours=4), postpone_for: timedelta = timedelta(days=1),
        customs: CustomsPlans | None = None,
        purchase_watch: timedelta = timedelta(days=1),
    ) -> None:  # fmt: skip
        self._uow, self._clock, self._board, self._alerts, self._rates = uow, clock, board, alerts, rates
        self._decide_within, self._postpone_for, self._purchase_watch = decide_within, postpone_for, purchase_watch
        self.customs = customs  # on full clearance, the goods money in plans the customs documents and payment
        self.refunds = ClientRefunds(clock, board, alerts, decide_within)
        self.routes = RouteChange(uow, clock, rates, self._draw_waiting)  # the client changes the route after arrival

    async def plan(self, order_id: int, consignment: Consignment) -> MoneyAccount:
        """Set the order's earmarks from the estimate; money already credited fills them. Planning again with the
        same figures changes nothing; with others it is refused (:class:`MoneyConflict`)."""
        amounts = estimate(self._rates, consignment)
        async with self._uow() as uow:
            await uow.locks.hold(money_lock(order_id))
            order = await self._order(uow, order_id)
            account = await uow.money.account(order_id)
            if account is not None and account.planned:
                same = (account.transport, account.clearance, account.delivery or DeliveryMode.MARKETPLACE) == (
                    consignment.transport, consignment.clearance, consignment.delivery,
                )  # fmt: skip
                if same and all(account.earmark(p).planned == amounts[p] for p in PURPOSES):
                    return account
                raise MoneyConflict(f"order {order_id} is planned already, with other figures")
            now = self._clock.now()
            if account is None:
                account = MoneyAccount(order_id, Decimal(0), Decimal(0), now)
                await uow.money.open_account(account)
            account.transport, account.clearance = consignment.transport, consignment.clearance
            account.delivery = consignment.delivery
            account.earmarks = [Earmark(p, amounts[p], estimated=amounts[p]) for p in PURPOSES]
            waiting, account.unallocated = account.unallocated, Decimal(0)
            took = allocate(account, waiting)
            watch_planned(account, self._purchase_watch)  # no payout can exist before the plan
            await uow.money.save_account(account)
            detail: dict[str, object] = {f"{p.value}_rub": str(amounts[p]) for p in PURPOSES}
            detail |= {"transport": consignment.transport.value, "clearance": consignment.clearance.value,
                       "delivery": consignment.delivery.value}  # fmt: skip
            await uow.money.record(MoneyEntry(f"plan:{order_id}", order_id, "plan", sum(amounts.values(), Decimal(0)),
                                              now, detail={**detail, "filled": _figures(took)}))  # fmt: skip
            await uow.orders.add_events(order_id, [OrderEvent(now, "money_planned", detail)])
            if self.customs is not None:  # money credited before the plan may have filled the goods earmark
                await self.customs.goods_paid(uow, order, account, "")
            await uow.commit()
        return account

    async def credit(self, uow: UnitOfWork, order: Order, payment: Payment) -> None:
        """Inside the clearing transaction: the cleared ``payment`` goes into the order's account, fills its
        earmarks and draws what waited for it. A payment credited before is not credited again."""
        assert order.id is not None
        await uow.locks.hold(money_lock(order.id))
        now = self._clock.now()
        try:
            rate = await self._rate(uow, payment.currency, None)
        except NoRate:  # a client paying in a foreign currency before any rate is held: left to the office
            waits: dict[str, object] = {"payment_id": payment.payment_id, "currency": payment.currency}
            await uow.orders.add_events(order.id, [OrderEvent(now, "money_credit_without_rate", waits)])
            return
        amount = rub(payment.amount * rate)
        entry = MoneyEntry(f"credit:{payment.payment_id}", order.id, "credit", amount, now,
                           detail={"payment_id": payment.payment_id, "currency": payment.currency})  # fmt: skip
        if not await uow.money.record(entry):
            return
        account = await uow.money.account(order.id)
        if account is None:
            account = MoneyAccount(order.id, Decimal(0), Decimal(0), now)
            await uow.money.open_account(account)
        payouts = await uow.money.payouts_of(order.id)
        account.credited += amount
        took = allocate(account, amount, await self._topped_up(uow, payment))
        watch_from(account, now, self._purchase_watch, any(p.purpose == Purpose.GOODS for p in payouts))
        await uow.money.save_account(account)
        if account.planned:  # an order nobody plans money for keeps the history it always had (the journal has it)
            detail: dict[str, object] = {"payment_id": payment.payment_id, "amount_rub": str(amount), **_figures(took)}
            await uow.orders.add_events(order.id, [OrderEvent(now, "money_credited", detail)])
        await self._draw_waiting(uow, order, account, payouts)
        if self.customs is not None:
            await self.customs.goods_paid(uow, order, account, payment.payment_id)

    async def _draw_waiting(
        self, uow: UnitOfWork, order: Order, account: MoneyAccount, payouts: list[Payout] | None = None
    ) -> None:
        """Every payout of the order that waited (short, awaiting a top-up, postponed) is drawn if its earmark holds
        it now."""
        assert order.id is not None
        for payout in payouts if payouts is not None else await uow.money.payouts_of(order.id):
            if payout.state in WAITING:
                await self._settle(uow, order, account, payout)

    async def _topped_up(self, uow: UnitOfWork, payment: Payment) -> Purpose | None:
        """The earmark a top-up payment was asked for (a payout's shortfall or a route change), else ``None``."""
        asked = await uow.money.entry(f"topup:{payment.payment_id}")
        return None if asked is None else asked.purpose

    async def refunded(self, uow: UnitOfWork, order: Order, payment: Payment) -> None:
        """Inside the refund's transaction: what ``payment`` was credited at comes back out of the account, once."""
        assert order.id is not None
        await uow.locks.hold(money_lock(order.id))
        await self.refunds.refunded(uow, order, payment, self._clock.now())

    async def failed(self, uow: UnitOfWork, order: Order, payment: Payment) -> None:
        """Inside the failure's transaction: a top-up the client was asked for did not go through. Its payout is
        short again (its earmark no longer plans the top-up) and the managers are asked again."""
        assert order.id is not None
        await uow.locks.hold(money_lock(order.id))
        await self.refunds.topup_failed(uow, order, payment, self._clock.now(), self._ask_again)

    async def _ask_again(self, uow: UnitOfWork, order: Order, account: MoneyAccount, payout: Payout) -> None:
        await self._settle(uow, order, account, payout, ask=True)

    async def draw(self, request: PayoutRequest) -> PayoutOutcome:
        """Take a payment out from its earmark, or ask the managers when the earmark holds too little. A request
        whose key was seen returns what became of it; the same key with other figures is a :class:`MoneyConflict`."""
        async with self._uow() as uow:
            await uow.locks.hold(money_lock(request.order_id))
            existing = await uow.money.payout(request.key)
            if existing is not None:
                if not request.same_as(existing):
                    raise MoneyConflict(f"payout {request.key!r} was asked before with other figures")
                return PayoutOutcome(existing, True)
            order = await self._order(uow, request.order_id)
            if request.obligation_id is not None and all(o.id != request.obligation_id for o in order.obligations):
                raise UnknownObligation(f"order {request.order_id} has no obligation {request.obligation_id}")
            account = await uow.money.account(request.order_id)
            if account is None or not account.planned:
                raise MoneyNotPlanned(f"order {request.order_id} has no money plan: plan it first")
            rate, now = await self._rate(uow, request.currency, request.rate), self._clock.now()
            earmark = account.earmark(request.purpose)
            assert earmark.id is not None
            payout = Payout(
                request.key, request.order_id, request.purpose, earmark.id, request.payee, request.currency.upper(),
                request.amount, rate, rub(request.amount * rate), request.due_at, request.due_at, PayoutState.SHORT,
                now, obligation_id=request.obligation_id,
            )  # fmt: skip
            await uow.money.add_payout(payout)
            if payout.purpose == Purpose.GOODS:
                await purchase_started(uow, account, now)
            task = await self._settle(uow, order, account, payout, ask=True)
            if self.customs is not None:
                await self.customs.payout_made(uow, payout)
            await uow.commit()
        return PayoutOutcome(payout, False, None if task is None else task.id)

    async def _settle(
        self, uow: UnitOfWork, order: Order, account: MoneyAccount, payout: Payout, *, ask: bool = False
    ) -> Task | None:
        """Draw ``payout`` if its earmark holds it (closing a shortfall question a credit made needless); else, when
        ``ask``, put the shortfall to the managers."""
        earmark, now = account.earmark(payout.purpose), self._clock.now()
        assert earmark.id is not None
        assert order.id is not None
        if earmark.available >= payout.amount_rub and await uow.money.draw(earmark.id, payout.amount_rub):
            earmark.drawn += payout.amount_rub
            await self._close_question(uow, payout)
            payout.state, payout.drawn_at, payout.task_id = PayoutState.DRAWN, now, None
            await uow.money.save_payout(payout)
            await uow.money.record(MoneyEntry(f"draw:{payout.key}", order.id, "draw", payout.amount_rub, now,
                                              payout.purpose, {"payout": payout.key}))  # fmt: skip
            await uow.orders.add_events(order.id, [OrderEvent(now, "payout_drawn", _payout_detail(payout))])
            await released_late(uow, account, payout)  # boxes past the earmark's step take their share now
            return None
        if not ask:
            return None
        assert payout.id is not None
        short = payout.amount_rub - max(Decimal(0), earmark.available)
        question = EarmarkShortfall(
            order.id, order.external_id, payout.id, payout.purpose.value, payout.payee, payout.currency,
            payout.amount, payout.amount_rub, max(Decimal(0), earmark.available), short, payout.due_at,
        )  # fmt: skip
        task = await self._ask(uow, question, Assignee.MANAGERS)
        payout.state, payout.task_id = PayoutState.SHORT, task.id
        await uow.money.save_payout(payout)
        detail = {**_payout_detail(payout), "shortfall_rub": str(short), "task_id": task.id}
        await uow.orders.add_events(order.id, [OrderEvent(now, "earmark_short", detail)])
        return task

    async def _close_question(self, uow: UnitOfWork, payout: Payout) -> None:
        if payout.task_id is None:
            return
        now = self._clock.now()
        if await uow.tasks.close(payout.task_id, TaskState.CANCELLED, now, reason="covered"):
            task = await uow.tasks.get(payout.task_id)
            assert task is not None
            await notify_closed(uow, task, now)

    async def _ask(self, uow: UnitOfWork, question: EarmarkShortfall, who: str) -> Task:
        now = self._clock.now()
        subject = f"order:{question.order_id}:payout:{question.payout_id}"
        task = Task(None, KIND, subject, who, OPTIONS, now + self._decide_within, now, payload=question.to_payload())
        return await self._board.open_for_office(uow, task)

    async def answer(self, task_id: int, option: str, by: str) -> Decision:
        return await answer_with(self._board, task_id, option, by, self._decided)

    async def _decided(self, uow: UnitOfWork, task: Task, option: str, by: str) -> None:
        question, now = EarmarkShortfall.from_payload(task.payload), self._clock.now()
        await uow.locks.hold(money_lock(question.order_id))
        await notify_closed(uow, task, now)
        payout = await uow.money.payout_by_id(question.payout_id)
        account = await uow.money.account(question.order_id)
        order = await self._order(uow, question.order_id)
        assert payout is not None
        assert account is not None
        detail = {**_payout_detail(payout), "decision": option, "by": by}
        await uow.orders.add_events(question.order_id, [OrderEvent(now, "earmark_decision", detail)])
        if payout.state != PayoutState.SHORT:
            return  # a credit drew it meanwhile
        earmark = account.earmark(payout.purpose)
        short = payout.amount_rub - max(Decimal(0), earmark.available)
        if short <= 0:  # the earmark holds it by now, whatever the answer
            await self._settle(uow, order, account, payout)
        elif option == "absorb":
            earmark.reserved, earmark.absorbed = earmark.reserved + short, earmark.absorbed + short
            payout.absorbed_rub += short
            await uow.money.save_account(account)
            await uow.money.record(MoneyEntry(f"absorb:{payout.key}:{task.id}", order.id or 0, "absorb", short, now,
                                              payout.purpose, {"payout": payout.key, "by": by}))  # fmt: skip
            await self._settle(uow, order, account, payout)
        elif option == "request_topup":
            await request_topup(uow, account, payout, short, task.id, now)
        else:
            payout.state, payout.due_at, payout.task_id = PayoutState.POSTPONED, now + self._postpone_for, None
            await uow.money.save_payout(payout)

    async def on_timeout(self, uow: UnitOfWork, task: Task, deadline: Deadline) -> None:
        """No manager decided in time: the owner decides; the payout stays undrawn meanwhile."""
        now = self._clock.now()
        if not await expire(uow, task, deadline, now):
            return
        await notify_closed(uow, task, now)
        if task.assignee == Assignee.OWNER:
            return  # the owner's own question ran out: it stays short, listed in /tasks
        question = EarmarkShortfall.from_payload(task.payload)
        again = await self._ask(uow, replace(question, escalated=True), Assignee.OWNER)
        payout = await uow.money.payout_by_id(question.payout_id)
        if payout is not None and payout.state == PayoutState.SHORT:
            payout.task_id = again.id
            await uow.money.save_payout(payout)
        detail: dict[str, object] = {"task_kind": KIND.value, "order_id": question.order_id}
        await self._alerts.raise_alert(uow, f"{TASK_ESCALATED}:{task.id}", TASK_ESCALATED, detail)

    async def retry_postponed(self, limit: int = 100) -> int:
        """Scheduled: postponed payouts whose new due date came are drawn, or asked about again."""
        async with self._uow() as uow:
            due = await uow.money.postponed_due(self._clock.now(), limit)
            for found in due:
                await uow.locks.hold(money_lock(found.order_id))
                payout, account = await uow.money.payout(found.key), await uow.money.account(found.order_id)
                if payout is not None and account is not None and payout.state == PayoutState.POSTPONED:
                    await self._settle(uow, await self._order(uow, payout.order_id), account, payout, ask=True)
            await uow.commit()
        return len(due)

    async def mark_paid(self, order_id: int, key: str) -> Payout:
        """The bank paid a drawn payout of the order out: it leaves the calendar. A repeat changes nothing."""
        async with self._uow() as uow:
            payout = await uow.money.payout(key)
            if payout is None or payout.order_id != order_id:
                raise PayoutNotFound(f"order {order_id} has no payout {key!r}")
            await uow.locks.hold(money_lock(payout.order_id))
            payout = await uow.money.payout(key)
            assert payout is not None
            if payout.state == PayoutState.PAID:
                return payout
            if payout.state != PayoutState.DRAWN:
                raise MoneyConflict(f"payout {key!r} is {payout.state.value}: only a drawn payout is paid out")
            payout.state, payout.paid_at = PayoutState.PAID, self._clock.now()
            await uow.money.save_payout(payout)
            await uow.money.record(MoneyEntry(f"paid:{key}", payout.order_id, "paid", payout.amount_rub,
                                              payout.paid_at, payout.purpose, {"payout": key}))  # fmt: skip
            await uow.commit()
        return payout

    async def account_of(self, order_id: int) -> AccountView:
        async with self._uow(read_only=True) as uow:
            await self._order(uow, order_id)
            account = await uow.money.account(order_id)
            if account is None:
                account = MoneyAccount(order_id, Decimal(0), Decimal(0), self._clock.now())
            return AccountView(account, await uow.money.payouts_of(order_id), await uow.money.entries(order_id))

    async def _order(self, uow: UnitOfWork, order_id: int) -> Order:
        order = await uow.orders.get(order_id)
        if order is None:
            raise OrderNotFound(f"no order {order_id}")
        return order

    async def _rate(self, uow: UnitOfWork, currency: str, given: Decimal | None) -> Decimal:
        if currency.upper() == "RUB":
            return Decimal(1)
        if given is not None:
            return given
        found = await uow.fx.latest(currency.upper())
        if found is None:
            raise NoRate(f"no CBR rate held for {currency.upper()}: give the payout's rate")
        return found[1]


def _figures(took: dict[Purpose, Decimal]) -> dict[str, object]:
    return {purpose.value: str(amount) for purpose, amount in took.items()}


def _payout_detail(payout: Payout) -> dict[str, object]:
    return {
        "payout": payout.key, "purpose": payout.purpose.value, "payee": payout.payee, "currency": payout.currency,
        "amount": str(payout.amount), "amount_rub": str(payout.amount_rub),
    }  # fmt: skip
