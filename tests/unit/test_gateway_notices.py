"""YooKassa's notices on memory, SQLite and PostgreSQL, with a scripted gateway: only what the gateway's read says is
recorded, through the payment desk once; a payment is ours by its id, by our top-up's gateway id or by the metadata
it was made with (never another order's); refunds only in full; a gateway that cannot be asked records nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

import pytest

from integrations.yookassa import PHASES
from tests.fakes import FakeClock, FakeRates
from workflows.gateway_notices import GatewayNotice, GatewayNotices, notice_event_id
from workflows.model import Customer, StockFigure
from workflows.office_model import Phase
from workflows.orders import LineRequest, PlaceOrder
from workflows.payment_gateway import (
    GatewayNotFound,
    GatewayPayment,
    GatewayRefund,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
)
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Outside, Shop, assemble
from workflows.topology import Topology

T = TypeVar("T")
IVAN = Customer("Иван Петров", "+79161234567", "ivan@example.ru")


class ScriptedGateway:
    """YooKassa as a test sets it: payments (status, amount, refunded, metadata) and refunds; ``down`` or
    ``refusing`` answers nothing useful."""

    name = "the test gateway"

    def __init__(self) -> None:
        self.payments: dict[str, GatewayStatus] = {}
        self.refunds: dict[str, GatewayRefund] = {}
        self.down = self.refusing = False
        self.asked: list[str] = []

    def pays(self, gateway_id: str, status: str, *, refunded: str | None = None, **metadata: str) -> None:
        refund = Decimal(refunded) if refunded is not None else None
        self.payments[gateway_id] = GatewayStatus(gateway_id, status, PHASES[status], Decimal("5000.00"), "RUB",
                                                  metadata=metadata, refunded=refund)  # fmt: skip

    async def status(self, payment_id: str, *, trace_key: str = "") -> GatewayStatus:
        return self._found(self.payments, payment_id)

    async def refund(self, refund_id: str) -> GatewayRefund:
        return self._found(self.refunds, refund_id)

    def _found(self, table: dict[str, T], key: str) -> T:
        self.asked.append(key)
        if self.down:
            raise GatewayUnavailable("the test gateway did not answer in time")
        if self.refusing:
            raise GatewayRefused("the test gateway refused our credentials")
        if key not in table:
            raise GatewayNotFound("the test gateway has no such object")
        return table[key]


class Office:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        self.uow, self.gateway = uow, ScriptedGateway()
        self.shop: Shop = assemble(uow, topology, clock, Outside(FakeRates(clock), payment_notices=self.gateway))
        assert self.shop.gateway_notices is not None
        self.notices: GatewayNotices = self.shop.gateway_notices

    async def place(self, external_id: str) -> int:
        command = PlaceOrder("site", external_id, [LineRequest("IRON", 1)], IVAN, Decimal("5000"))
        order_id = (await self.shop.orders.place(command)).order.id
        assert order_id is not None
        return order_id

    async def initiated(self, order_id: int, payment: str) -> None:
        event = PaymentEvent(f"gw-{payment}-init", payment, order_id, f"idem-{payment}", Phase.INITIATED,
                             Decimal("5000.00"), "RUB")  # fmt: skip
        await self.shop.payments.record(event)

    async def phase(self, payment_id: str) -> Phase | None:
        async with self.uow(read_only=True) as work:
            payment = await work.payments.get(payment_id)
        return payment.phase if payment is not None else None


@pytest.fixture
async def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Office:
    o = Office(uow, topology, clock)
    await o.shop.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    return o


async def test_the_gateways_read_is_recorded_not_the_notices_word_and_a_repeat_changes_nothing(office: Office) -> None:
    order_id = await office.place("S-1")
    await office.initiated(order_id, "yk-1")
    office.gateway.pays("yk-1", "pending")
    said = await office.notices.receive(GatewayNotice("payment.succeeded", "yk-1"))  # the body says succeeded
    assert (said.applied, said.gateway_status, await office.phase("yk-1")) == ("pending", "pending", Phase.INITIATED)
    office.gateway.pays("yk-1", "waiting_for_capture")
    said = await office.notices.receive(GatewayNotice("payment.canceled", "yk-1"))  # stale: the read stands
    assert (said.applied, said.phase, said.payment_id) == ("advanced", Phase.AUTHORIZED, "yk-1")
    again = await office.notices.receive(GatewayNotice("payment.waiting_for_capture", "yk-1"))
    assert again.applied == "duplicate" and not again.recorded
    assert notice_event_id("yk-1", "waiting_for_capture") == "notice:yk-1:waiting_for_capture"
    assert len(notice_event_id("y" * 500, "succeeded")) <= 128  # within payment_events.event_id


async def test_a_payment_is_ours_by_its_id_our_top_ups_gateway_id_or_its_metadata_and_never_another_orders(
    office: Office,
) -> None:
    first, second = await office.place("S-2"), await office.place("S-3")
    await office.initiated(first, "topup-a")
    await office.initiated(second, "topup-b")
    async with office.uow() as work:  # topup-a was made at the gateway and we heard its id
        row = GatewayPayment("topup-a", first, "top-up", office.shop.clock.now(), state="created", gateway_id="yk-a")
        await work.gateway_payments.add(row)
        await work.commit()
    office.gateway.pays("yk-a", "succeeded")
    assert (await office.notices.receive(GatewayNotice("payment.succeeded", "yk-a"))).payment_id == "topup-a"
    office.gateway.pays("yk-b", "succeeded", payment_id="topup-b", order_id=str(second))  # its answer was lost
    assert (await office.notices.receive(GatewayNotice("payment.succeeded", "yk-b"))).payment_id == "topup-b"
    assert await office.phase("topup-a") == await office.phase("topup-b") == Phase.CLEARED
    office.gateway.pays("yk-c", "succeeded", payment_id="topup-b", order_id=str(first))  # names ours on another order
    assert (await office.notices.receive(GatewayNotice("payment.succeeded", "yk-c"))).applied == "not_ours"
    office.gateway.pays("yk-d", "succeeded")  # never told of: nothing to belong to
    assert (await office.notices.receive(GatewayNotice("payment.succeeded", "yk-d"))).applied == "not_ours"
    assert await office.phase("yk-d") is None
    assert (await office.notices.receive(GatewayNotice("payment.succeeded", "yk-zzz"))).applied == "not_at_gateway"
    assert (await office.notices.receive(GatewayNotice("deal.closed", "yk-a"))).applied == "other_event"


async def test_a_refund_is_recorded_only_in_full_and_a_gateway_that_cannot_be_asked_records_nothing(
    office: Office,
) -> None:
    order_id = await office.place("S-4")
    await office.initiated(order_id, "yk-4")
    office.gateway.pays("yk-4", "succeeded")
    await office.notices.receive(GatewayNotice("payment.succeeded", "yk-4"))
    office.gateway.refunds["rf-1"] = GatewayRefund("rf-1", "yk-4", "pending")
    assert (await office.notices.receive(GatewayNotice("refund.succeeded", "rf-1"))).applied == "refund_not_done"
    office.gateway.refunds["rf-1"] = GatewayRefund("rf-1", "yk-4", "succeeded", Decimal("1000.00"), "RUB")
    office.gateway.pays("yk-4", "succeeded", refunded="1000.00")
    assert (await office.notices.receive(GatewayNotice("refund.succeeded", "rf-1"))).applied == "partial_refund"
    assert await office.phase("yk-4") == Phase.CLEARED

    office.gateway.refunds["rf-2"] = GatewayRefund("rf-2", "yk-4", "succeeded", Decimal("4000.00"), "RUB")
    office.gateway.pays("yk-4", "succeeded", refunded="5000.00")
    for down in ("down", "refusing"):
        setattr(office.gateway, down, True)
        with pytest.raises(GatewayUnavailable if down == "down" else GatewayRefused):
            await office.notices.receive(GatewayNotice("refund.succeeded", "rf-2"))
        setattr(office.gateway, down, False)
        assert await office.phase("yk-4") == Phase.CLEARED
    said = await office.notices.receive(GatewayNotice("refund.succeeded", "rf-2"))
    assert (said.applied, said.phase) == ("advanced", Phase.REFUNDED)
    late = await office.notices.receive(GatewayNotice("refund.succeeded", "rf-1"))  # the first refund's repeat
    assert late.applied == "duplicate"
