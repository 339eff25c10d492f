"""The payment watch on memory, SQLite and PostgreSQL, with a scripted gateway and a fake clock: a payment whose
phase stood still is polled by id, its answer goes the gateway event's way once, a silent gateway changes nothing
and is asked again with backoff, a poll is never a failed attempt, and a payment unknown too long is one task."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from integrations.yookassa import PHASES
from tests.fakes import FakeClock, FakeRates
from workflows.model import Customer, StockFigure
from workflows.office_model import FROM_STATUS_POLL, Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payloads import PaymentUnknown
from workflows.payment_gateway import GatewayRefused, GatewayStatus, GatewayUnavailable
from workflows.payment_watch import PaymentStatusWatch, poll_event_id
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Instance, Outside, Rules, Shop, assemble
from workflows.tasks import Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import Assignee, NoticeTopic, Role, TaskKind

POLL_AFTER, TASK_AFTER = timedelta(minutes=15), timedelta(hours=2)
IVAN = Customer("Иван Петров", "+79161234567", "ivan@example.ru")


class ScriptedGateway:
    """Says what a test set for each payment, or nothing at all while ``down``; remembers every question."""

    name = "the test gateway"

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.down = False
        self.retry_after: float | None = None
        self.asked: list[tuple[str, str]] = []

    async def status(self, payment_id: str, *, trace_key: str = "") -> GatewayStatus:
        self.asked.append((payment_id, trace_key))
        if self.down:
            raise GatewayUnavailable("the test gateway did not answer in time", self.retry_after)
        if payment_id not in self.statuses:
            raise GatewayRefused("the test gateway has no such payment")
        status = self.statuses[payment_id]
        return GatewayStatus(payment_id, status, PHASES[status], cancelled_by="yoo_money", cancel_reason="x")


class Office:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock, self.gateway = uow, clock, ScriptedGateway()
        outside = Outside(FakeRates(clock), payment_gateway=self.gateway)
        rules = Rules(payment_poll_after=POLL_AFTER, payment_task_after=TASK_AFTER)
        self.shop: Shop = assemble(uow, topology, clock, outside, rules, Instance(owner="test/1"))
        assert self.shop.payment_watch is not None
        self.watch: PaymentStatusWatch = self.shop.payment_watch

    async def place(self, external_id: str, total: str = "5000") -> int:
        command = PlaceOrder("site", external_id, [LineRequest("IRON", 1)], IVAN, Decimal(total))
        order_id = (await self.shop.orders.place(command)).order.id
        assert order_id is not None
        return order_id

    async def notice(self, order_id: int, payment: str, phase: Phase, event_id: str = "") -> str:
        """The gateway's own notice, as ``POST /api/payments/events`` records it."""
        event = PaymentEvent(
            event_id or f"gw-{payment}-{phase.value}", payment, order_id, f"idem-{payment}", phase,
            Decimal("5000.00"), "RUB",
        )  # fmt: skip
        return (await self.shop.payments.record(event)).applied

    async def phase(self, payment_id: str) -> Phase:
        async with self.uow(read_only=True) as work:
            payment = await work.payments.get(payment_id)
        assert payment is not None
        return payment.phase

    async def history(self, order_id: int) -> list[str]:
        order = await self.shop.orders.get(order_id)
        return [event.kind for event in order.history]

    async def failed_attempts(self, order_id: int) -> int:
        async with self.uow(read_only=True) as work:
            return await work.payments.failed_attempts(order_id)

    async def watch_of(self, payment_id: str):
        async with self.uow(read_only=True) as work:
            return await work.payment_watches.get(payment_id)

    async def tasks(self) -> list[Task]:
        async with self.uow(read_only=True) as work:
            return [t for t in await work.tasks.open_about("payment:") if t.kind == TaskKind.PAYMENT_UNKNOWN]


@pytest.fixture
async def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Office:
    o = Office(uow, topology, clock)
    await o.shop.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    return o


async def test_a_payment_stuck_past_the_limit_is_read_by_id_and_clears(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.statuses["p1"] = "succeeded"
    clock.advance(minutes=14)
    assert await office.watch.run_once() == 0
    assert office.gateway.asked == []  # not stuck yet: the gateway's notice may still come
    clock.advance(minutes=1)
    assert await office.watch.run_once() == 1
    assert office.gateway.asked == [("p1", "idem-p1")]  # by its id; the session's key only as a trace
    assert await office.phase("p1") == Phase.CLEARED
    assert (await office.history(order_id))[-1] == "payment_cleared"
    clock.advance(hours=1)
    assert await office.watch.run_once() == 0  # cleared is final: never asked again
    assert len(office.gateway.asked) == 1


async def test_a_repeated_poll_and_the_gateways_late_notice_change_nothing_twice(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.statuses["p1"] = "waiting_for_capture"
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    await office.watch.run_once()
    assert await office.phase("p1") == Phase.AUTHORIZED
    clock.advance(seconds=(POLL_AFTER).total_seconds())  # authorised and standing still again: asked again, same answer
    await office.watch.run_once()
    assert len(office.gateway.asked) == 2
    assert await office.notice(order_id, "p1", Phase.AUTHORIZED) == "ignored_out_of_order"  # the late notice
    assert (await office.history(order_id)).count("payment_authorized") == 1
    # the poll's event id is the same for the same answer: the desk sees a duplicate
    again = PaymentEvent(poll_event_id("p1", "waiting_for_capture"), "p1", order_id, "idem-p1", Phase.AUTHORIZED,
                         Decimal("5000.00"), "RUB", source=FROM_STATUS_POLL)  # fmt: skip
    assert (await office.shop.payments.record(again)).duplicate


async def test_pending_records_nothing_and_asks_again_later(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.statuses["p1"] = "pending"
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    assert await office.watch.run_once() == 1
    assert await office.phase("p1") == Phase.INITIATED
    watch = await office.watch_of("p1")
    assert watch is not None
    assert (watch.polls, watch.failures, watch.next_poll_at, watch.lease_owner) == (
        1,
        0,
        clock.now() + POLL_AFTER,
        None,
    )
    clock.advance(minutes=10)
    await office.watch.run_once()
    assert len(office.gateway.asked) == 1


async def test_a_silent_gateway_leaves_the_payment_as_it_was_and_is_asked_again_with_backoff(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.down = True
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    waits = []
    for _ in range(4):
        await office.watch.run_once()
        watch = await office.watch_of("p1")
        assert watch is not None
        waits.append(watch.next_poll_at - clock.now())
        clock.advance(seconds=1)
        await office.watch.run_once()  # not due yet: not asked
        clock.advance(seconds=(watch.next_poll_at - clock.now()).total_seconds())
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert len(office.gateway.asked) == 4
    assert await office.phase("p1") == Phase.INITIATED
    assert await office.history(order_id) == ["received", "reserved", "payment_initiated"]
    office.gateway.retry_after = 3600.0  # the gateway's own hint wins when it is longer
    await office.watch.run_once()
    watch = await office.watch_of("p1")
    assert watch is not None and watch.next_poll_at - clock.now() == timedelta(hours=1)
    clock.advance(hours=1)
    office.gateway.down, office.gateway.statuses["p1"] = False, "succeeded"
    await office.watch.run_once()
    watch = await office.watch_of("p1")
    assert watch is not None and (watch.failures, watch.last_error) == (0, None)
    assert await office.phase("p1") == Phase.CLEARED


async def test_a_poll_after_a_slow_gateway_is_never_a_failed_attempt(office: Office, clock: FakeClock) -> None:
    """The incident: our own status requests, some unanswered, were taken for more failed payment attempts. Two
    real failures and a third payment polled many times must stay two attempts: no fraud signal."""
    order_id = await office.place("W-1")
    for payment in ("p1", "p2"):
        await office.notice(order_id, payment, Phase.INITIATED)
        await office.notice(order_id, payment, Phase.FAILED)
    await office.notice(order_id, "p3", Phase.INITIATED)
    office.gateway.down = True
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    for _ in range(5):  # five unanswered polls
        await office.watch.run_once()
        clock.advance(minutes=30)
    assert await office.failed_attempts(order_id) == 2
    office.gateway.down, office.gateway.statuses["p3"] = False, "succeeded"
    await office.watch.run_once()
    assert await office.phase("p3") == Phase.CLEARED
    history = await office.history(order_id)
    assert "fraud_check_opened" not in history
    assert await office.failed_attempts(order_id) == 2
    order = await office.shop.orders.get(order_id)
    assert order.shipping_hold is None


async def test_a_failure_only_the_poll_saw_counts_once_the_gateway_says_it(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.statuses["p1"] = "canceled"
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    await office.watch.run_once()
    assert await office.phase("p1") == Phase.FAILED
    assert await office.failed_attempts(order_id) == 0  # our poll is not the payer's attempt
    assert await office.notice(order_id, "p1", Phase.FAILED) == "ignored_after_end"  # the gateway's late word
    assert await office.failed_attempts(order_id) == 1  # ...counts it, once
    assert (await office.history(order_id)).count("payment_failed") == 1


async def test_a_payment_unknown_too_long_is_one_task_for_the_managers(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    since = clock.now()
    office.gateway.down = True
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    while clock.now() - since < TASK_AFTER + timedelta(hours=1):
        await office.watch.run_once()
        clock.advance(minutes=5)
    [task] = await office.tasks()
    question = PaymentUnknown.from_payload(task.payload)
    assert (task.assignee, task.options) == (Assignee.MANAGERS, ("checked",))
    assert (question.order_id, question.external_id, question.payment_id, question.since) == (
        order_id, "W-1", "p1", since,
    )  # fmt: skip
    assert question.phase == "initiated" and question.last_error
    async with office.uow(read_only=True) as work:
        notices = await work.notices.undelivered(100, [NoticeTopic.OFFICE_TASK])
    assert any(payload.get("task_id") == task.id for _, _, payload in notices)
    assert (await office.history(order_id)).count("payment_unknown_asked") == 1
    office.gateway.down, office.gateway.statuses["p1"] = False, "succeeded"  # settled: the task closes
    await office.watch.run_once()
    assert await office.tasks() == []
    async with office.uow(read_only=True) as work:
        closed = await work.tasks.get(task.id or 0)
    assert closed is not None and closed.state == TaskState.CANCELLED


async def test_the_managers_answer_is_in_the_orders_history(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.statuses["p1"] = "pending"
    clock.advance(seconds=(TASK_AFTER).total_seconds())
    await office.watch.run_once()
    [task] = await office.tasks()
    decision = await office.shop.office.answer(task.id or 0, "checked", Role.MANAGER, "Анна")
    assert decision.accepted
    assert (await office.history(order_id))[-1] == "payment_unknown_checked"
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    await office.watch.run_once()  # still pending, same "since": no second task
    assert await office.tasks() == []


async def test_two_watches_never_poll_one_payment_at_once(
    office: Office, uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.statuses["p1"] = "succeeded"
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    async with uow() as work:  # another instance claimed it and is asking the gateway now
        now = clock.now()
        claimed = await work.payment_watches.claim(now - POLL_AFTER, now, now + timedelta(seconds=15), "other/1", 10)
        await work.commit()
    assert [payment.payment_id for payment, _ in claimed] == ["p1"]
    assert await office.watch.run_once() == 0
    assert office.gateway.asked == []
    clock.advance(seconds=16)  # its lease ran out (it died): ours now
    assert await office.watch.run_once() == 1


async def test_a_payment_the_gateway_does_not_know_is_asked_again_much_later(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p-unknown", Phase.INITIATED)
    clock.advance(seconds=(POLL_AFTER).total_seconds())
    await office.watch.run_once()
    watch = await office.watch_of("p-unknown")
    assert watch is not None and watch.next_poll_at - clock.now() == timedelta(minutes=30)
    assert "no such payment" in (watch.last_error or "")
    assert await office.phase("p-unknown") == Phase.INITIATED


def test_a_polls_event_id_fits_the_column() -> None:
    assert poll_event_id("2f1c", "succeeded") == "poll:2f1c:succeeded"
    assert len(poll_event_id("x" * 128, "waiting_for_capture")) <= 128


async def test_a_task_nobody_answers_expires_and_the_watch_goes_on(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    office.gateway.statuses["p1"] = "pending"
    clock.advance(seconds=TASK_AFTER.total_seconds())
    await office.watch.run_once()
    [task] = await office.tasks()
    clock.advance(hours=4)  # the managers' time to look
    await office.shop.pump.run_once()
    async with office.uow(read_only=True) as work:
        expired = await work.tasks.get(task.id or 0)
    assert expired is not None and expired.state == TaskState.EXPIRED
    await office.watch.run_once()
    assert len(office.gateway.asked) == 2  # still asked about


async def test_the_backoff_never_delays_the_managers_task(office: Office, clock: FakeClock) -> None:
    """Asked at the gateway's pace (1, 2, 4… up to 30 minutes apart), the payment is still looked at again the
    moment it has been unknown too long, and the task opens then."""
    order_id = await office.place("W-1")
    await office.notice(order_id, "p1", Phase.INITIATED)
    since = clock.now()
    office.gateway.down = True
    clock.advance(seconds=POLL_AFTER.total_seconds())
    while not await office.tasks():
        await office.watch.run_once()
        watch = await office.watch_of("p1")
        assert watch is not None
        assert watch.task_id is not None or watch.next_poll_at <= since + TASK_AFTER
        clock.advance(seconds=max((watch.next_poll_at - clock.now()).total_seconds(), 0))
        assert clock.now() - since <= TASK_AFTER + timedelta(minutes=30), "the task never came"
    [task] = await office.tasks()
    assert task.created_at == since + TASK_AFTER
