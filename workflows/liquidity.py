"""The obligations calendar and the owner's liquidity view: every planned payment out with its due date and currency,
and, week by week, what falls due against what the earmarks hold for it.

Three sources make the calendar: payouts (``workflows.client_money``) not yet paid — drawn ones are covered, laid in
from their earmark; short, awaiting a top-up or postponed ones are not —, the orders' planned obligations
(``Order.obligations``, the FX watch's) that no payout draws yet, costed at the rate recorded for them or the newest
CBR rate held, and the orders' planned payments to customs (``workflows.customs``) that no customs payout covers yet,
overdue ones included. Weeks start on Monday in the shop's time zone; what fell due before this week and is not paid
is ``overdue``. A read model: it writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from workflows.model import Obligation
from workflows.money_model import PayoutState, ReserveTotals, rub
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory

LONGEST = 26  # weeks a view may span
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PlannedPayment:
    """One line of the calendar."""

    source: str  # payout | obligation | customs_plan
    order_id: int
    reference: str  # the payout's key, "obligation:<id>", or "customs:<order id>" (the planned FTS payment)
    payee: str
    currency: str
    amount: Decimal
    amount_rub: Decimal | None  # None: no rate held for its currency yet
    due_at: datetime
    state: str  # a payout's state, or the obligation's ("pending", "held", …)
    purpose: str | None = None  # the earmark a payout is drawn from

    @property
    def covered(self) -> bool:
        return self.source == "payout" and self.state == PayoutState.DRAWN


@dataclass
class WeekOfPayments:
    starts: date | None  # None: the overdue bucket
    due_rub: Decimal = ZERO
    covered_rub: Decimal = ZERO  # drawn from earmarks: the money is laid in
    waiting_rub: Decimal = ZERO  # short, awaiting a top-up, postponed: a decision or the client's money
    planned_rub: Decimal = ZERO  # obligations no payout draws yet
    unpriced: int = 0  # obligations in a currency with no rate held (in ``by_currency`` only)
    by_currency: dict[str, Decimal] = field(default_factory=dict)
    payments: int = 0

    def add(self, line: PlannedPayment) -> None:
        self.payments += 1
        self.by_currency[line.currency] = self.by_currency.get(line.currency, Decimal(0)) + line.amount
        if line.amount_rub is None:
            self.unpriced += 1
            return
        self.due_rub += line.amount_rub
        if line.covered:
            self.covered_rub += line.amount_rub
        elif line.source == "payout":
            self.waiting_rub += line.amount_rub
        else:
            self.planned_rub += line.amount_rub


@dataclass(frozen=True)
class LiquidityView:
    as_of: datetime
    overdue: WeekOfPayments
    weeks: list[WeekOfPayments]
    reserves: ReserveTotals


class Liquidity:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, timezone: str) -> None:
        self._uow, self._clock, self._zone = uow, clock, ZoneInfo(timezone)

    def week_start(self, moment: datetime) -> date:
        local = moment.astimezone(self._zone).date()
        return local - timedelta(days=local.weekday())

    def _start_of(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self._zone)

    async def calendar(self, weeks: int) -> list[PlannedPayment]:
        """Every planned payment out due before the end of the ``weeks``-th week from this one (overdue payouts
        included), by due date."""
        weeks = max(1, min(weeks, LONGEST))
        this_week = self._start_of(self.week_start(self._clock.now()))
        until = self._start_of(self.week_start(self._clock.now()) + timedelta(weeks=weeks))
        async with self._uow(read_only=True) as uow:
            lines = [
                PlannedPayment("payout", p.order_id, p.key, p.payee, p.currency, p.amount, p.amount_rub, p.due_at,
                               p.state.value, p.purpose.value)
                for p in await uow.money.open_payouts(until)
            ]  # fmt: skip
            for order_id, obligation in await uow.money.planned_obligations(this_week, until):
                lines.append(await _obligation_line(uow, order_id, obligation))
            lines += [
                PlannedPayment("customs_plan", plan.order_id, f"customs:{plan.order_id}", plan.fts_payee, "RUB",
                               plan.fts_amount_rub, plan.fts_amount_rub, plan.fts_due_at, "planned", "customs")
                for plan in await uow.customs.uncovered(until)
            ]  # fmt: skip
        return sorted(lines, key=lambda line: (line.due_at, line.order_id, line.reference))

    async def view(self, weeks: int = 8) -> LiquidityView:
        """The owner's view: the calendar summed by week, beside what the earmarks hold now."""
        weeks = max(1, min(weeks, LONGEST))
        first = self.week_start(self._clock.now())
        rows = [WeekOfPayments(first + timedelta(weeks=n)) for n in range(weeks)]
        overdue = WeekOfPayments(None)
        for line in await self.calendar(weeks):
            n = (self.week_start(line.due_at) - first).days // 7
            (rows[n] if n >= 0 else overdue).add(line)
        async with self._uow(read_only=True) as uow:
            totals = await uow.money.totals()
        return LiquidityView(self._clock.now(), overdue, rows, totals)


async def _obligation_line(uow: UnitOfWork, order_id: int, obligation: Obligation) -> PlannedPayment:
    rate = obligation.rate_at_due or obligation.rate_at_payment
    if obligation.currency.upper() == "RUB":
        rate = Decimal(1)
    elif rate is None:
        found = await uow.fx.latest(obligation.currency.upper())
        rate = found[1] if found is not None else None
    return PlannedPayment(
        "obligation", order_id, f"obligation:{obligation.id}", obligation.payee, obligation.currency.upper(),
        obligation.amount, None if rate is None else rub(obligation.amount * rate), obligation.due_at,
        obligation.state.value,
    )  # fmt: skip
