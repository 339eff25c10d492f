"""Our orders into the managers' CRM and their cancellations back (``workflows.crm_orders``), on memory, SQLite
and PostgreSQL, with the CRM as a port double."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from tests.fakes import FakeClock
from workflows.channels import ChannelUnavailable
from workflows.crm import CrmOrder, CrmStatusChange
from workflows.crm_orders import CUSTOMER_CLAIM, CrmOrderSync, PushReport
from workflows.ledger import Ledger
from workflows.model import Customer, OrderStatus, ReservationState, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.outside import Refused
from workflows.ports import UnitOfWorkFactory


class FakeCrm:
    """The CRM port: what it was sent, its history of managers' status changes, and failures on demand.
    ``replay`` gives the whole history whatever the cursor, as a CRM that forgot where we were would."""

    name = "crm"

    def __init__(self) -> None:
        self.sent: list[CrmOrder] = []
        self.customers_made: list[Customer] = []  # a CRM that makes a customer each time it is asked
        self.asked = asyncio.Event()  # a customer was asked for
        self.hold: asyncio.Event | None = None  # set: the answer waits for it
        self.asked_since: list[int] = []
        self.history: list[CrmStatusChange] = []
        self.down: Exception | None = None
        self.replay = False

    async def customer_id(self, customer: Customer) -> int:
        if self.down is not None:
            raise self.down
        self.asked.set()
        await asyncio.sleep(0)  # a network call: concurrent runs interleave here
        if self.hold is not None:
            await self.hold.wait()
        self.customers_made.append(customer)
        return 500 + len(self.customers_made)

    async def upsert(self, order: CrmOrder) -> None:
        if self.down is not None:
            raise self.down
        self.sent.append(order)

    async def status_changes(self, since: int) -> tuple[list[CrmStatusChange], int]:
        self.asked_since.append(since)
        await asyncio.sleep(0)  # a network call: concurrent runs interleave here
        new = [c for c in self.history if self.replay or c.history_id > since]
        return new, max([since, *(c.history_id for c in new)])

    def manager_sets(self, order_id: int, status: str) -> None:
        self.history.append(CrmStatusChange(len(self.history) + 101, order_id, status, "new"))


@pytest.fixture
def crm() -> FakeCrm:
    return FakeCrm()


@pytest.fixture
def sync(uow: UnitOfWorkFactory, clock: FakeClock, crm: FakeCrm, desk: OrderDesk) -> CrmOrderSync:
    return CrmOrderSync(uow, clock, crm, desk, cancel_statuses={"cancel-other", "cancelled"})


async def _order(desk: OrderDesk, ledger: Ledger, clock: FakeClock, name: str = "A-1", qty: int = 2) -> int:
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 5)])
    intake = await desk.place(PlaceOrder("ozon", name, [LineRequest("IRON", qty)]))
    assert intake.order.id is not None
    return intake.order.id


async def test_a_new_order_is_sent_once_a_changed_one_again_an_unchanged_one_never(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock
) -> None:
    order_id = await _order(desk, ledger, clock)
    other_id = await _order(desk, ledger, clock, "A-2", 1)

    assert (await sync.push_changed()).sent == 2
    assert (await sync.push_changed()).sent == 0
    await desk.cancel(order_id, "client changed their mind")
    assert (await sync.push_changed()).sent == 1
    assert (await sync.push_changed()).sent == 0

    assert [(o.order_id, o.cancelled) for o in crm.sent] == [(order_id, False), (other_id, False), (order_id, True)]
    first = crm.sent[0]
    assert first.number == "ozon-A-1" and first.channel == "ozon" and first.status == OrderStatus.RESERVED
    assert [(line.sku, line.qty) for line in first.lines] == [("IRON", 2)]


async def test_a_failure_is_tried_again_after_the_backoff_and_not_before(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock, uow: UnitOfWorkFactory
) -> None:
    order_id = await _order(desk, ledger, clock)
    crm.down = ChannelUnavailable("RetailCRM answered HTTP 503")

    assert (await sync.push_changed()).failed == 1
    crm.down = Refused("RetailCRM refused the request: HTTP 400: Errors in the input parameters")
    clock.advance(seconds=29)
    assert (await sync.push_changed()).failed == 0  # still waiting
    clock.advance(seconds=1)
    assert (await sync.push_changed()).failed == 1  # the second try, refused: waits longer now
    async with uow(read_only=True) as work:
        export = await work.crm_exports.get(order_id)
    assert export is not None and export.attempts == 2 and export.sent_version is None
    assert export.last_error is not None and "Errors in the input parameters" in export.last_error

    crm.down = None
    clock.advance(seconds=59)
    assert (await sync.push_changed()).sent == 0
    clock.advance(seconds=1)
    assert (await sync.push_changed()).sent == 1
    assert [o.order_id for o in crm.sent] == [order_id]
    async with uow(read_only=True) as work:
        export = await work.crm_exports.get(order_id)
    assert export is not None and (export.attempts, export.last_error, export.next_attempt_at) == (0, None, None)


async def test_a_cancellation_in_the_crm_releases_the_stock_once(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock, uow: UnitOfWorkFactory
) -> None:
    order_id = await _order(desk, ledger, clock)
    await sync.push_changed()
    crm.manager_sets(order_id, "cancel-other")

    assert await sync.pull_statuses() == 1
    order = await desk.get(order_id)
    assert order.status == OrderStatus.CANCELLED
    assert (await ledger.stock("IRON")).reserved == 0
    async with uow(read_only=True) as work:
        assert await work.reservations.totals(ReservationState.RELEASED) == {("IRON", "online"): 2}
    history = [event.kind for event in order.history]

    crm.replay = True  # the same history once more
    assert await sync.pull_statuses() == 0
    again = await desk.get(order_id)
    assert [event.kind for event in again.history] == history
    assert history.count("cancelled") == 1 and history.count("crm_status") == 1
    assert (await sync.push_changed()).sent == 0  # the CRM cancelled it: nothing to tell it


async def test_another_status_goes_into_the_orders_history_in_words(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock
) -> None:
    order_id = await _order(desk, ledger, clock)
    crm.manager_sets(order_id, "assembling")
    crm.manager_sets(9999, "cancel-other")  # no such order of ours

    assert await sync.pull_statuses() == 1

    order = await desk.get(order_id)
    assert order.status == OrderStatus.RESERVED
    event = order.history[-1]
    assert event.kind == "crm_status" and event.detail["status"] == "assembling"
    assert event.detail["note"] == "Менеджер поставил в CRM статус «assembling» (был «new»)"
    assert event.detail["note_en"] == "A manager set the status «assembling» in the CRM (was «new»)"
    assert (await ledger.stock("IRON")).reserved == 2


async def test_the_cursor_survives_a_restart(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock, uow: UnitOfWorkFactory
) -> None:
    order_id = await _order(desk, ledger, clock)
    crm.manager_sets(order_id, "assembling")
    crm.manager_sets(order_id, "send-to-delivery")
    await sync.pull_statuses()

    restarted = CrmOrderSync(uow, clock, crm, desk)
    assert await restarted.pull_statuses() == 0
    assert crm.asked_since == [0, 102]


async def test_an_outage_stops_the_run_and_the_log_never_quotes_the_crms_words(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    await _order(desk, ledger, clock, "A-1")
    await _order(desk, ledger, clock, "A-2", 1)
    crm.down = ChannelUnavailable("RetailCRM answered HTTP 503")
    assert (await sync.push_changed()).failed == 1  # the second order is not even tried
    assert await sync.pull_statuses() == 0  # a history that cannot be read waits for the next run

    crm.down = Refused("RetailCRM refused the request: HTTP 400: email anna@example.ru is invalid")
    clock.advance(seconds=30)
    with caplog.at_level("INFO"):
        assert (await sync.push_changed()).failed == 2
    assert "crm: order" in caplog.text and "anna@example.ru" not in caplog.text


async def test_two_instances_reading_the_same_history_at_once_apply_it_once(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock, uow: UnitOfWorkFactory
) -> None:
    order_id = await _order(desk, ledger, clock)
    crm.manager_sets(order_id, "assembling")
    crm.manager_sets(order_id, "cancelled")
    other = CrmOrderSync(uow, clock, crm, desk)

    await asyncio.gather(sync.pull_statuses(), other.pull_statuses())

    order = await desk.get(order_id)
    kinds = [event.kind for event in order.history]
    assert kinds.count("cancelled") == 1 and kinds.count("crm_status") == 2
    assert (await ledger.stock("IRON")).reserved == 0
    async with uow(read_only=True) as work:
        assert await work.reservations.totals(ReservationState.RELEASED) == {("IRON", "online"): 2}
        assert await work.crm_exports.cursor() == 102


async def test_an_order_taken_from_the_crm_itself_is_not_sent_back(
    uow: UnitOfWorkFactory, clock: FakeClock, crm: FakeCrm, desk: OrderDesk, ledger: Ledger
) -> None:
    sync = CrmOrderSync(uow, clock, crm, desk, own_channels=["ozon"])  # as if ozon were the CRM's channel
    await _order(desk, ledger, clock)
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 5)])
    other = await desk.place(PlaceOrder("site", "S-1", [LineRequest("IRON", 1)]))

    assert (await sync.push_changed()).sent == 1
    assert [order.order_id for order in crm.sent] == [other.order.id]


async def _clients_order(desk: OrderDesk, ledger: Ledger, clock: FakeClock, name: str, phone: str) -> int:
    await ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 5)])
    placed = await desk.place(PlaceOrder("ozon", name, [LineRequest("IRON", 1)], Customer("Анна", phone)))
    assert placed.order.id is not None
    return placed.order.id


async def test_while_one_instance_makes_a_new_clients_customer_the_others_orders_of_that_client_wait(
    uow: UnitOfWorkFactory, clock: FakeClock, crm: FakeCrm, desk: OrderDesk, ledger: Ledger
) -> None:
    first = await _clients_order(desk, ledger, clock, "A-1", "+7 916 123-45-67")
    second = await _clients_order(desk, ledger, clock, "A-2", "8 (916) 123-45-67")
    one = CrmOrderSync(uow, clock, crm, desk, owner="one/1", batch=1)
    two = CrmOrderSync(uow, clock, crm, desk, owner="two/1")
    crm.hold = asyncio.Event()

    making = asyncio.create_task(one.push_changed())
    await asyncio.wait_for(crm.asked.wait(), 5)  # one is making the client's customer in the CRM
    assert await asyncio.wait_for(two.push_changed(), 5) == PushReport(sent=0, failed=0, waiting=2)
    crm.hold.set()
    assert await making == PushReport(sent=1)
    assert await two.push_changed() == PushReport(sent=1)

    assert len(crm.customers_made) == 1
    assert [(order.order_id, order.customer_id) for order in crm.sent] == [(first, 501), (second, 501)]


async def test_a_claim_left_by_an_instance_that_died_runs_out(
    uow: UnitOfWorkFactory, clock: FakeClock, crm: FakeCrm, desk: OrderDesk, ledger: Ledger
) -> None:
    order_id = await _clients_order(desk, ledger, clock, "A-1", "+7 916 123-45-67")
    dead = CrmOrderSync(uow, clock, crm, desk, owner="one/1")
    crm.down = ChannelUnavailable("RetailCRM did not answer")  # the claim is taken, the customer not made
    assert (await dead.push_changed()).failed == 1
    crm.down = None
    other = CrmOrderSync(uow, clock, crm, desk, owner="two/1")

    clock.advance(seconds=30)  # the order's retry is due, the claim still the dead instance's
    assert await other.push_changed() == PushReport(waiting=1)
    clock.advance(seconds=90)
    assert await other.push_changed() == PushReport(sent=1)
    assert len(crm.customers_made) == 1 and [order.order_id for order in crm.sent] == [order_id]


async def test_an_order_without_phone_or_email_names_no_customer(
    sync: CrmOrderSync, crm: FakeCrm, desk: OrderDesk, ledger: Ledger, clock: FakeClock
) -> None:
    await _order(desk, ledger, clock)
    assert (await sync.push_changed()).sent == 1
    assert crm.customers_made == [] and crm.sent[0].customer_id is None


async def test_a_clients_row_is_claimed_by_one_owner_at_a_time_and_kept_once_made(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    now, until = clock.now(), clock.now() + CUSTOMER_CLAIM
    later = until + timedelta(seconds=1)

    async def claim(owner: str, at: datetime) -> bool:
        async with uow() as work:
            taken = await work.crm_exports.claim_customer("phone:79161234567", owner, at, at + CUSTOMER_CLAIM)
            await work.commit()
        return taken

    assert [await claim("one/1", now), await claim("two/1", now), await claim("one/1", now)] == [True, False, True]
    assert await claim("two/1", later)  # one's claim ran out
    assert not await claim("one/1", later)
    async with uow() as work:
        assert await work.crm_exports.customer_id("phone:79161234567") is None
        await work.crm_exports.customer_made("phone:79161234567", 41, later)
        await work.commit()
    assert not await claim("two/1", later + CUSTOMER_CLAIM * 2)  # made: nothing left to claim
    async with uow(read_only=True) as work:
        assert await work.crm_exports.customer_id("phone:79161234567") == 41
        assert await work.crm_exports.customer_id("phone:79031234567") is None


async def test_finding_or_making_a_customer_gives_up_before_its_claim_could_run_out(
    uow: UnitOfWorkFactory, clock: FakeClock, crm: FakeCrm, desk: OrderDesk, ledger: Ledger
) -> None:
    await _clients_order(desk, ledger, clock, "A-1", "+7 916 123-45-67")
    sync = CrmOrderSync(uow, clock, crm, desk, customer_patience_s=0.05)
    crm.hold = asyncio.Event()  # the CRM never answers

    assert await asyncio.wait_for(sync.push_changed(), 5) == PushReport(failed=1)
    async with uow(read_only=True) as work:
        export = (await work.crm_exports.due(clock.now() + timedelta(minutes=1), 10))[0]
    assert export.last_error is not None and "within 0.05 s" in export.last_error
    crm.hold.set()
    clock.advance(seconds=30)
    assert await sync.push_changed() == PushReport(sent=1)  # its own claim: taken again at once
