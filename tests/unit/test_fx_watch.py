"""The FX watch on memory, SQLite and PostgreSQL: the rate when the client paid against the rate
when the supplier is paid, a manager's decision when it moved too far, and a feed that goes down."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock, FakeRates, assembled
from workflows.fx import FEED_DOWN_KEY, KIND, OPTIONS, deviation, difference_rub
from workflows.model import Customer, Obligation, ObligationState, StockFigure
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.tasks import Task, TaskState
from workflows.topology import Topology

AMOUNT = Decimal("1234.5710")  # CNY; a move of 0.50 ₽ costs 617.2855 ₽, i.e. 617.29 to the kopeck


class Office:
    """The FX watch and the payment desk as production wires them."""

    def __init__(
        self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, feed: FakeRates | None = None
    ) -> None:
        self.uow, self.clock, self.feed = uow, clock, feed or FakeRates(clock)
        shop = assembled(uow, topology, clock, rates=self.feed)
        self.ledger, self.alerts, self.orders, self.fx = shop.ledger, shop.alerts, shop.orders, shop.fx
        self.payments, self.pump = shop.payments, shop.pump

    async def place(self, external_id: str, *obligations: Obligation) -> int:
        customer = Customer("Иван Петров", f"+7916{external_id}", f"{external_id}@example.ru")
        command = PlaceOrder(
            "site", external_id, [LineRequest("IRON", 1)], customer, Decimal(90_000), obligations=obligations
        )
        order_id = (await self.orders.place(command)).order.id
        assert order_id is not None
        return order_id

    async def supplier_order(self, external_id: str = "A-1", due_in: timedelta = timedelta(days=7)) -> int:
        return await self.place(external_id, Obligation("Supplier Guangzhou", "CNY", AMOUNT, self.clock.now() + due_in))

    async def clear(self, order_id: int, payment: str = "p1") -> None:
        event = PaymentEvent(
            f"{payment}-cleared", payment, order_id, f"idem-{payment}", Phase.CLEARED, Decimal(90_000), "RUB"
        )
        assert (await self.payments.record(event)).applied == "advanced"

    async def obligation(self, order_id: int) -> Obligation:
        (obligation,) = (await self.orders.get(order_id)).obligations
        return obligation

    async def open_tasks(self, order_id: int) -> list[Task]:
        async with self.uow(read_only=True) as work:
            return await work.tasks.open_about(f"order:{order_id}:obligation:")

    async def notices(self, topic: str) -> list[dict[str, object]]:
        async with self.uow(read_only=True) as work:
            return [payload for _, _, payload in await work.notices.undelivered(1000, [topic])]

    async def held(self, order_id: int) -> Task:
        """Paid at 12.00, due, now at 12.50: held and asked."""
        await self.fx.refresh()
        await self.clear(order_id)
        self.clock.advance(days=8)
        self.feed.set("12.50")
        assert await self.fx.check_due() == 1
        (task,) = await self.open_tasks(order_id)
        return task


@pytest.fixture
async def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Office:
    o = Office(uow, topology, clock)
    await o.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 100)])
    return o


def test_deviation_is_relative_to_the_paid_rate_either_way() -> None:
    assert deviation(Decimal("12.00"), Decimal("12.24")) == Decimal("0.02")
    assert deviation(Decimal("12.00"), Decimal("11.76")) == Decimal("0.02")
    assert deviation(Decimal("12.00"), Decimal("12.00")) == 0
    with pytest.raises(ValueError, match="positive"):
        deviation(Decimal(0), Decimal("12.00"))


def test_the_difference_is_in_roubles_to_the_kopeck() -> None:
    paid = Obligation("Supplier", "CNY", AMOUNT, datetime(2026, 1, 1, tzinfo=UTC), rate_at_payment=Decimal("12.00"))
    assert difference_rub(paid, Decimal("12.50")) == Decimal("617.29")
    assert difference_rub(paid, Decimal("11.50")) == Decimal("-617.29")
    assert difference_rub(paid, Decimal("12.00")) == Decimal("0.00")


async def test_the_rate_is_recorded_when_the_money_clears_and_a_big_move_holds_the_payment(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.supplier_order()
    assert await office.fx.refresh()
    clock.advance(hours=1)
    await office.clear(order_id)
    recorded = await office.obligation(order_id)
    assert (recorded.state, recorded.rate_at_payment) == (ObligationState.PENDING, Decimal("12.00"))
    history = (await office.orders.get(order_id)).history
    assert [(e.kind, Decimal(str(e.detail["rate"]))) for e in history if e.kind == "fx_rate_recorded"] == [
        ("fx_rate_recorded", Decimal("12.00"))
    ]
    assert await office.fx.check_due() == 0  # not due yet
    assert (await office.obligation(order_id)).state == ObligationState.PENDING

    clock.advance(days=8)
    office.feed.set("12.50")  # +4.2 %
    assert await office.fx.check_due() == 1
    held = await office.obligation(order_id)
    assert (held.state, held.rate_at_payment, held.rate_at_due) == (
        ObligationState.HELD, Decimal("12.00"), Decimal("12.50"),
    )  # fmt: skip
    (task,) = await office.open_tasks(order_id)
    assert (task.kind, task.assignee, task.options, task.subject) == (
        KIND, "role:managers", OPTIONS, f"order:{order_id}:obligation:{held.id}",
    )  # fmt: skip
    assert task.deadline == clock.now() + timedelta(hours=4)
    assert Decimal(str(task.payload["difference_rub"])) == Decimal("617.29")
    assert (task.payload["order_id"], task.payload["obligation_id"], task.payload["currency"]) == (
        order_id, held.id, "CNY",
    )  # fmt: skip
    assert await office.notices("office_task") == [{"task_id": task.id}]
    assert await office.fx.check_due() == 0  # held: not looked at again, not asked twice


@pytest.mark.parametrize(
    ("rate", "state"),
    [
        ("12.10", ObligationState.RELEASED),
        ("12.24", ObligationState.RELEASED),  # exactly 2 %: not *more* than 2 %
        ("12.2401", ObligationState.HELD),
        ("11.76", ObligationState.RELEASED),
        ("11.75", ObligationState.HELD),  # the rouble got stronger: still a move to decide on
    ],
)
async def test_the_threshold_is_a_move_of_more_than_two_percent_either_way(
    office: Office, clock: FakeClock, rate: str, state: ObligationState
) -> None:
    order_id = await office.supplier_order()
    await office.fx.refresh()
    await office.clear(order_id)
    clock.advance(days=8)
    office.feed.set(rate)
    assert await office.fx.check_due() == 1
    checked = await office.obligation(order_id)
    assert (checked.state, checked.rate_at_due) == (state, Decimal(rate))
    assert len(await office.open_tasks(order_id)) == (1 if state == ObligationState.HELD else 0)
    assert len(await office.notices("office_task")) == (1 if state == ObligationState.HELD else 0)


async def test_a_later_payment_does_not_move_the_reference_rate(office: Office, clock: FakeClock) -> None:
    order_id = await office.supplier_order()
    await office.fx.refresh()
    await office.clear(order_id)
    clock.advance(days=1)
    office.feed.set("13.00")
    await office.fx.refresh()
    await office.clear(order_id, payment="duty")
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")


async def test_with_the_feed_down_the_last_good_rate_is_used_and_the_owner_told(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.supplier_order()
    await office.fx.refresh()
    await office.clear(order_id)
    clock.advance(days=6)
    office.feed.set("12.50")
    assert await office.fx.refresh()  # the last good sheet before the outage
    clock.advance(days=2)
    office.feed.set("11.00")  # what the bank says now, but nobody can read it
    office.feed.down = "CBR answered 503"
    assert await office.fx.check_due() == 1
    checked = await office.obligation(order_id)
    assert (checked.state, checked.rate_at_due) == (ObligationState.HELD, Decimal("12.50"))
    clock.advance(minutes=5)
    await office.fx.check_due()  # still down: counted, not told again
    async with office.uow(read_only=True) as work:
        alert = await work.alerts.open_for(FEED_DOWN_KEY)
    assert alert is not None
    assert (alert.kind, alert.count, alert.detail) == (FEED_DOWN_KEY, 2, {"reason": "CBR answered 503"})
    assert await office.notices("alert") == [{"alert_id": alert.id}]

    office.feed.down = ""
    clock.advance(minutes=5)
    assert await office.fx.refresh()
    async with office.uow(read_only=True) as work:
        assert await work.alerts.open_for(FEED_DOWN_KEY) is None
        resolved = await work.alerts.get(alert.id or 0)
        assert await work.fx.latest("CNY") == (clock.now().date(), Decimal("11.00"))
    assert resolved is not None and (resolved.state, resolved.resolved_at) == ("resolved", clock.now())
    assert await office.notices("alert_resolved") == [{"alert_id": alert.id}]
    assert await office.fx.refresh()  # up and up again: nothing more to say
    assert await office.notices("alert_resolved") == [{"alert_id": alert.id}]


async def test_absorb_releases_the_payment(office: Office, clock: FakeClock) -> None:
    order_id = await office.supplier_order()
    task = await office.held(order_id)
    clock.advance(minutes=20)
    assert (await office.fx.answer(task.id or 0, "absorb", "1002")).accepted
    decided = await office.obligation(order_id)
    assert (decided.state, decided.topup_rub, decided.rate_at_due) == (ObligationState.RELEASED, None, Decimal("12.50"))
    history = (await office.orders.get(order_id)).history
    assert [e.detail for e in history if e.kind == "fx_decision"] == [
        {"obligation_id": decided.id, "decision": "absorb", "by": "1002"}
    ]
    assert await office.notices("office_task_closed") == [{"task_id": task.id}]
    late = await office.fx.answer(task.id or 0, "topup", "1003")
    assert (late.accepted, late.refusal) == (False, "answered")
    assert (await office.obligation(order_id)).state == ObligationState.RELEASED


async def test_topup_asks_the_client_for_the_difference(office: Office) -> None:
    order_id = await office.supplier_order()
    task = await office.held(order_id)
    assert (await office.fx.answer(task.id or 0, "topup", "1002")).accepted
    decided = await office.obligation(order_id)
    assert (decided.state, decided.topup_rub) == (ObligationState.TOPUP, Decimal("617.29"))
    assert await office.open_tasks(order_id) == []


async def test_postpone_looks_again_a_day_later(office: Office, clock: FakeClock) -> None:
    order_id = await office.supplier_order()
    task = await office.held(order_id)
    clock.advance(hours=1)
    assert (await office.fx.answer(task.id or 0, "postpone", "1002")).accepted
    decided = await office.obligation(order_id)
    assert (decided.state, decided.due_at) == (ObligationState.PENDING, clock.now() + timedelta(days=1))
    clock.advance(hours=23, minutes=59)
    assert await office.fx.check_due() == 0
    clock.advance(minutes=1)
    office.feed.set("12.20")  # back within 2 % of what the client paid at
    assert await office.fx.check_due() == 1
    assert (await office.obligation(order_id)).state == ObligationState.RELEASED


async def test_no_decision_in_time_goes_to_the_owner(office: Office, clock: FakeClock) -> None:
    order_id = await office.supplier_order()
    task = await office.held(order_id)
    clock.advance(hours=4)
    assert await office.pump.run_once() == 1
    async with office.uow(read_only=True) as work:
        expired = await work.tasks.get(task.id or 0)
        alert = await work.alerts.open_for(f"task_escalated:{task.id}")
    assert expired is not None and (expired.state, expired.end_reason) == (TaskState.EXPIRED, "timeout")
    (owners,) = await office.open_tasks(order_id)
    assert (owners.assignee, owners.payload["escalated"], owners.payload["difference_rub"]) == (
        "role:owner", True, task.payload["difference_rub"],
    )  # fmt: skip
    assert alert is not None and (alert.kind, alert.detail) == (
        "task_escalated", {"task_kind": KIND, "order_id": order_id},
    )  # fmt: skip
    assert await office.notices("office_task") == [{"task_id": task.id}, {"task_id": owners.id}]
    assert (await office.obligation(order_id)).state == ObligationState.HELD

    clock.advance(hours=4)
    await office.pump.run_once()  # the owner's own question ran out: it stays held, nobody above
    assert await office.open_tasks(order_id) == []
    assert (await office.obligation(order_id)).state == ObligationState.HELD
    assert (await office.fx.answer(owners.id or 0, "absorb", "1001")).refusal == "expired"


async def test_without_foreign_obligations_the_bank_is_never_asked(office: Office, clock: FakeClock) -> None:
    plain = await office.place("A-1")
    roubles = await office.place("A-2", Obligation("Carrier", "RUB", Decimal(500), clock.now() + timedelta(days=1)))
    await office.clear(plain, "p1")
    clock.advance(days=2)
    assert await office.fx.check_due() == 0
    assert office.feed.calls == 0
    assert (await office.obligation(roubles)).state == ObligationState.PENDING
    async with office.uow(read_only=True) as work:
        assert await work.fx.latest("CNY") is None


async def test_once_every_foreign_obligation_is_settled_the_bank_is_not_asked_again(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.supplier_order()
    await office.fx.refresh()
    await office.clear(order_id)
    clock.advance(days=8)
    assert await office.fx.check_due() == 1
    assert (await office.obligation(order_id)).state == ObligationState.RELEASED
    calls = office.feed.calls
    clock.advance(hours=1)
    assert await office.fx.check_due() == 0
    assert office.feed.calls == calls


async def test_the_rate_at_payment_is_the_days_rate_even_after_a_quiet_spell(office: Office, clock: FakeClock) -> None:
    """Rates are fetched on schedule only while a foreign obligation is open; a clearing after
    weeks without one must not take the sheet those weeks left behind: it waits for the next run."""
    first = await office.supplier_order("A-1", due_in=timedelta(days=1))
    office.feed.set("11.00")
    await office.fx.check_due()
    await office.clear(first)
    clock.advance(days=2)
    assert await office.fx.check_due() == 1  # released: nothing foreign open any more
    clock.advance(days=30)
    office.feed.set("12.00")
    order_id = await office.supplier_order("A-2")
    calls = office.feed.calls
    await office.clear(order_id, payment="p2")
    assert office.feed.calls == calls  # the clearing does not ask the bank
    assert (await office.obligation(order_id)).rate_at_payment is None
    assert await office.fx.check_due() == 0  # the next scheduled run
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")


async def test_the_first_foreign_order_gets_its_rate_although_none_was_ever_fetched(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.supplier_order()
    await office.clear(order_id)  # paid before the scheduled check ever ran
    assert (await office.obligation(order_id)).rate_at_payment is None
    history = (await office.orders.get(order_id)).history
    assert [e.detail for e in history if e.kind == "fx_rate_awaited"] == [
        {"payee": "Supplier Guangzhou", "currency": "CNY"}
    ]
    assert await office.fx.check_due() == 0
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")
    clock.advance(days=8)
    office.feed.set("12.50")
    assert await office.fx.check_due() == 1
    assert (await office.obligation(order_id)).state == ObligationState.HELD


async def test_with_the_feed_down_when_the_money_clears_the_last_good_rate_is_recorded(
    office: Office, clock: FakeClock
) -> None:
    await office.fx.refresh()  # 12.00, a day ago
    clock.advance(days=1)
    office.feed.down = "CBR answered 503"
    order_id = await office.supplier_order()
    await office.clear(order_id)
    assert (await office.obligation(order_id)).rate_at_payment is None  # a day-old rate is not today's
    await office.fx.check_due()  # the next run: the feed is still down
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")
    async with office.uow(read_only=True) as work:
        assert await work.alerts.open_for(FEED_DOWN_KEY) is not None
    # a second clearing of the same order does not ask the bank: the reference is kept
    calls = office.feed.calls
    office.feed.down = ""
    office.feed.set("13.00")
    await office.clear(order_id, payment="duty")
    assert office.feed.calls == calls
    await office.fx.check_due()
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")


async def test_two_instances_fetching_the_same_sheet_at_once_keep_one_copy(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    """The scheduled check and a clearing (or two instances) may store the day's sheet together."""
    office = Office(SqlUnitOfWorkFactory(database), topology, clock)
    for rate in ("12.00", "12.10", "12.20"):
        office.feed.set(rate)
        assert await asyncio.gather(*(office.fx.refresh() for _ in range(4))) == [True] * 4
    async with office.uow(read_only=True) as work:
        assert await work.fx.latest("CNY") == (clock.now().date(), Decimal("12.20"))


async def test_a_cancelled_order_pays_nothing_out_and_its_question_closes(office: Office) -> None:
    """A held payment's order is cancelled: the obligation is cancelled, its open question is
    closed, and the bank is not asked again for it."""
    order_id = await office.supplier_order()
    task = await office.held(order_id)
    await office.orders.cancel(order_id, "client changed their mind")
    assert (await office.obligation(order_id)).state == ObligationState.CANCELLED
    assert await office.open_tasks(order_id) == []
    assert {"task_id": task.id} in await office.notices("office_task_closed")
    calls = office.feed.calls
    office.clock.advance(days=30)
    assert await office.fx.check_due() == 0
    assert office.feed.calls == calls


class HangingRates(FakeRates):
    """The bank's feed that holds every request until :meth:`answer` (a server that never answers)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.waiting = 0
        self._answered = asyncio.Event()

    async def latest(self) -> tuple[date, dict[str, Decimal]]:
        self.waiting += 1
        await self._answered.wait()
        return await super().latest()

    def hang(self) -> None:
        self._answered.clear()

    def answer(self) -> None:
        self._answered.set()


async def test_a_clearing_is_recorded_while_the_feed_hangs_and_the_question_comes_once_rates_arrive(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    feed = HangingRates(clock)
    office = Office(uow, topology, clock, feed)
    await office.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 100)])
    order_id = await office.supplier_order()
    scheduled = asyncio.create_task(office.fx.check_due())  # the scheduled run, stuck on the bank
    async with asyncio.timeout(30):
        while not feed.waiting:
            await asyncio.sleep(0)

    async with asyncio.timeout(30):  # the test's patience (a loaded machine), not a business timeout
        await office.clear(order_id)
    assert not scheduled.done() and feed.calls == 0  # the bank still has not answered
    assert (await office.obligation(order_id)).rate_at_payment is None

    feed.answer()  # the sheet arrives: 12.00
    assert await scheduled == 0
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")
    clock.advance(days=8)
    feed.set("12.50")
    assert await office.fx.check_due() == 1
    (task,) = await office.open_tasks(order_id)
    assert (task.kind, task.assignee) == (KIND, "role:managers")
    assert await office.notices("office_task") == [{"task_id": task.id}]


async def test_a_rate_fetched_lately_is_recorded_at_clearing_without_asking_the_bank(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.supplier_order()
    assert await office.fx.check_due() == 0  # the scheduled run keeps 12.00 fresh
    clock.advance(minutes=5)
    office.feed.set("12.30")  # what the bank would say now; the clearing takes the sheet at hand
    calls = office.feed.calls
    await office.clear(order_id)
    assert office.feed.calls == calls
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")


async def test_only_money_that_cleared_takes_a_rate(office: Office, clock: FakeClock) -> None:
    order_id = await office.supplier_order()
    authorised = PaymentEvent("p1-auth", "p1", order_id, "idem-p1", Phase.AUTHORIZED, Decimal(90_000), "RUB")
    assert (await office.payments.record(authorised)).applied == "advanced"
    await office.fx.check_due()
    assert (await office.obligation(order_id)).rate_at_payment is None  # authorised is not cleared
    clock.advance(minutes=5)
    await office.clear(order_id)  # the run five minutes ago fetched the sheet: that rate, at once
    assert (await office.obligation(order_id)).rate_at_payment == Decimal("12.00")
