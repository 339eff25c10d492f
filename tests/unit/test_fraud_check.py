"""The fraud call check on memory, SQLite and PostgreSQL: who gets one, what each answer does,
and what happens when nobody answers (the clock is moved, never slept on)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.fakes import FakeClock, assembled
from workflows.errors import ClientBlocked
from workflows.fraud_check import KIND, OPTIONS
from workflows.model import Customer, LineStatus, ReservationState, StockFigure
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import EventOutcome, PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Rules
from workflows.tasks import Task, TaskState
from workflows.topology import Topology

THRESHOLD = Decimal(100_000)
IVAN = Customer("Иван Петров", "+79161234567", "ivan@example.ru")


class Office:
    """The fraud check as production wires it."""

    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.clock = uow, clock
        shop = assembled(uow, topology, clock, rules=Rules(fraud_amount_threshold_rub=THRESHOLD))
        self.ledger, self.alerts, self.orders, self.fraud = shop.ledger, shop.alerts, shop.orders, shop.fraud
        self.payments, self.pump = shop.payments, shop.pump

    async def place(
        self, external_id: str, total: str, customer: Customer = IVAN, skus: tuple[str, ...] = ("IRON",)
    ) -> int:
        command = PlaceOrder("site", external_id, [LineRequest(sku, 1) for sku in skus], customer, Decimal(total))
        order_id = (await self.orders.place(command)).order.id
        assert order_id is not None
        return order_id

    async def pay(
        self, order_id: int, phase: Phase, payment: str = "p1", *, payer: str = "", ip: str = "", card: str = ""
    ) -> EventOutcome:
        event = PaymentEvent(
            f"{payment}-{phase.value}", payment, order_id, f"idem-{payment}", phase, Decimal("1000.00"), "RUB",
            payer_name=payer, ip_country=ip, card_country=card,
        )  # fmt: skip
        return await self.payments.record(event)

    async def returning(self, customer: Customer = IVAN) -> None:
        """The client paid for an earlier order."""
        earlier = await self.place("EARLIER", "1000", customer)
        await self.pay(earlier, Phase.CLEARED, payment="earlier")

    async def task(self, task_id: int | None) -> Task:
        assert task_id is not None
        async with self.uow(read_only=True) as work:
            task = await work.tasks.get(task_id)
        assert task is not None
        return task

    async def open_checks(self, order_id: int) -> list[Task]:
        async with self.uow(read_only=True) as work:
            return await work.tasks.open_about(f"order:{order_id}:fraud_check:")

    async def notices(self, topic: str) -> list[dict[str, object]]:
        async with self.uow(read_only=True) as work:
            return [payload for _, _, payload in await work.notices.undelivered(1000, [topic])]


@pytest.fixture
async def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Office:
    o = Office(uow, topology, clock)
    await o.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10), StockFigure("KETTLE", "tverskaya", 1)])
    return o


def _ids(tasks: list[Task]) -> list[int | None]:
    return [t.id for t in tasks]


@pytest.mark.parametrize(("total", "phase"), [("100000", Phase.AUTHORIZED), ("250000.50", Phase.CLEARED)])
async def test_a_new_client_with_a_large_order_is_called_before_anything_ships(
    office: Office, clock: FakeClock, total: str, phase: Phase
) -> None:
    order_id = await office.place("A-1", total)
    outcome = await office.pay(order_id, phase, payer="Иван Петров")
    task = await office.task(outcome.fraud_check_task)
    assert (task.kind, task.assignee, task.subject, task.options, task.state) == (
        KIND, "role:managers", f"order:{order_id}:fraud_check:1", OPTIONS, TaskState.OPEN,
    )  # fmt: skip
    assert task.deadline == clock.now() + timedelta(minutes=30)
    assert {k: task.payload[k] for k in ("order_id", "phone", "email", "reasons", "attempt", "failed_attempts")} == {
        "order_id": order_id, "phone": IVAN.phone, "email": IVAN.email, "reasons": ["new_client_large_order"],
        "attempt": 1, "failed_attempts": 0,
    }  # fmt: skip
    order = await office.orders.get(order_id)
    assert order.shipping_hold == "fraud_check"
    assert [e.detail for e in order.history if e.kind == "fraud_check_opened"] == [
        {"task_id": task.id, "reasons": ["new_client_large_order"]}
    ]
    assert await office.notices("office_task") == [{"task_id": task.id}]


@pytest.mark.parametrize(
    ("returning", "total"),
    [(True, "99999.99"), (False, "99999.99"), (True, "500000")],
    ids=["returning-small", "new-small", "returning-large"],
)
async def test_no_call_without_a_reason(office: Office, returning: bool, total: str) -> None:
    """Only a *new* client at or over the threshold is called for the amount alone."""
    if returning:
        await office.returning()
    order_id = await office.place("A-1", total)
    outcome = await office.pay(order_id, Phase.AUTHORIZED, payer="Иван Петров", ip="RU", card="RU")
    assert outcome.fraud_check_task is None
    assert await office.open_checks(order_id) == []
    assert (await office.orders.get(order_id)).shipping_hold is None
    assert await office.notices("office_task") == []


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        ({"payer": "Сидор Козлов"}, "payer_is_not_recipient"),
        ({"ip": "NG", "card": "RU"}, "ip_country_differs_from_card"),
        ({"failures": 3}, "repeated_failed_attempts"),
        ({"payer": "  иван   ПЕТРОВ "}, None),  # the same name, written differently
        ({"ip": "ru", "card": "RU"}, None),
        ({"ip": "NG"}, None),  # the card's country unknown: nothing to compare
        ({"failures": 2}, None),
    ],
)
async def test_each_risk_signal_alone_opens_a_check(
    office: Office, signal: dict[str, object], reason: str | None
) -> None:
    """A returning client with a small order: only the signal can open the check."""
    await office.returning()
    order_id = await office.place("A-1", "5000")
    failures = int(str(signal.get("failures", 0)))
    for n in range(failures):
        await office.pay(order_id, Phase.FAILED, payment=f"try-{n}")
    outcome = await office.pay(
        order_id, Phase.AUTHORIZED, payer=str(signal.get("payer", "")), ip=str(signal.get("ip", "")),
        card=str(signal.get("card", "")),
    )  # fmt: skip
    if reason is None:
        assert outcome.fraud_check_task is None and await office.open_checks(order_id) == []
        return
    task = await office.task(outcome.fraud_check_task)
    assert (task.payload["reasons"], task.payload["failed_attempts"]) == ([reason], failures)
    assert (await office.orders.get(order_id)).shipping_hold == "fraud_check"


async def test_an_order_is_checked_once(office: Office) -> None:
    order_id = await office.place("A-1", "150000")
    first = await office.pay(order_id, Phase.AUTHORIZED)
    assert first.fraud_check_task is not None
    assert (await office.pay(order_id, Phase.CLEARED)).fraud_check_task is None  # still held: same check
    assert (await office.fraud.answer(first.fraud_check_task, "verified", "1002")).accepted
    duty = await office.pay(order_id, Phase.CLEARED, payment="duty", payer="Сидор Козлов")
    assert duty.fraud_check_task is None  # verified once: a later payment does not ask again
    assert await office.notices("office_task") == [{"task_id": first.fraud_check_task}]
    assert (await office.orders.get(order_id)).shipping_hold is None


async def test_verified_lifts_the_hold_and_the_first_decision_stands(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("A-1", "150000")
    task_id = (await office.pay(order_id, Phase.CLEARED)).fraud_check_task
    assert task_id is not None
    clock.advance(minutes=4)
    assert (await office.fraud.answer(task_id, "verified", "1002")).accepted
    late = await office.fraud.answer(task_id, "fraud", "1003")
    assert (late.accepted, late.refusal) == (False, "answered")
    order = await office.orders.get(order_id)
    assert (order.shipping_hold, order.cancelled_at) == (None, None)
    task = await office.task(task_id)
    assert (task.state, task.answer, task.answered_by, task.closed_at) == (
        TaskState.ANSWERED, "verified", "1002", clock.now(),
    )  # fmt: skip
    assert [e.detail for e in order.history if e.kind == "fraud_check_answered"] == [
        {"task_id": task_id, "decision": "verified", "by": "1002"}
    ]
    assert await office.notices("office_task_closed") == [{"task_id": task_id}]
    async with office.uow(read_only=True) as work:
        assert await work.payments.is_blocked(IVAN.phone, IVAN.email) is False


async def test_no_answer_calls_again_then_the_owner_decides(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("A-1", "150000")
    task_id = (await office.pay(order_id, Phase.AUTHORIZED)).fraud_check_task
    asked: list[Task] = [await office.task(task_id)]
    for attempt in (2, 3):
        clock.advance(minutes=10)
        assert (await office.fraud.answer(asked[-1].id or 0, "no_answer", "1002")).accepted
        (again,) = await office.open_checks(order_id)
        call_after = clock.now() + timedelta(minutes=30)
        assert (again.assignee, again.subject, again.payload["attempt"], again.payload["call_after"]) == (
            "role:managers", f"order:{order_id}:fraud_check:{attempt}", attempt, call_after.isoformat(),
        )  # fmt: skip
        # the manager is told to call again later, and has the full half hour after that to answer
        assert again.deadline == call_after + timedelta(minutes=30)
        asked.append(again)
    clock.advance(minutes=45)
    await office.pump.run_once()  # past the moment to call again, not past the deadline
    assert (await office.task(asked[-1].id)).state == TaskState.OPEN
    assert (await office.fraud.answer(asked[-1].id or 0, "no_answer", "1002")).accepted
    (owners,) = await office.open_checks(order_id)
    assert (owners.assignee, owners.payload["attempt"], owners.payload["escalated"]) == ("role:owner", 4, "no_answer")
    async with office.uow(read_only=True) as work:
        alert = await work.alerts.open_for(f"task_escalated:{asked[-1].id}")
    assert alert is not None
    assert (alert.kind, alert.detail["why"], alert.detail["order_id"]) == ("task_escalated", "no_answer", order_id)
    assert await office.notices("office_task") == [{"task_id": t.id} for t in [*asked, owners]]
    assert (await office.orders.get(order_id)).shipping_hold == "fraud_check"
    assert (await office.fraud.answer(owners.id or 0, "no_answer", "1001")).accepted  # the owner's own: no further
    assert await office.open_checks(order_id) == []
    assert (await office.orders.get(order_id)).shipping_hold == "fraud_check"


async def test_fraud_cancels_the_order_voids_its_payments_and_blocks_the_client(
    office: Office, clock: FakeClock
) -> None:
    order_id = await office.place("A-1", "150000", skus=("IRON", "KETTLE"))
    placed = await office.orders.get(order_id)
    assert [line.status for line in placed.lines] == [LineStatus.RESERVED, LineStatus.AWAITING_STORE_CONFIRMATION]
    task_id = (await office.pay(order_id, Phase.AUTHORIZED)).fraud_check_task
    await office.pay(order_id, Phase.INITIATED, payment="duty")
    assert task_id is not None
    clock.advance(minutes=7)
    assert (await office.fraud.answer(task_id, "fraud", "1002")).accepted
    late = await office.fraud.answer(task_id, "verified", "1003")
    assert (late.accepted, late.refusal) == (False, "answered")

    order = await office.orders.get(order_id)
    assert (order.cancelled_at, order.status.value) == (clock.now(), "cancelled")
    assert [line.status for line in order.lines] == [LineStatus.CANCELLED, LineStatus.CANCELLED]
    assert {"cancelled", "client_blocked"} <= {e.kind for e in order.history}
    iron, kettle = await office.ledger.stock("IRON"), await office.ledger.stock("KETTLE")
    assert (iron.reserved, iron.available, kettle.reserved) == (0, 10, 0)
    async with office.uow(read_only=True) as work:
        released = await work.reservations.totals(ReservationState.RELEASED)
        payments = await work.payments.for_order(order_id)
        store_questions = await work.tasks.open_about(f"order:{order_id}:")
    assert released == {("IRON", "online"): 1, ("KETTLE", "tverskaya"): 1}
    assert [(p.payment_id, p.void_requested_at) for p in payments] == [("p1", clock.now()), ("duty", clock.now())]
    assert store_questions == []  # the store is no longer asked about it

    with pytest.raises(ClientBlocked):
        await office.place("A-2", "100", Customer("Иван", IVAN.phone, "other@example.ru"))
    with pytest.raises(ClientBlocked):
        await office.place("A-3", "100", Customer("Иван", "+70000000000", IVAN.email))
    with pytest.raises(ClientBlocked):  # the same phone written another way is the same client
        await office.place("A-5", "100", Customer("Иван", "8 (916) 123-45-67", "new@example.ru"))
    assert await office.place("A-4", "100", Customer("Пётр", "+79160000002", "petr@example.ru"))


async def test_nobody_answering_goes_to_the_owner(office: Office, clock: FakeClock) -> None:
    order_id = await office.place("A-1", "150000")
    task_id = (await office.pay(order_id, Phase.AUTHORIZED)).fraud_check_task
    clock.advance(minutes=29)
    assert await office.pump.run_once() == 0
    clock.advance(minutes=1)
    assert await office.pump.run_once() == 1
    managers = await office.task(task_id)
    assert (managers.state, managers.end_reason) == (TaskState.EXPIRED, "timeout")
    (owners,) = await office.open_checks(order_id)
    assert (owners.assignee, owners.payload["escalated"], owners.deadline) == (
        "role:owner", "timeout", clock.now() + timedelta(minutes=30),
    )  # fmt: skip
    async with office.uow(read_only=True) as work:
        alert = await work.alerts.open_for(f"task_escalated:{task_id}")
    assert alert is not None and alert.detail["why"] == "timeout"
    assert await office.notices("office_task_closed") == [{"task_id": task_id}]

    clock.advance(minutes=30)
    assert await office.pump.run_once() == 1  # the owner's own question runs out: nobody above
    assert (await office.task(owners.id)).state == TaskState.EXPIRED
    assert await office.open_checks(order_id) == []
    assert (await office.orders.get(order_id)).shipping_hold == "fraud_check"  # nothing ships until someone decides
