"""Moving Yandex Market orders on (``FulfilsOrders``): the real client makes orders ready to ship and cancels them in
the emulator over HTTP — the state each call leaves, idempotence, what the order lists then say, the wire against the
Market's spec and the errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulators.yandex_market import GET_ORDER, UPDATE_ORDER_STATUS, YandexMarketEmulator
from integrations.yandex_market import YandexMarketClient
from tests.fakes import FakeClock
from tests.vendor_specs import YANDEX_MARKET as YANDEX_MARKET_SPEC
from tests.vendor_specs import VendorSpec
from workflows.channels import ChannelOrderLine, ChannelRefused, ChannelUnavailable, FulfilsOrders, OrderEventKind

KEY = "ACMA:secret-api-key-0123456789:abcdef"
CAMPAIGN = 21_000_123
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ORDER = 1001
LINES = (ChannelOrderLine("A-1", 1), ChannelOrderLine("A-2", 2))
STATUS_PATH = "/v2/campaigns/{campaignId}/orders/{orderId}/status"
ORDER_PATH = "/v2/campaigns/{campaignId}/orders/{orderId}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def ym(clock: FakeClock) -> AsyncIterator[YandexMarketEmulator]:
    async with YandexMarketEmulator(KEY, CAMPAIGN, offers=["A-1", "A-2"], now=clock.now) as emulator:
        emulator.add_order(ORDER, [("A-1", 1), ("A-2", 2)], created_at=NOW - 2 * HOUR)
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


@pytest.fixture
def market(ym: YandexMarketEmulator, http: httpx.AsyncClient, clock: FakeClock) -> YandexMarketClient:
    return YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN, clock=clock.now)


def state(ym: YandexMarketEmulator, order_id: int = ORDER) -> tuple[str, str]:
    order = ym.orders[order_id]
    return order.status, order.substatus


# -- ready to ship -----------------------------------------------------------------------------------------------


async def test_ready_to_ship_moves_the_order_and_it_leaves_the_new_orders(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    assert isinstance(market, FulfilsOrders)
    assert [order.external_id for order in await market.new_orders()] == [str(ORDER)]

    await market.ready_to_ship(str(ORDER), LINES)

    assert state(ym) == ("PROCESSING", "READY_TO_SHIP")
    assert await market.new_orders() == []
    [call] = ym.calls_of(UPDATE_ORDER_STATUS)
    assert (call.method, call.path) == ("PUT", f"/v2/campaigns/{CAMPAIGN}/orders/{ORDER}/status")
    assert call.body == {"order": {"status": "PROCESSING", "substatus": "READY_TO_SHIP"}}


async def test_ready_to_ship_twice_moves_once_without_an_error(
    ym: YandexMarketEmulator, market: YandexMarketClient, clock: FakeClock
) -> None:
    await market.ready_to_ship(str(ORDER), LINES)
    clock.advance(minutes=5)

    await market.ready_to_ship(str(ORDER), LINES)

    assert [c.status for c in ym.calls_of(UPDATE_ORDER_STATUS)] == [200, 400]  # refused, then read: already done
    assert [c.status for c in ym.calls_of(GET_ORDER)] == [200]
    assert state(ym) == ("PROCESSING", "READY_TO_SHIP")
    assert ym.orders[ORDER].updated_at == NOW  # changed once, by the first call


@pytest.mark.parametrize(
    ("status", "substatus"), [("PROCESSING", "SHIPPED"), ("DELIVERY", "DELIVERY_SERVICE_RECEIVED")]
)
async def test_an_order_shipped_or_further_on_is_a_success(
    ym: YandexMarketEmulator, market: YandexMarketClient, status: str, substatus: str
) -> None:
    ym.orders[ORDER].status, ym.orders[ORDER].substatus = status, substatus

    await market.ready_to_ship(str(ORDER), LINES)

    assert state(ym) == (status, substatus)


async def test_a_cancelled_order_is_not_ready_to_ship_and_the_refusal_is_the_markets(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.cancel_order(ORDER, "USER_CHANGED_MIND")

    with pytest.raises(ChannelRefused, match="ORDER_IN_TERMINAL_STATE") as refused:
        await market.ready_to_ship(str(ORDER), LINES)

    assert "HTTP 400" in str(refused.value)
    assert KEY not in str(refused.value)
    assert state(ym) == ("CANCELLED", "USER_CHANGED_MIND")


async def test_an_unknown_order_or_an_id_that_is_none_is_refused(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    with pytest.raises(ChannelRefused, match="ORDER_NOT_FOUND"):
        await market.ready_to_ship("999", LINES)
    for wrong in ("", "12/../../offers", "-5", "1e3", str(2**63)):
        with pytest.raises(ChannelRefused, match="not a Yandex Market order id"):
            await market.cancel_unfillable(wrong)

    assert len(ym.calls) == 1  # only the unknown order went out


# -- cancel unfillable -------------------------------------------------------------------------------------------


async def test_cancel_unfillable_cancels_as_shop_failed_and_the_events_say_so(
    ym: YandexMarketEmulator, market: YandexMarketClient, clock: FakeClock
) -> None:
    await market.cancel_unfillable(str(ORDER))
    clock.advance(minutes=1)  # the events are read a little later (getOrders leaves out updatedAtTo itself)

    [call] = ym.calls_of(UPDATE_ORDER_STATUS)
    assert call.body == {"order": {"status": "CANCELLED", "substatus": "SHOP_FAILED"}}
    assert state(ym) == ("CANCELLED", "SHOP_FAILED")
    assert await market.new_orders() == []
    events = (await market.order_events(None, [])).events
    assert [(e.external_id, e.kind, e.reason) for e in events] == [
        (str(ORDER), OrderEventKind.CANCELLED, "SHOP_FAILED")
    ]


async def test_cancel_unfillable_twice_cancels_once_without_an_error(
    ym: YandexMarketEmulator, market: YandexMarketClient, clock: FakeClock
) -> None:
    await market.cancel_unfillable(str(ORDER))
    clock.advance(minutes=5)

    await market.cancel_unfillable(str(ORDER))

    assert [c.status for c in ym.calls_of(UPDATE_ORDER_STATUS)] == [200, 400]
    assert state(ym) == ("CANCELLED", "SHOP_FAILED")
    assert ym.orders[ORDER].updated_at == NOW


async def test_an_order_ready_to_ship_can_still_be_cancelled(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    await market.ready_to_ship(str(ORDER), LINES)

    await market.cancel_unfillable(str(ORDER))

    assert state(ym) == ("CANCELLED", "SHOP_FAILED")


async def test_a_delivered_order_is_not_cancelled(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    ym.deliver(ORDER)

    with pytest.raises(ChannelRefused, match="ORDER_IN_TERMINAL_STATE"):
        await market.cancel_unfillable(str(ORDER))

    assert state(ym)[0] == "DELIVERED"


# -- the wire ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(YANDEX_MARKET_SPEC)


async def test_requests_and_answers_follow_the_vendor_spec(
    spec: VendorSpec, ym: YandexMarketEmulator, market: YandexMarketClient, http: httpx.AsyncClient
) -> None:
    ym.add_order(1002, [("A-1", 1)])
    await market.ready_to_ship(str(ORDER), LINES)
    await market.ready_to_ship(str(ORDER), LINES)  # refused, then read back
    await market.cancel_unfillable("1002")

    calls = ym.calls_of(UPDATE_ORDER_STATUS)
    assert [c.status for c in calls] == [200, 400, 200]
    for call in calls:
        assert spec.request_problems(STATUS_PATH, "put", call.body) == [], call.body
    base, key = f"{ym.base_url}v2/campaigns/{CAMPAIGN}", {"Api-Key": KEY}
    ym.add_order(1003, [("A-2", 1)])
    moved = await http.put(f"{base}/orders/1003/status", json=calls[0].body, headers=key)
    read = await http.get(f"{base}/orders/{ORDER}", headers=key)
    refused = await http.put(f"{base}/orders/{ORDER}/status", json=calls[0].body, headers=key)
    assert (moved.status_code, read.status_code, refused.status_code) == (200, 200, 400)
    assert spec.response_problems(STATUS_PATH, "put", 200, moved.json()) == []
    assert spec.response_problems(ORDER_PATH, "get", 200, read.json()) == []
    assert spec.response_problems(STATUS_PATH, "put", 400, refused.json()) == []
    assert read.json()["order"]["substatus"] == "READY_TO_SHIP"


@pytest.mark.parametrize("move", ["ship", "cancel"])
@pytest.mark.parametrize(
    ("steer", "error"),
    [
        (lambda ym: ym.refuse(UPDATE_ORDER_STATUS), ChannelUnavailable),
        (lambda ym: ym.fail_with(503), ChannelUnavailable),
        (lambda ym: ym.fail_with(403), ChannelRefused),
    ],
    ids=["420", "503", "403"],
)
async def test_a_420_or_5xx_is_unavailable_a_4xx_refused_and_nothing_moves(
    ym: YandexMarketEmulator,
    market: YandexMarketClient,
    move: str,
    steer: Callable[[YandexMarketEmulator], None],
    error: type[Exception],
) -> None:
    steer(ym)

    moving = market.ready_to_ship(str(ORDER), LINES) if move == "ship" else market.cancel_unfillable(str(ORDER))
    with pytest.raises(error) as raised:
        await moving

    assert KEY not in str(raised.value)
    assert state(ym) == ("PROCESSING", "STARTED")
    assert [c.operation for c in ym.calls] == [UPDATE_ORDER_STATUS]  # no read-back after anything but a 400


async def test_a_wrong_key_is_refused_without_showing_it(
    ym: YandexMarketEmulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    wrong = YandexMarketClient(http, api_key="wrong-key-123", base=ym.base_url, campaign_id=CAMPAIGN, clock=clock.now)

    with pytest.raises(ChannelRefused) as refused:
        await wrong.cancel_unfillable(str(ORDER))

    assert "403" in str(refused.value)
    assert "wrong-key-123" not in str(refused.value)
    assert state(ym) == ("PROCESSING", "STARTED")
