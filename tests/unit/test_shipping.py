"""Carrier out on memory, SQLite and PostgreSQL, against the in-memory carrier: which orders are registered, that
each is registered once (repeated runs, a lost answer, a dead sender, two instances), CDEK's verdicts in the
order's history, refusals and outages told to the owner. The clock is moved, never slept on."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.telegram.render import alert_title
from bot.texts import Locale
from tests.fakes import FakeCarrier, FakeClock, assembled
from workflows.carrier import ParcelItem, ShipmentRequest
from workflows.channels import ChannelRefused, ChannelUnavailable
from workflows.errors import InvalidDelivery
from workflows.model import Customer, Delivery, Shipment, ShipmentState, StockFigure
from workflows.office_model import Alert, Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shipping import ShippingDesk
from workflows.shop import Rules
from workflows.tasks import Task
from workflows.topology import Topology

THRESHOLD = Decimal(100_000)
IVAN = Customer("Иван Петров", "+79161234567", "ivan@example.ru")
TO_DOOR = Delivery(137, "RU", "Москва", "ул. Тверская, д. 1, кв. 5", "125009")
LEASE = timedelta(minutes=5)
LATER = timedelta(minutes=11)  # past any backoff, poll or recheck


class Shop:
    """Intake, payments, the fraud check and the shipping desk as production wires them."""

    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, carrier: FakeCarrier) -> None:
        self.uow, self.clock, self.carrier = uow, clock, carrier
        shop = assembled(uow, topology, clock, carrier=carrier, rules=Rules(fraud_amount_threshold_rub=THRESHOLD))
        self.ledger, self.alerts, self.cascade, self.orders = shop.ledger, shop.alerts, shop.cascade, shop.orders
        self.fraud, self.payments = shop.fraud, shop.payments
        self.shipping = self.desk("instance-a")  # the test's own lease and backoff

    def desk(self, owner: str) -> ShippingDesk:
        return ShippingDesk(
            self.uow, self.clock, self.carrier, self.alerts, THRESHOLD, owner=owner, lease=LEASE, rng=random.Random(7)
        )

    async def place(
        self,
        external_id: str,
        lines: tuple[tuple[str, int], ...] = (("IRON", 1),),
        total: str = "5000",
        delivery: Delivery | None = TO_DOOR,
        customer: Customer = IVAN,
    ) -> int:
        command = PlaceOrder(
            "site", external_id, [LineRequest(sku, qty) for sku, qty in lines], customer, Decimal(total),
            delivery=delivery,
        )  # fmt: skip
        order_id = (await self.orders.place(command)).order.id
        assert order_id is not None
        return order_id

    async def pay(self, order_id: int, phase: Phase = Phase.CLEARED, amount: str = "5000") -> int | None:
        event = PaymentEvent(
            f"p{order_id}-{phase.value}", f"p{order_id}", order_id, f"idem-{order_id}", phase, Decimal(amount), "RUB"
        )
        return (await self.payments.record(event)).fraud_check_task

    async def shipment(self, order_id: int) -> Shipment:
        found = await self.orders.shipment(order_id)
        assert found is not None
        return found

    async def history(self, order_id: int) -> list[str]:
        return [event.kind for event in (await self.orders.get(order_id)).history]

    async def open_alert(self, key: str) -> Alert | None:
        async with self.uow(read_only=True) as work:
            return await work.alerts.open_for(key)


@pytest.fixture
async def shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Shop:
    s = Shop(uow, topology, clock, FakeCarrier())
    await s.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10), StockFigure("MUG", "online", 10)])
    return s


async def test_an_allocated_paid_order_is_registered_once_and_followed_to_its_tracking_number(
    shop: Shop, clock: FakeClock
) -> None:
    order_id = await shop.place("A-1", (("IRON", 2), ("MUG", 1), ("IRON", 1)), total="3000")
    await shop.pay(order_id)

    assert await shop.shipping.run_once() == 1

    [(_, number)] = shop.carrier.calls
    assert number == str(order_id)  # CDEK holds one order per number: ours
    [held] = shop.carrier.held.values()
    request = held["request"]
    assert (request.recipient_name, request.recipient_phone, request.delivery) == (IVAN.name, IVAN.phone, TO_DOOR)
    assert request.items == (  # one item per article; the rouble total shared per unit; the default weight
        ParcelItem("IRON", "IRON", 3, Decimal("750.00"), 500),
        ParcelItem("MUG", "MUG", 1, Decimal("750.00"), 500),
    )
    accepted = await shop.shipment(order_id)
    assert (accepted.state, accepted.carrier_id, accepted.attempts) == (ShipmentState.ACCEPTED, "uuid-1", 1)

    assert await shop.shipping.run_once() == 0  # polled only after a while
    clock.advance(seconds=30)
    assert await shop.shipping.run_once() == 1  # CDEK still validating
    shop.carrier.settle()
    clock.advance(seconds=30)
    assert await shop.shipping.run_once() == 1

    registered = await shop.shipment(order_id)
    assert (registered.state, registered.tracking_number) == (ShipmentState.REGISTERED, "1106000001")
    assert (await shop.history(order_id))[-2:] == ["shipment_accepted", "shipment_registered"]
    event = (await shop.orders.get(order_id)).history[-1]
    assert event.detail == {"carrier": "cdek", "carrier_id": "uuid-1", "tracking_number": "1106000001"}
    clock.advance(hours=1)
    assert await shop.shipping.run_once() == 0
    assert shop.carrier.registrations(str(order_id)) == 1
    assert [method for method, _ in shop.carrier.calls] == ["register", "status", "status"]


async def test_orders_that_may_not_ship_wait_and_go_once_they_may(shop: Shop, clock: FakeClock) -> None:
    await shop.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "tverskaya", 1)])
    unpaid = await shop.place("UNPAID", customer=_client(1))
    authorised = await shop.place("AUTHORISED", customer=_client(2))  # a new client: authorised is not enough
    await shop.pay(authorised, Phase.AUTHORIZED)
    in_store = await shop.place("IN-STORE", (("LAMP", 1),), customer=_client(3))  # the store has not confirmed it
    await shop.pay(in_store)
    held = await shop.place("LARGE", total="150000", customer=_client(4))  # a new client's large order: a call
    fraud_task = await shop.pay(held, amount="150000")
    out_of_stock = await shop.place("NONE-LEFT", (("SOFA", 1),), customer=_client(5))
    await shop.pay(out_of_stock)
    no_delivery = await shop.place("PICKUP-IN-SHOP", delivery=None, customer=_client(6))
    await shop.pay(no_delivery)
    cancelled = await shop.place("CANCELLED", customer=_client(7))
    await shop.orders.cancel(cancelled, "changed their mind")
    await shop.pay(cancelled)

    assert await shop.shipping.run_once() == 0
    clock.advance(minutes=2)
    assert await shop.shipping.run_once() == 0

    assert shop.carrier.calls == []
    assert await shop.orders.shipment(no_delivery) is None
    assert (await shop.shipment(cancelled)).state == ShipmentState.DROPPED
    assert (await shop.history(cancelled))[-1] == "shipment_dropped"
    for order_id in (unpaid, authorised, in_store, held, out_of_stock):
        assert (await shop.shipment(order_id)).state == ShipmentState.WAITING

    await shop.pay(unpaid)
    await shop.pay(authorised)
    [question] = [t for t in await _open_tasks(shop, f"order:{in_store}:") if t.kind == "store_confirmation"]
    assert question.id is not None and fraud_task is not None
    await shop.cascade.answer(question.id, "available", "U0ANNA")
    await shop.fraud.answer(fraud_task, "verified", "manager-1")
    clock.advance(minutes=2)
    await shop.shipping.run_once()

    assert sorted(number for method, number in shop.carrier.calls if method == "register") == sorted(
        str(order_id) for order_id in (unpaid, authorised, in_store, held)
    )
    assert (await shop.shipment(out_of_stock)).state == ShipmentState.WAITING


def _client(n: int) -> Customer:
    return Customer(f"Клиент {n}", f"+7916000000{n}", f"client{n}@example.ru")


async def _open_tasks(shop: Shop, prefix: str) -> list[Task]:
    async with shop.uow(read_only=True) as work:
        return await work.tasks.open_about(prefix)


async def test_a_refused_shipment_is_told_to_the_owner_with_cdeks_reason(shop: Shop, clock: FakeClock) -> None:
    late, at_once = await shop.place("B-1"), await shop.place("B-2")
    await shop.pay(late)
    shop.carrier.refusals.append("Тариф 137 недоступен по этому направлению")
    await shop.shipping.run_once()  # B-1 taken for validation…
    shop.carrier.settle()
    clock.advance(seconds=60)  # B-1 is polled; B-2, unpaid at the first run, is looked at again
    await shop.pay(at_once)
    shop.carrier.refuse_at_once = "Field is empty: to_location.address"  # … and B-2 refused outright
    await shop.place("B-3")  # not paid: not sent
    await shop.shipping.run_once()

    for order_id, reason in (
        (late, "Тариф 137 недоступен по этому направлению"),
        (at_once, "Field is empty: to_location.address"),
    ):
        refused = await shop.shipment(order_id)
        assert (refused.state, refused.reason) == (ShipmentState.REFUSED, reason)
        order = await shop.orders.get(order_id)
        assert order.history[-1].kind == "shipment_refused"
        assert order.history[-1].detail["reason"] == reason
        alert = await shop.open_alert(f"shipment_refused:order:{order_id}")
        assert alert is not None and alert.kind == "shipment_refused"
        assert alert.detail == {"carrier": "cdek", "order_id": order_id, "order": order.external_id, "reason": reason}
    clock.advance(hours=1)
    calls = len(shop.carrier.calls)
    await shop.shipping.run_once()
    assert len(shop.carrier.calls) == calls  # a refusal is final: people fix the order


async def test_cdek_down_is_retried_with_backoff_nothing_lost_and_the_owner_told(shop: Shop, clock: FakeClock) -> None:
    order_id = await shop.place("C-1")
    await shop.pay(order_id)
    shop.carrier.down = ChannelUnavailable("CDEK failed (HTTP 503)")

    for failures in (1, 2, 3):
        assert await shop.shipping.run_once() == 0
        waiting = await shop.shipment(order_id)
        assert (waiting.state, waiting.failures, waiting.reason) == (
            ShipmentState.WAITING, failures, "CDEK failed (HTTP 503)",
        )  # fmt: skip
        backoff = waiting.next_attempt_at - clock.now()
        assert timedelta(seconds=15) * 2 ** (failures - 1) <= backoff <= timedelta(seconds=30) * 2 ** (failures - 1)
        calls = len(shop.carrier.calls)
        await shop.shipping.run_once()
        assert len(shop.carrier.calls) == calls  # not before its time
        clock.current = waiting.next_attempt_at
    alert = await shop.open_alert("carrier_failing:cdek")
    assert alert is not None and alert.detail["failures"] == 3

    shop.carrier.down = None
    assert await shop.shipping.run_once() == 1

    assert (await shop.shipment(order_id)).state == ShipmentState.ACCEPTED
    assert await shop.open_alert("carrier_failing:cdek") is None  # recovered: resolved
    # the first attempt may have reached CDEK, so it was looked for before sending again
    methods = [method for method, _ in shop.carrier.calls]
    assert methods == ["register", "find", "find", "find", "register"]  # the retries failed at the look
    assert len(shop.carrier.held) == 1


async def test_a_refused_account_is_retried_not_blamed_on_the_order(shop: Shop, clock: FakeClock) -> None:
    order_id = await shop.place("C-2")
    await shop.pay(order_id)
    shop.carrier.down = ChannelRefused("CDEK refused the client credentials (HTTP 401): invalid_client")

    await shop.shipping.run_once()

    waiting = await shop.shipment(order_id)
    assert (waiting.state, waiting.failures) == (ShipmentState.WAITING, 1)
    shop.carrier.down = None
    clock.advance(minutes=1)
    await shop.shipping.run_once()
    assert (await shop.shipment(order_id)).state == ShipmentState.ACCEPTED


async def test_a_lost_answer_is_found_at_cdek_not_sent_again(shop: Shop, clock: FakeClock) -> None:
    order_id = await shop.place("D-1")
    await shop.pay(order_id)
    shop.carrier.lose_next_answer = True  # CDEK took it; the answer timed out

    await shop.shipping.run_once()
    clock.advance(minutes=2)
    await shop.shipping.run_once()

    found = await shop.shipment(order_id)
    assert (found.state, found.carrier_id, found.attempts) == (ShipmentState.ACCEPTED, "uuid-1", 2)
    assert [method for method, _ in shop.carrier.calls] == ["register", "find"]
    assert len(shop.carrier.held) == 1


async def test_a_sender_that_died_mid_request_is_taken_over_once_its_lease_runs_out(
    shop: Shop, clock: FakeClock
) -> None:
    sent, never_sent = await shop.place("E-1"), await shop.place("E-2")
    await shop.pay(sent)
    await shop.pay(never_sent)
    dying = shop.desk("instance-dead")
    steps = await dying._claim()  # the claim is committed, then the process dies…
    assert {step.shipment.state for step in steps} == {ShipmentState.REGISTERING}
    [first] = [step for step in steps if step.shipment.order_id == sent]
    assert first.request is not None
    await shop.carrier.register(first.request)  # … after one request reached CDEK
    other = shop.desk("instance-b")

    assert await other.run_once() == 0  # leased: nobody else sends them
    clock.advance(seconds=LEASE.total_seconds() + 1)
    assert await other.run_once() == 2

    assert shop.carrier.registrations(str(sent)) == 1
    assert shop.carrier.registrations(str(never_sent)) == 1
    for order_id in (sent, never_sent):
        assert (await shop.shipment(order_id)).state == ShipmentState.ACCEPTED
        assert (await shop.history(order_id)).count("shipment_accepted") == 1


async def test_two_instances_and_repeated_runs_register_each_order_exactly_once(shop: Shop, clock: FakeClock) -> None:
    order_ids = [await shop.place(f"F-{n}", ((("IRON", "MUG")[n % 2], 1),)) for n in range(12)]  # 10 of each
    for order_id in order_ids:
        await shop.pay(order_id)
    instances = [shop.desk("instance-a"), shop.desk("instance-b")]

    for _ in range(3):
        await asyncio.gather(*(desk.run_once() for desk in instances for _ in range(2)))
    shop.carrier.settle()
    clock.advance(minutes=1)
    for _ in range(3):
        await asyncio.gather(*(desk.run_once() for desk in instances))

    for order_id in order_ids:
        assert shop.carrier.registrations(str(order_id)) == 1
        assert (await shop.shipment(order_id)).state == ShipmentState.REGISTERED
        assert (await shop.history(order_id)).count("shipment_registered") == 1
    assert len(shop.carrier.held) == len(order_ids)


async def test_a_cancelled_order_whose_request_may_have_reached_cdek_is_looked_up_first(
    shop: Shop, clock: FakeClock
) -> None:
    reached, lost = await shop.place("G-1"), await shop.place("G-2")
    for order_id in (reached, lost):
        await shop.pay(order_id)
    shop.carrier.lose_next_answer = True
    await shop.shipping.run_once()  # G-1 got there, its answer lost; G-2 given back for the next run
    shop.carrier.down = ChannelUnavailable("timeout")
    clock.advance(minutes=2)
    await shop.shipping.run_once()  # G-2's first try fails: it may have got there too
    shop.carrier.down = None
    for order_id in (reached, lost):
        await shop.orders.cancel(order_id, "changed their mind")
    clock.advance(minutes=11)

    await shop.shipping.run_once()

    assert (await shop.shipment(reached)).state == ShipmentState.ACCEPTED  # at CDEK: followed, not forgotten
    assert (await shop.shipment(lost)).state == ShipmentState.DROPPED
    assert shop.carrier.registrations(str(lost)) == 1  # never sent again once cancelled


async def test_a_delivery_needs_the_recipients_name_and_phone_and_nothing_is_taken_without(shop: Shop) -> None:
    with pytest.raises(InvalidDelivery) as refused:
        await shop.place("H-1", customer=Customer("", "12-34", "x@example.ru"))

    assert [d["field"] for d in refused.value.details] == ["customer.name", "customer.phone"]
    async with shop.uow(read_only=True) as work:
        assert await work.orders.find("site", "H-1") is None
    pickup = Delivery(136, "RU", "", "", pickup_point="MSK45", weight_g=1200)
    order_id = await shop.place("H-2", (("IRON", 2), ("MUG", 1)), delivery=pickup)
    stored = await shop.shipment(order_id)
    assert (stored.delivery, stored.state, stored.attempts) == (pickup, ShipmentState.WAITING, 0)
    await shop.pay(order_id)
    await shop.shipping.run_once()
    [held] = shop.carrier.held.values()
    assert [item.unit_weight_g for item in held["request"].items] == [400, 400]  # the parcel's weight, shared


@pytest.mark.parametrize(
    ("locale", "refused", "failing"),
    [
        ("ru", "СДЭК не принял заказ site-7: Адрес не найден", "СДЭК не отвечает (3\xa0раза подряд): HTTP 503"),
        ("en", "CDEK refused order site-7: Адрес не найден", "CDEK is not answering (3\xa0times in a row): HTTP 503"),
    ],
)
def test_the_owner_reads_what_cdek_said(locale: Locale, refused: str, failing: str, clock: FakeClock) -> None:
    def alert(kind: str, detail: dict[str, object]) -> Alert:
        return Alert(1, f"{kind}:x", kind, detail, "open", 1, 0, clock.now(), clock.now())

    shipment = alert(
        "shipment_refused", {"carrier": "cdek", "order_id": 7, "order": "site-7", "reason": "Адрес не найден"}
    )
    carrier = alert("carrier_failing", {"carrier": "cdek", "reason": "HTTP 503", "failures": 3})

    assert alert_title(shipment, locale, "Europe/Moscow") == refused
    assert alert_title(carrier, locale, "Europe/Moscow") == failing


class BrokenForOne(FakeCarrier):
    """A carrier adapter with a bug that shows for one order only."""

    def __init__(self, broken: str) -> None:
        super().__init__()
        self.broken = broken

    async def register(self, request: ShipmentRequest) -> str:
        if request.number == self.broken:
            raise KeyError("a bug")
        return await super().register(request)


async def test_a_shipment_that_trips_a_bug_is_set_aside_and_the_others_go(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = Shop(uow, topology, clock, FakeCarrier())
    await shop.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    first, second = await shop.place("I-1"), await shop.place("I-2")
    for order_id in (first, second):
        await shop.pay(order_id)
    shop.carrier = BrokenForOne(str(first))
    desk = ShippingDesk(uow, clock, shop.carrier, shop.alerts, THRESHOLD, owner="a", rng=random.Random(1))

    await desk.run_once()

    stuck = await shop.shipment(first)
    assert (stuck.state, stuck.reason) == (ShipmentState.WAITING, "internal error: KeyError")
    assert stuck.next_attempt_at > clock.now()
    assert (await shop.shipment(second)).state == ShipmentState.ACCEPTED
    assert await shop.open_alert("carrier_failing:cdek") is None  # not CDEK's fault
