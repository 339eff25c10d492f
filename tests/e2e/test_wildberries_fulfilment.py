"""Wildberries' FBS flow (``workflows.channels.FulfilsOrders``): the real client over HTTP against the emulator, an
order into an open supply of ours and an unfillable one cancelled, each request checked against WB's spec.

Time is a fake monotonic clock shared by the client's rate gates and the emulator's token buckets; nothing waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emulators.wildberries import (
    CANCEL_ORDER_PATH,
    ORDER_STATUSES_PATH,
    SUPPLIES_PATH,
    SUPPLY_ORDERS_PATH,
    SUPPLY_PATH,
    WildberriesEmulator,
)
from integrations.rate_gate import RateGate
from integrations.wildberries import WildberriesClient
from tests.vendor_specs import WILDBERRIES_ORDERS_FBS, VendorSpec
from workflows.channels import (
    ChannelOrderEvent,
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    FulfilsOrders,
    OrderEventKind,
)

TOKEN = "eyJhbGciOiJFUzI1NiJ9.fulfilment-seller-token.sig"
WAREHOUSE = 658434
MUG, MUG_CHRT = "MUG-7", 1001
CARDS: list[dict[str, Any]] = [{"vendorCode": MUG, "sizes": [{"chrtId": MUG_CHRT, "techSize": "0"}]}]
TODAY = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OUR_NAME = "storeops 2026-12-03"
LINES = (ChannelOrderLine(MUG, 1),)


class FakeMonotonic:
    """Monotonic seconds moved by the test and by the gates' sleep."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + 1e-6


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
async def wb(monotonic: FakeMonotonic) -> AsyncIterator[WildberriesEmulator]:
    async with WildberriesEmulator(
        token=TOKEN, warehouses={WAREHOUSE: "Склад Тверская"}, cards=CARDS, clock=monotonic
    ) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


MakeClient = Callable[..., WildberriesClient]


@pytest.fixture
def make_client(wb: WildberriesEmulator, http: httpx.AsyncClient, monotonic: FakeMonotonic) -> MakeClient:
    def make(*, token: str = TOKEN) -> WildberriesClient:
        def gate(per_minute: float, burst: int) -> RateGate:
            return RateGate(per_minute, burst, clock=monotonic, sleep=monotonic.sleep)

        return WildberriesClient(
            http,
            token=token,
            marketplace_base=wb.base_url,
            content_base=wb.base_url,
            warehouse_id=WAREHOUSE,
            gate=gate(300, 20),
            orders_gate=gate(300, 20),
            content_gate=gate(100, 5),
            cancel_gate=gate(100, 20),
            clock=lambda: TODAY,
        )

    return make


@pytest.fixture
def wildberries(make_client: MakeClient) -> WildberriesClient:
    return make_client()


def order(wb: WildberriesEmulator, order_id: int) -> str:
    wb.add_order(MUG_CHRT, order_id=order_id)
    return str(order_id)


def calls(wb: WildberriesEmulator, method: str, path_prefix: str) -> list[Any]:
    return [call for call in wb.calls(path_prefix) if call.method == method]


def adds(wb: WildberriesEmulator) -> list[Any]:
    return [call for call in calls(wb, "PATCH", "/api/marketplace/v3/supplies/") if call.path.endswith("/orders")]


# -- ready to ship: the open supply ----------------------------------------------------------------------------


async def test_ready_to_ship_opens_one_supply_and_adds_each_order_once(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    assert isinstance(wildberries, FulfilsOrders)
    first, second = order(wb, 13833711), order(wb, 13833712)

    await wildberries.ready_to_ship(first, LINES)
    await wildberries.ready_to_ship(second, LINES)
    await wildberries.ready_to_ship(first, LINES)  # a retry after a lost answer

    [supply] = wb.supplies()
    assert (supply["name"], supply["done"], supply["orders"]) == (OUR_NAME, False, [13833711, 13833712])
    assert wb.order_status(13833711) == wb.order_status(13833712) == ("confirm", "waiting")
    assert len(calls(wb, "POST", SUPPLIES_PATH)) == 1
    assert len(calls(wb, "GET", SUPPLIES_PATH)) == 1  # listed once, then remembered
    assert [call.body for call in adds(wb)] == [{"orders": [13833711]}, {"orders": [13833712]}]
    assert wildberries.fulfilment.supply_id == supply["id"]
    assert not [call for call in wb.received if call.path.endswith("/deliver")]  # closing is the staff's
    assert await wildberries.new_orders() == []


async def test_an_open_supply_of_ours_is_found_across_pages_and_others_are_left_alone(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    for number in range(1200):  # years of supplies handed over
        wb.desk.supplies[wb.open_supply(f"storeops old {number}")].done = True
    ours = wb.open_supply("storeops 2026-12-01")
    staffs = wb.open_supply("Поставка Иванова")

    await wildberries.ready_to_ship(order(wb, 13833711), LINES)

    assert {s["id"]: s["orders"] for s in wb.supplies() if s["orders"]} == {ours: [13833711]}
    assert not calls(wb, "POST", SUPPLIES_PATH) and staffs != ours
    assert [call.query for call in calls(wb, "GET", SUPPLIES_PATH)] == [
        {"limit": ["1000"], "next": ["0"]},
        {"limit": ["1000"], "next": [str(sorted(s.number for s in wb.desk.supplies.values())[999])]},
    ]


async def test_a_supply_the_staff_closed_is_replaced_by_a_new_one(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    await wildberries.ready_to_ship(order(wb, 13833711), LINES)
    closed = wildberries.fulfilment.supply_id
    assert closed is not None
    wb.close_supply(closed)  # the courier came: done in WB's cabinet

    await wildberries.ready_to_ship(order(wb, 13833712), LINES)
    await wildberries.ready_to_ship("13833711", LINES)  # handed over: further on, a success

    fresh = wildberries.fulfilment.supply_id
    assert fresh not in (None, closed)
    assert {s["id"]: (s["done"], s["orders"]) for s in wb.supplies()} == {
        closed: (True, [13833711]),
        fresh: (False, [13833712]),
    }
    assert wb.order_status(13833711) == ("complete", "waiting")
    assert wb.order_status(13833712) == ("confirm", "waiting")
    assert [call.status for call in adds(wb)] == [204, 409, 204]
    assert [call.status for call in calls(wb, "GET", f"/api/v3/supplies/{closed}")] == [200]


async def test_two_orders_at_once_open_a_single_supply(wb: WildberriesEmulator, wildberries: WildberriesClient) -> None:
    await asyncio.gather(*(wildberries.ready_to_ship(order(wb, 13833711 + n), LINES) for n in range(3)))
    [supply] = wb.supplies()
    assert sorted(supply["orders"]) == [13833711, 13833712, 13833713]


async def test_an_order_already_in_a_supply_or_cancelled_is_not_moved(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    staffs = wb.open_supply("Поставка Иванова")
    wb.desk.add_orders(staffs, {"orders": [int(order(wb, 13833711))]})
    wb.cancel_order(int(order(wb, 13833712)))

    await wildberries.ready_to_ship("13833711", LINES)
    with pytest.raises(ChannelRefused, match="13833712 cannot ship, it is cancelled"):
        await wildberries.ready_to_ship("13833712", LINES)
    with pytest.raises(ChannelRefused, match="no assembly order 13833799"):
        await wildberries.ready_to_ship("13833799", LINES)
    with pytest.raises(ChannelRefused, match="not a Wildberries order id"):
        await wildberries.ready_to_ship("site-42", LINES)

    assert {s["id"]: s["orders"] for s in wb.supplies()} == {staffs: [13833711]}
    assert adds(wb) == [] and calls(wb, "POST", SUPPLIES_PATH) == []
    assert not [call for call in wb.received if "site-42" in call.path]


async def test_an_order_the_supply_will_not_take_is_refused_with_wbs_words(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    await wildberries.ready_to_ship(order(wb, 13833711), LINES)
    wb.seller.placed[int(order(wb, 13833712))]["cargoType"] = 2  # oversized: not into a supply of small goods

    with pytest.raises(ChannelRefused, match="HTTP 409: FailedToAddSupplyOrder: Не удалось закрепить") as refused:
        await wildberries.ready_to_ship("13833712", LINES)

    assert TOKEN not in str(refused.value)
    assert wb.order_status(13833712) == ("new", "waiting")
    assert len(wb.supplies()) == 1


# -- cancel unfillable -----------------------------------------------------------------------------------------


async def test_cancel_unfillable_cancels_once_and_a_repeat_is_a_success(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    in_supply, new = order(wb, 13833711), order(wb, 13833712)
    await wildberries.ready_to_ship(in_supply, LINES)

    await wildberries.cancel_unfillable(in_supply)
    await wildberries.cancel_unfillable(new)
    await wildberries.cancel_unfillable(new)  # a retry after a lost answer

    assert wb.order_status(13833711) == wb.order_status(13833712) == ("cancel", "waiting")
    assert [s["orders"] for s in wb.supplies()] == [[]]  # a cancelled order leaves its supply
    assert [(c.path, c.status) for c in calls(wb, "PATCH", "/api/v3/orders/")] == [
        ("/api/v3/orders/13833711/cancel", 204),
        ("/api/v3/orders/13833712/cancel", 204),
        ("/api/v3/orders/13833712/cancel", 409),
    ]
    page = await wildberries.order_events(None, [in_supply, new])
    assert set(page.events) == {
        ChannelOrderEvent(in_supply, OrderEventKind.CANCELLED, TODAY, "supplierStatus cancel"),
        ChannelOrderEvent(new, OrderEventKind.CANCELLED, TODAY, "supplierStatus cancel"),
    }


async def test_an_order_wb_cancelled_is_a_success_one_handed_over_is_refused(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    wb.cancel_order(int(order(wb, 13833711)), "declined_by_client")
    await wildberries.cancel_unfillable("13833711")
    assert wb.order_status(13833711) == ("new", "declined_by_client")

    await wildberries.ready_to_ship(order(wb, 13833712), LINES)
    supply = wildberries.fulfilment.supply_id
    assert supply is not None
    wb.close_supply(supply)
    with pytest.raises(ChannelRefused, match="HTTP 409: StatusChangeNotAllowed"):
        await wildberries.cancel_unfillable("13833712")
    with pytest.raises(ChannelRefused, match="HTTP 404: NotFound"):
        await wildberries.cancel_unfillable("13833799")
    assert wb.order_status(13833712) == ("complete", "waiting")


# -- errors ----------------------------------------------------------------------------------------------------


async def test_wbs_errors_map_to_channel_errors_without_the_token(
    wb: WildberriesEmulator, wildberries: WildberriesClient, make_client: MakeClient
) -> None:
    first = order(wb, 13833711)
    wb.force_rate_limit(retry_after=7, group="orders")
    with pytest.raises(ChannelUnavailable) as limited:
        await wildberries.ready_to_ship(first, LINES)
    assert limited.value.retry_after == 7
    wb.force_rate_limit(retry_after=9, group="cancel")
    with pytest.raises(ChannelUnavailable) as limited:
        await wildberries.cancel_unfillable(first)
    assert limited.value.retry_after == 9
    wb.fail_with(503)
    for move in (wildberries.ready_to_ship(first, LINES), wildberries.cancel_unfillable(first)):
        with pytest.raises(ChannelUnavailable, match="HTTP 503"):
            await move
    wb.fail_with(403)
    with pytest.raises(ChannelRefused, match="HTTP 403"):
        await wildberries.cancel_unfillable(first)
    wb.recover()
    stranger = make_client(token="wrong-token")
    for move in (stranger.ready_to_ship(first, LINES), stranger.cancel_unfillable(first)):
        with pytest.raises(ChannelRefused, match="HTTP 401") as refused:
            await move
        assert "wrong-token" not in str(refused.value) and TOKEN not in str(refused.value)
    assert wb.order_status(13833711) == ("new", "waiting") and wb.supplies() == []

    await wildberries.ready_to_ship(first, LINES)  # WB is back: the order goes in
    assert wb.order_status(13833711) == ("confirm", "waiting")


async def test_a_409_costs_ten_requests_of_the_orders_limit(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    await wildberries.ready_to_ship(order(wb, 13833711), LINES)
    wb.seller.placed[int(order(wb, 13833712))]["cargoType"] = 2
    before = wildberries.orders_gate._tokens
    with pytest.raises(ChannelRefused):
        await wildberries.ready_to_ship("13833712", LINES)
    # status, add (409: 10), status again, the supply: 13 tokens, as WB's bucket counts them
    assert before - wildberries.orders_gate._tokens == pytest.approx(13, abs=0.1)
    assert wb.buckets["orders"].tokens == pytest.approx(wildberries.orders_gate._tokens, abs=0.1)


# -- the wire against WB's spec --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orders_spec() -> VendorSpec:
    return VendorSpec(WILDBERRIES_ORDERS_FBS)


def spec_path(path: str) -> str:
    """The spec's path template of a request's path."""
    parts = path.split("/")
    if path.startswith("/api/marketplace/v3/supplies/"):
        return SUPPLY_ORDERS_PATH
    if path.startswith("/api/v3/supplies/"):
        return SUPPLY_PATH
    if path.startswith("/api/v3/orders/") and parts[-1] == "cancel":
        return CANCEL_ORDER_PATH
    return path


async def test_every_request_and_answer_matches_wbs_spec(
    orders_spec: VendorSpec,
    wb: WildberriesEmulator,
    wildberries: WildberriesClient,
    http: httpx.AsyncClient,
    monotonic: FakeMonotonic,
) -> None:
    await wildberries.ready_to_ship(order(wb, 13833711), LINES)
    wb.seller.placed[int(order(wb, 13833712))]["cargoType"] = 2
    with pytest.raises(ChannelRefused):
        await wildberries.ready_to_ship("13833712", LINES)
    await wildberries.cancel_unfillable("13833711")
    await wildberries.cancel_unfillable("13833711")
    with pytest.raises(ChannelRefused):
        await wildberries.cancel_unfillable("13833799")

    templates = {(call.method, spec_path(call.path)) for call in wb.received}
    assert templates == {
        ("POST", ORDER_STATUSES_PATH),
        ("GET", SUPPLIES_PATH),
        ("POST", SUPPLIES_PATH),
        ("PATCH", SUPPLY_ORDERS_PATH),
        ("GET", SUPPLY_PATH),
        ("PATCH", CANCEL_ORDER_PATH),
    }
    for call in wb.received:
        path = spec_path(call.path)
        if call.body is not None:
            assert orders_spec.request_problems(path, call.method, call.body) == [], call
        assert orders_spec.query_problems(path, call.method, call.query) == [], call
    assert [call.body for call in calls(wb, "POST", SUPPLIES_PATH)] == [{"name": OUR_NAME}]
    assert orders_spec.request_problems(SUPPLY_ORDERS_PATH, "patch", {"orders": list(range(101))}) != []

    answered = {call.status for call in wb.received}
    assert answered == {200, 201, 204, 404, 409}
    for call in list(wb.received):  # the answers with a body, asked again as they were (none of them changes WB)
        if call.status == 204 or (call.method == "POST" and call.path == SUPPLIES_PATH):
            continue
        monotonic.now += 60  # a full bucket: the limits are tested elsewhere
        url = wb.base_url.rstrip("/") + call.path
        response = await http.request(
            call.method, url, json=call.body, params=call.query, headers={"Authorization": TOKEN}
        )
        assert response.status_code == call.status
        problems = orders_spec.response_problems(spec_path(call.path), call.method, call.status, response.json())
        assert problems == [], call
    created = await http.post(wb.base_url.rstrip("/") + SUPPLIES_PATH, json={}, headers={"Authorization": TOKEN})
    assert orders_spec.response_problems(SUPPLIES_PATH, "post", 201, created.json()) == []
