"""What became of Yandex Market orders (cancelled, delivered, returned), read by the real client from the emulator
over HTTP: the events, their reasons and times, paging, the cursor, the wire against the Market's spec, the errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulators.yandex_market import GET_ORDERS, GET_RETURNS, YandexMarketEmulator
from integrations.yandex_market import YandexMarketClient
from integrations.yandex_market_events import LOOK_BACK, OVERLAP
from tests.fakes import FakeClock
from tests.vendor_specs import YANDEX_MARKET as YANDEX_MARKET_SPEC
from tests.vendor_specs import VendorSpec
from workflows.channels import ChannelOrderEvent, ChannelRefused, ChannelUnavailable, OrderEventKind, ReportsOrderEvents

KEY = "ACMA:secret-api-key-0123456789:abcdef"
CAMPAIGN = 21_000_123
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ORDERS_PATH = "/v2/campaigns/{campaignId}/orders"
RETURNS_PATH = "/v2/campaigns/{campaignId}/returns"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def ym(clock: FakeClock) -> AsyncIterator[YandexMarketEmulator]:
    async with YandexMarketEmulator(KEY, CAMPAIGN, offers=["A-1", "A-2"], now=clock.now) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


@pytest.fixture
def market(ym: YandexMarketEmulator, http: httpx.AsyncClient, clock: FakeClock) -> YandexMarketClient:
    return YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN, clock=clock.now)


def placed(ym: YandexMarketEmulator, order_id: int, hours_ago: float = 48) -> int:
    ym.add_order(order_id, [("A-1", 1), ("A-2", 2)], created_at=NOW - hours_ago * HOUR)
    return order_id


def by_kind(events: tuple[ChannelOrderEvent, ...]) -> dict[OrderEventKind, list[str]]:
    kinds: dict[OrderEventKind, list[str]] = {}
    for event in events:
        kinds.setdefault(event.kind, []).append(event.external_id)
    return kinds


# -- the events --------------------------------------------------------------------------------------------------


async def test_cancelled_delivered_and_returned_orders_come_back_as_events(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    assert isinstance(market, ReportsOrderEvents)
    cancelled_at, delivered_at, returned_at = NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - HOUR
    ym.cancel_order(placed(ym, 1001), "USER_CHANGED_MIND", at=cancelled_at)
    ym.deliver(placed(ym, 1002), at=delivered_at)
    ym.deliver(placed(ym, 1003), at=NOW - 20 * HOUR)
    ym.return_(1003, "DOES_NOT_FIT", at=returned_at)
    placed(ym, 1004)  # still being packed: nothing to say
    ym.deliver(placed(ym, 1005), at=NOW - 10 * 24 * HOUR)  # long before the look-back

    page = await market.order_events(None, [])

    events = {(e.external_id, e.kind): e for e in page.events}
    assert set(events) == {
        ("1001", OrderEventKind.CANCELLED),
        ("1002", OrderEventKind.DELIVERED),
        ("1003", OrderEventKind.DELIVERED),
        ("1003", OrderEventKind.RETURNED),
    }
    cancelled = events["1001", OrderEventKind.CANCELLED]
    assert (cancelled.at, cancelled.reason) == (cancelled_at, "USER_CHANGED_MIND")
    assert events["1002", OrderEventKind.DELIVERED].at == delivered_at
    returned = events["1003", OrderEventKind.RETURNED]
    assert (returned.at, returned.reason) == (returned_at, "RETURN: DOES_NOT_FIT")
    assert datetime.fromisoformat(page.cursor) == NOW


async def test_the_event_names_the_order_as_new_orders_did(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.add_order(52_340_001, [("A-1", 1)])
    [order] = await market.new_orders()
    ym.cancel_order(52_340_001, "SHOP_FAILED", at=NOW - timedelta(minutes=1))

    [event] = (await market.order_events(None, [])).events

    assert (event.external_id, event.kind, event.reason) == (order.external_id, OrderEventKind.CANCELLED, "SHOP_FAILED")


async def test_an_unredeemed_order_is_returned_and_a_withdrawn_return_is_not(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.cancel_order(placed(ym, 2001), "USER_REFUSED_DELIVERY", at=NOW - 2 * HOUR)
    ym.return_(2001, "", return_type="UNREDEEMED", at=NOW - HOUR)
    ym.deliver(placed(ym, 2002), at=NOW - 30 * HOUR)
    ym.return_(2002, "BAD_QUALITY", shipment_status="CANCELLED", refund_status="CANCELLED", at=NOW - HOUR)

    page = await market.order_events(None, [])

    assert by_kind(page.events) == {
        OrderEventKind.CANCELLED: ["2001"],
        OrderEventKind.DELIVERED: ["2002"],
        OrderEventKind.RETURNED: ["2001"],
    }
    assert [e.reason for e in page.events if e.kind is OrderEventKind.RETURNED] == ["UNREDEEMED"]


async def test_every_page_of_both_lists_is_read(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    for n in range(60):
        ym.cancel_order(placed(ym, 3000 + n), at=NOW - HOUR)
    ym.deliver(placed(ym, 4000), at=NOW - HOUR)
    for n in range(105):
        ym.return_(placed(ym, 5000 + n, hours_ago=300), at=NOW - HOUR)

    kinds = by_kind((await market.order_events(None, [])).events)

    assert kinds[OrderEventKind.CANCELLED] == [str(3000 + n) for n in range(60)]
    assert kinds[OrderEventKind.DELIVERED] == ["4000"]
    assert kinds[OrderEventKind.RETURNED] == [str(5000 + n) for n in range(105)]
    orders, returns = ym.calls_of(GET_ORDERS), ym.calls_of(GET_RETURNS)
    assert [len(c.query_values()) for c in orders] == [4, 5]  # the second with the page token
    assert orders[0].query_values()["status"] == ["CANCELLED", "DELIVERED"]
    assert [c.query["limit"] for c in returns] == ["100", "100"]
    assert "page_token" in returns[1].query


# -- the cursor --------------------------------------------------------------------------------------------------


async def test_the_cursor_moves_on_and_loses_nothing_made_after_it(
    ym: YandexMarketEmulator, market: YandexMarketClient, clock: FakeClock
) -> None:
    ym.cancel_order(placed(ym, 1), at=NOW - HOUR)
    first = await market.order_events(None, [])
    clock.advance(hours=1)
    ym.deliver(placed(ym, 2), at=NOW + HOUR / 2)
    ym.return_(placed(ym, 3), at=NOW + HOUR / 4)
    # a change the Market records late, stamped a little before the cursor: the overlap reads it again
    ym.cancel_order(placed(ym, 4), "USER_UNREACHABLE", at=NOW - OVERLAP / 2)
    ym.cancel_order(placed(ym, 5), at=NOW - 2 * OVERLAP)  # before the overlap: the first read had its chance

    second = await market.order_events(first.cursor, [])

    assert by_kind(first.events) == {OrderEventKind.CANCELLED: ["1"]}
    assert by_kind(second.events) == {
        OrderEventKind.CANCELLED: ["4"],
        OrderEventKind.DELIVERED: ["2"],
        OrderEventKind.RETURNED: ["3"],
    }
    assert datetime.fromisoformat(second.cursor) == NOW + HOUR > datetime.fromisoformat(first.cursor)
    query = ym.calls_of(GET_ORDERS)[-1].query
    assert datetime.fromisoformat(query["updatedAtFrom"]) == NOW - OVERLAP
    assert datetime.fromisoformat(query["updatedAtTo"]) == NOW + HOUR


async def test_without_a_usable_cursor_the_look_back_is_read(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.cancel_order(placed(ym, 1, hours_ago=200), at=NOW - LOOK_BACK + HOUR)
    ym.cancel_order(placed(ym, 2, hours_ago=200), at=NOW - LOOK_BACK - HOUR)

    fresh = await market.order_events(None, [])
    garbled = await market.order_events("yesterday", [])

    assert [e.external_id for e in fresh.events] == ["1"]
    assert garbled.events == fresh.events


async def test_after_a_long_pause_only_the_markets_30_days_are_asked(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.cancel_order(placed(ym, 1, hours_ago=1000), at=NOW - timedelta(days=29))

    page = await market.order_events((NOW - timedelta(days=90)).isoformat(), [])

    assert by_kind(page.events) == {OrderEventKind.CANCELLED: ["1"]}
    query = ym.calls_of(GET_ORDERS)[0].query
    assert datetime.fromisoformat(query["updatedAtTo"]) - datetime.fromisoformat(query["updatedAtFrom"]) == timedelta(
        days=30
    )


# -- the wire ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(YANDEX_MARKET_SPEC)


async def test_requests_and_answers_follow_the_vendor_spec(
    spec: VendorSpec, ym: YandexMarketEmulator, market: YandexMarketClient, http: httpx.AsyncClient
) -> None:
    ym.cancel_order(placed(ym, 1), at=NOW - HOUR)
    ym.deliver(placed(ym, 2), at=NOW - 30 * HOUR)
    ym.return_(2, "BAD_QUALITY", at=NOW - HOUR)
    ym.return_(placed(ym, 3), "", return_type="UNREDEEMED", at=NOW - HOUR)

    await market.order_events(None, [])

    [orders] = ym.calls_of(GET_ORDERS)
    [returns] = ym.calls_of(GET_RETURNS)
    assert spec.query_problems(ORDERS_PATH, "get", orders.query_values()) == []
    assert spec.query_problems(RETURNS_PATH, "get", returns.query_values()) == []
    for path, call in ((ORDERS_PATH, orders), (RETURNS_PATH, returns)):
        answer = await http.get(f"{ym.base_url.rstrip('/')}{call.path}", params=call.pairs, headers={"Api-Key": KEY})
        assert answer.status_code == 200, path
        assert spec.response_problems(path, "get", 200, answer.json()) == [], path
    assert len(answer.json()["result"]["returns"]) == 2


def test_the_query_check_reports_what_the_spec_forbids(spec: VendorSpec) -> None:
    wrong = {"status": ["CANCELED"], "updatedAtFrom": ["21-11-2026"], "limit": ["many"], "since": ["x"]}

    problems = spec.query_problems(ORDERS_PATH, "get", wrong)

    assert problems[0].startswith("?status[0]: 'CANCELED' is not one of ['PLACING'")
    assert problems[1:] == [
        "?updatedAtFrom: '21-11-2026' is not a 'date-time'",
        "?limit: 'many' is not of type 'integer'",
        "?since: not among the query parameters the spec declares",
    ]


async def test_the_emulator_refuses_what_the_spec_forbids(ym: YandexMarketEmulator, http: httpx.AsyncClient) -> None:
    base, key = f"{ym.base_url}v2/campaigns/{CAMPAIGN}", {"Api-Key": KEY}
    wide = {"updatedAtFrom": "2026-10-01T00:00:00+03:00", "updatedAtTo": "2026-11-21T00:00:00+03:00"}
    refused = [
        await http.get(f"{base}/orders", params=wide, headers=key),
        await http.get(f"{base}/orders", params={"updatedAtFrom": "2026-11-21T00:00:00"}, headers=key),
        await http.get(f"{base}/returns", params={"fromDate": "21-11-2026"}, headers=key),
        await http.get(f"{base}/returns", params={"type": "LOST"}, headers=key),
    ]

    assert [r.status_code for r in refused] == [400] * 4
    assert all(r.json()["status"] == "ERROR" for r in refused)
    ym.cancel_order(placed(ym, 1))
    with pytest.raises(ValueError, match="already cancelled"):
        ym.cancel_order(1)


@pytest.mark.parametrize(
    ("steer", "error"),
    [
        (lambda ym: ym.refuse(GET_RETURNS), ChannelUnavailable),
        (lambda ym: ym.fail_with(503), ChannelUnavailable),
        (lambda ym: ym.fail_with(400), ChannelRefused),
        (lambda ym: ym.fail_with(403), ChannelRefused),
    ],
)
async def test_a_420_or_5xx_is_unavailable_and_a_4xx_refused(
    ym: YandexMarketEmulator,
    market: YandexMarketClient,
    steer: Callable[[YandexMarketEmulator], None],
    error: type[Exception],
) -> None:
    steer(ym)

    with pytest.raises(error):
        await market.order_events(None, [])
