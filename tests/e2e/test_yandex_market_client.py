"""The Yandex Market client, on the real ``httpx.AsyncClient``, against the Market emulator over HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from emulators.yandex_market import GET_ORDERS, GET_STOCKS, UPDATE_STOCKS, YandexMarketEmulator
from integrations.rate_gate import RateGate
from integrations.yandex_market import SHOP_SKU, YandexMarketClient
from tests.fakes import FakeClock
from tests.vendor_specs import YANDEX_MARKET as YANDEX_MARKET_SPEC
from tests.vendor_specs import VendorSpec
from workflows.channels import ChannelOrderLine, ChannelRefused, ChannelUnavailable, StockLine

KEY = "ACMA:secret-api-key-0123456789:abcdef"
CAMPAIGN = 21_000_123
OFFERS = ["A-1", "A-2", "Куртка зимняя 48", "B 2\t3"]
CLIENT_TIMEOUT = 2.0


class Seconds:
    """A monotonic clock the test moves (the emulator's per-minute window)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSleep:
    """Sleeping moves a fake monotonic clock instead of waiting (for a RateGate)."""

    def __init__(self) -> None:
        self.now = self.slept = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


@pytest.fixture
async def ym(seconds: Seconds) -> AsyncIterator[YandexMarketEmulator]:
    async with YandexMarketEmulator(KEY, CAMPAIGN, offers=OFFERS, clock=seconds) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))


@pytest.fixture
def market(ym: YandexMarketEmulator, http: httpx.AsyncClient, clock: FakeClock) -> YandexMarketClient:
    return YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN, clock=clock.now)


def line(offer_id: str, qty: int, sku: str | None = None) -> StockLine:
    return StockLine(sku=sku or f"our-{offer_id}", offer_id=offer_id, qty=qty)


# -- push ------------------------------------------------------------------------------------------------------


async def test_a_push_is_taken_whole_with_counts_and_the_time_they_are_true(
    ym: YandexMarketEmulator, market: YandexMarketClient, clock: FakeClock
) -> None:
    outcome = await market.push_stock([line("A-1", 15), line("Куртка зимняя 48", 3), line("B 2\t3", 1)])

    assert outcome.accepted == ("our-A-1", "our-Куртка зимняя 48", "our-B 2\t3")
    assert outcome.rejected == {} and outcome.retry == ()
    entry = ym.stock("A-1")
    assert entry is not None and entry.count == 15
    assert entry.updated_at == clock.now()
    assert entry.stamp == "2026-11-21T09:00:00+00:00"
    assert ym.stock("Куртка зимняя 48") is not None
    [call] = ym.calls
    assert (call.method, call.path, call.status, call.key_ok) == (
        "PUT",
        f"/v2/campaigns/{CAMPAIGN}/offers/stocks",
        200,
        True,
    )


async def test_zero_is_sent_explicitly(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    await market.push_stock([line("A-1", 5)])
    await market.push_stock([line("A-1", 0), line("A-2", 0)])

    sent = ym.calls[-1].body["skus"]
    assert sent == [
        {"sku": "A-1", "items": [{"count": 0, "updatedAt": "2026-11-21T09:00:00+00:00"}]},
        {"sku": "A-2", "items": [{"count": 0, "updatedAt": "2026-11-21T09:00:00+00:00"}]},
    ]
    assert ym.stock("A-1").count == 0  # type: ignore[union-attr]


async def test_updated_at_keeps_the_clocks_offset(ym: YandexMarketEmulator, http: httpx.AsyncClient) -> None:
    moscow = datetime(2026, 11, 21, 12, 30, 5, tzinfo=timezone(timedelta(hours=3)))
    market = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN, clock=lambda: moscow)

    await market.push_stock([line("A-1", 2)])

    assert ym.calls[-1].body["skus"][0]["items"][0]["updatedAt"] == "2026-11-21T12:30:05+03:00"


async def test_a_naive_clock_is_refused_before_sending(ym: YandexMarketEmulator, http: httpx.AsyncClient) -> None:
    market = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN, clock=datetime.now)

    with pytest.raises(ValueError, match="timezone-aware"):
        await market.push_stock([line("A-1", 2)])
    assert ym.calls == []


async def test_bad_offer_ids_are_rejected_locally_and_the_rest_is_sent(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    lines = [
        line("A-1", 4),
        line("bad\nid", 1, sku="newline"),
        line("   ", 1, sku="blank"),
        line("x" * 256, 1, sku="too-long"),
        line(" A-2", 1, sku="padded"),
        line("Q-1", 2_000_000_001, sku="too-many"),
        line("Q-2", -1, sku="negative"),
    ]

    outcome = await market.push_stock(lines)

    assert outcome.accepted == ("our-A-1",)
    assert set(outcome.rejected) == {"newline", "blank", "too-long", "padded", "too-many", "negative"}
    assert "not a Yandex Market SKU" in outcome.rejected["newline"]
    assert "whitespace" in outcome.rejected["padded"]
    assert "outside 0..2000000000" in outcome.rejected["too-many"]
    assert [entry["sku"] for entry in ym.calls[-1].body["skus"]] == ["A-1"]


async def test_an_offer_twice_in_one_push_is_not_sent(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    outcome = await market.push_stock([line("A-1", 1, sku="one"), line("A-1", 2, sku="two"), line("A-2", 3)])

    assert outcome.accepted == ("our-A-2",)
    assert set(outcome.rejected) == {"one", "two"}
    assert [entry["sku"] for entry in ym.calls[-1].body["skus"]] == ["A-2"]


async def test_only_bad_lines_sends_nothing(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    outcome = await market.push_stock([line("", 1, sku="empty")])

    assert outcome.accepted == () and set(outcome.rejected) == {"empty"}
    assert ym.calls == []


async def test_more_than_2000_lines_is_a_value_error(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    with pytest.raises(ValueError, match="2000"):
        await market.push_stock([line(f"S-{n}", 1) for n in range(2001)])
    assert ym.calls == []


async def test_2000_lines_go_in_one_request(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    ym.add_offer(*(f"S-{n}" for n in range(2000)))

    outcome = await market.push_stock([line(f"S-{n}", n) for n in range(2000)])

    assert len(outcome.accepted) == 2000
    assert len(ym.calls) == 1 and len(ym.calls[0].body["skus"]) == 2000


async def test_offers_the_market_refuses_are_rejected_and_the_rest_sent_again(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    outcome = await market.push_stock([line("A-1", 4), line("NOT-LISTED", 2), line("A-2", 6)])

    assert outcome.accepted == ("our-A-1", "our-A-2")
    assert list(outcome.rejected) == ["our-NOT-LISTED"]
    assert outcome.rejected["our-NOT-LISTED"].startswith("OFFER_NOT_FOUND")
    assert [call.status for call in ym.calls] == [400, 200]  # the whole first request was refused
    assert ym.stock("A-1").count == 4 and ym.stock("NOT-LISTED") is None  # type: ignore[union-attr]


async def test_a_resend_that_fails_leaves_the_rest_for_later(http: httpx.AsyncClient, seconds: Seconds) -> None:
    async with YandexMarketEmulator(KEY, CAMPAIGN, offers=OFFERS, clock=seconds, skus_per_minute=2) as ym:
        market = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN)
        await market.push_stock([line("A-1", 1)])  # one of the minute's two skus

        outcome = await market.push_stock([line("A-1", 4), line("NOT-LISTED", 2), line("A-2", 6)])

    assert [call.status for call in ym.calls] == [200, 400, 420]
    assert list(outcome.rejected) == ["our-NOT-LISTED"]
    assert outcome.retry == ("our-A-1", "our-A-2") and outcome.accepted == ()


async def test_ten_concurrent_pushes_never_have_more_than_four_in_flight(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.add_offer(*(f"P-{n}" for n in range(10)))
    ym.hold()

    pushes = [asyncio.create_task(market.push_stock([line(f"P-{n}", n)])) for n in range(10)]
    async with asyncio.timeout(2):
        await ym.wait_in_flight(4)
    await asyncio.sleep(0.05)  # the tiny hold: a fifth request, if the client let one go, would arrive now
    assert ym.in_flight.now == 4
    ym.release()
    outcomes = await asyncio.gather(*pushes)

    assert ym.peak_in_flight == 4
    assert all(call.status == 200 for call in ym.calls) and len(ym.calls) == 10
    assert all(outcome.accepted == (f"our-P-{n}",) for n, outcome in enumerate(outcomes))


async def test_the_emulator_refuses_a_fifth_parallel_request(ym: YandexMarketEmulator, http: httpx.AsyncClient) -> None:
    ym.hold()
    url = f"{ym.base_url}v2/campaigns/{CAMPAIGN}/orders"
    held = [asyncio.create_task(http.get(url, headers={"Api-Key": KEY})) for _ in range(4)]
    async with asyncio.timeout(2):
        await ym.wait_in_flight(4)

    fifth = await http.get(url, headers={"Api-Key": KEY})
    ym.release()
    await asyncio.gather(*held)

    assert fifth.status_code == 420
    assert fifth.json() == {
        "status": "ERROR",
        "errors": [
            {
                "code": "REQUEST_LIMIT_EXCEEDED",
                "message": f"Hit rate limit of 4 parallel requests for campaignId {CAMPAIGN}",
            }
        ],
    }


async def test_a_forced_420_is_channel_unavailable_with_the_hint(
    ym: YandexMarketEmulator, http: httpx.AsyncClient
) -> None:
    paused = FakeSleep()
    gate = RateGate(per_minute=90_000, burst=10_000, clock=paused.clock, sleep=paused.sleep)
    market = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN, gate=gate)
    ym.refuse(UPDATE_STOCKS, retry_after=7)

    with pytest.raises(ChannelUnavailable) as caught:
        await market.push_stock([line("A-1", 1)])

    assert caught.value.retry_after == 7
    assert "REQUEST_LIMIT_EXCEEDED" in caught.value.reason
    assert ym.calls[-1].status == 420
    assert (await market.push_stock([line("A-1", 1)])).accepted == ("our-A-1",)
    assert paused.slept >= 7  # the gate kept the next push back for the hint, on the fake clock


async def test_a_420_without_a_hint_has_no_retry_after(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    ym.refuse(UPDATE_STOCKS)

    with pytest.raises(ChannelUnavailable) as caught:
        await market.push_stock([line("A-1", 1)])

    assert caught.value.retry_after is None


async def test_over_100k_skus_a_minute_is_refused_until_the_minute_passes(
    http: httpx.AsyncClient, seconds: Seconds
) -> None:
    async with YandexMarketEmulator(KEY, CAMPAIGN, offers=OFFERS, clock=seconds, skus_per_minute=3) as ym:
        market = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN)
        await market.push_stock([line("A-1", 1), line("A-2", 1)])
        with pytest.raises(ChannelUnavailable, match="skus per minute"):
            await market.push_stock([line("A-1", 2), line("A-2", 2)])
        seconds.now += 61
        assert (await market.push_stock([line("A-1", 2), line("A-2", 2)])).retry == ()
        assert ym.stock("A-1").count == 2  # type: ignore[union-attr]


async def test_a_wrong_key_is_refused(ym: YandexMarketEmulator, http: httpx.AsyncClient) -> None:
    market = YandexMarketClient(http, api_key="wrong", base=ym.base_url, campaign_id=CAMPAIGN)

    with pytest.raises(ChannelRefused, match="HTTP 403: FORBIDDEN"):
        await market.push_stock([line("A-1", 1)])
    with pytest.raises(ChannelRefused):
        await market.new_orders()
    assert [call.key_ok for call in ym.calls] == [False, False]


async def test_a_missing_key_is_401_and_another_campaign_404(ym: YandexMarketEmulator, http: httpx.AsyncClient) -> None:
    stocks = f"{ym.base_url}v2/campaigns/{CAMPAIGN}/offers/stocks"
    assert (await http.post(stocks)).status_code == 401
    other = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN + 1)
    with pytest.raises(ChannelRefused, match="CAMPAIGN_NOT_FOUND"):
        await other.read_stock([line("A-1", 0)])


async def test_a_503_is_channel_unavailable_until_the_market_recovers(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.fail_with(503)

    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await market.push_stock([line("A-1", 1)])
    with pytest.raises(ChannelUnavailable):
        await market.new_orders()
    ym.recover()
    assert (await market.push_stock([line("A-1", 1)])).accepted == ("our-A-1",)


async def test_no_answer_in_time_is_channel_unavailable(ym: YandexMarketEmulator) -> None:
    async with httpx.AsyncClient(timeout=0.05) as impatient:
        market = YandexMarketClient(impatient, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN)
        ym.hold()
        with pytest.raises(ChannelUnavailable, match="in time"):
            await market.push_stock([line("A-1", 1)])
        ym.release()


async def test_nothing_listening_is_channel_unavailable(http: httpx.AsyncClient) -> None:
    market = YandexMarketClient(http, api_key=KEY, base="http://127.0.0.1:9", campaign_id=CAMPAIGN)

    with pytest.raises(ChannelUnavailable, match="could not be reached"):
        await market.push_stock([line("A-1", 1)])


async def test_the_key_never_reaches_a_log_or_an_error(
    ym: YandexMarketEmulator, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    market = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN)
    await market.push_stock([line("A-1", 1), line("NOT-LISTED", 1)])
    ym.fail_with(500)
    with pytest.raises(ChannelUnavailable) as caught:
        await market.push_stock([line("A-1", 1)])

    assert KEY not in caplog.text
    assert KEY not in repr(market) and KEY not in str(caught.value)


# -- the wire against the spec ---------------------------------------------------------------------------------

STOCKS_PATH = "/v2/campaigns/{campaignId}/offers/stocks"
ORDERS_PATH = "/v2/campaigns/{campaignId}/orders"


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(YANDEX_MARKET_SPEC)  # openapi.yaml and the files it $refs, relative to each other


async def test_the_stock_push_and_read_match_the_specs_schema(
    spec: VendorSpec, ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    shop_sku = spec.schema(spec.component("ShopSku"))
    assert SHOP_SKU.pattern == shop_sku["pattern"].removeprefix("^").removesuffix("$")
    skus = spec.schema(spec.component("UpdateStocksRequest"))["properties"]["skus"]
    assert skus["maxItems"] == market.batch_limit == 2000

    await market.push_stock([line("A-1", 0), line("Куртка зимняя 48", 2_000_000_000)])
    await market.read_stock([line("A-1", 0), line("B 2\t3", 0)])

    [push] = ym.calls_of(UPDATE_STOCKS)
    assert spec.request_problems(STOCKS_PATH, "put", push.body) == []
    # a rule the spec states in words only: every sku once in a request
    assert len({entry["sku"] for entry in push.body["skus"]}) == len(push.body["skus"])
    [read] = ym.calls_of(GET_STOCKS)
    assert spec.request_problems(STOCKS_PATH, "post", read.body) == []


async def test_the_emulators_answers_match_the_spec(
    spec: VendorSpec, ym: YandexMarketEmulator, http: httpx.AsyncClient
) -> None:
    """Each answer, success or error, against the schema the spec gives that method for that status."""
    stocks = f"{ym.base_url}v2/campaigns/{CAMPAIGN}/offers/stocks"
    orders = f"{ym.base_url}v2/campaigns/{CAMPAIGN}/orders"
    key = {"Api-Key": KEY}
    push = {"skus": [{"sku": "A-1", "items": [{"count": 3, "updatedAt": "2026-11-21T12:00:00+03:00"}]}]}
    unknown = {"skus": [{"sku": "NOT-LISTED", "items": [{"count": 1}]}]}
    ym.add_order(90_001, [("A-1", 1), ("Куртка зимняя 48", 2)])
    answers = [
        (STOCKS_PATH, "put", await http.put(stocks, json=push, headers=key)),
        (STOCKS_PATH, "post", await http.post(stocks, params={"limit": "2"}, headers=key)),
        (STOCKS_PATH, "post", await http.post(stocks, json={"offerIds": ["A-1", "A-2"]}, headers=key)),
        (ORDERS_PATH, "get", await http.get(orders, headers=key)),
        (STOCKS_PATH, "put", await http.put(stocks, json=unknown, headers=key)),
        (STOCKS_PATH, "put", await http.put(stocks, json=push)),
        (STOCKS_PATH, "put", await http.put(stocks, json=push, headers={"Api-Key": "wrong"})),
        (ORDERS_PATH, "get", await http.get(orders.replace(str(CAMPAIGN), str(CAMPAIGN + 1)), headers=key)),
    ]
    ym.refuse(UPDATE_STOCKS)
    answers.append((STOCKS_PATH, "put", await http.put(stocks, json=push, headers=key)))
    ym.fail_with(500)
    answers.append((ORDERS_PATH, "get", await http.get(orders, headers=key)))

    assert [response.status_code for *_, response in answers] == [200, 200, 200, 200, 400, 401, 403, 404, 420, 500]
    assert answers[1][-1].json()["result"]["paging"]["nextPageToken"]
    assert answers[3][-1].json()["orders"][0]["id"] == 90_001
    for path, method, response in answers:
        problems = spec.response_problems(path, method, response.status_code, response.json())
        assert problems == [], (method, path, response.status_code)


async def test_the_emulator_refuses_what_the_spec_forbids(
    spec: VendorSpec, ym: YandexMarketEmulator, http: httpx.AsyncClient
) -> None:
    stocks = f"{ym.base_url}v2/campaigns/{CAMPAIGN}/offers/stocks"
    item = {"count": 1, "updatedAt": "2026-11-21T12:00:00+03:00"}
    repeated = {"skus": [{"sku": "A-1", "items": [item]}, {"sku": " A-1 ", "items": [item]}]}
    cases = [
        {"skus": []},
        {"skus": [{"sku": f"S-{n}", "items": [item]} for n in range(2001)]},
        {"skus": [{"sku": "A-1", "items": [item, item]}]},
        {"skus": [{"sku": "A-1", "items": []}]},
        {"skus": [{"sku": "A-1", "items": [{"count": 2_000_000_001}]}]},
        {"skus": [{"sku": "A-1", "items": [{"count": -1}]}]},
        {"skus": [{"sku": "A-1", "items": [{"count": 1, "updatedAt": "2026-11-21T12:00:00"}]}]},
        repeated,
        {"skus": [{"sku": "a\x01b", "items": [item]}]},
    ]
    for body in cases:
        response = await http.put(stocks, json=body, headers={"Api-Key": KEY})
        assert response.status_code == 400, body
        assert response.json()["status"] == "ERROR" and response.json()["errors"][0]["code"]
        # the spec's schema forbids each too, but the repeated sku (unique by the spec's words only)
        assert (spec.request_problems(STOCKS_PATH, "put", body) == []) == (body is repeated), body
    bad_json = await http.put(stocks, content=b"{not json", headers={"Api-Key": KEY})
    assert bad_json.status_code == 400
    assert ym.stocks == {}

    legacy = await http.put(
        f"{ym.base_url}campaigns/{CAMPAIGN}/offers/stocks",
        json={"skus": [{"sku": "A-1", "items": [{"count": 3}]}]},
        headers={"Api-Key": KEY},
    )
    assert legacy.json() == {"status": "OK"}
    assert ym.stock("A-1").count == 3 and ym.stock("A-1").stamp is None  # type: ignore[union-attr]


# -- stock back ------------------------------------------------------------------------------------------------


async def test_read_stock_asks_by_offer_ids_500_at_a_time(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    ym.add_offer(*(f"R-{n:04}" for n in range(700)))
    await market.push_stock([line(f"R-{n:04}", n) for n in range(600)])
    await market.push_stock([line("A-1", 0)])

    lines = [line(f"R-{n:04}", 0) for n in range(700)] + [line("A-1", 9), line("NOT-LISTED", 1), line("bad\n", 1)]
    shown = await market.read_stock(lines)

    assert shown["our-R-0007"] == 7 and shown["our-R-0599"] == 599
    assert shown["our-R-0650"] == 0  # listed, never given stock
    assert shown["our-A-1"] == 0  # zero is shown, not missing
    assert "our-NOT-LISTED" not in shown and "our-bad\n" not in shown
    reads = ym.calls_of(GET_STOCKS)
    assert [len(call.body["offerIds"]) for call in reads] == [500, 202]
    assert all(call.query == {} for call in reads)  # no page_token or limit with offerIds


async def test_listed_stock_pages_with_page_token(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    ym.add_offer(*(f"L-{n:03}" for n in range(246)))  # 250 offers in all: three pages of 100
    await market.push_stock([line("L-245", 8), line("A-2", 5)])

    listed = await market.listed_stock()

    assert len(listed) == 250
    assert listed["L-245"] == 8 and listed["A-2"] == 5 and listed["L-000"] == 0
    pages = ym.calls_of(GET_STOCKS)
    assert len(pages) == 3
    assert "page_token" not in pages[0].query and pages[1].query["page_token"] != pages[2].query["page_token"]
    assert all(page.query["limit"] == "100" for page in pages)


# -- orders ----------------------------------------------------------------------------------------------------


async def test_new_orders_are_the_ones_to_pack_every_page(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    placed = datetime(2026, 11, 21, 6, 15, 30, tzinfo=UTC)
    for n in range(1, 61):
        ym.add_order(90_000 + n, [("A-1", 1), ("Куртка зимняя 48", n)], created_at=placed)
    ym.add_order(80_001, [("A-1", 1)], substatus="READY_TO_SHIP")
    ym.add_order(80_002, [("A-1", 1)], status="UNPAID", substatus="WAITING_USER_INPUT")
    ym.add_order(80_003, [("A-1", 1)], status="CANCELLED", substatus="USER_CHANGED_MIND")
    ym.add_order(80_004, [("A-1", 1)], fake=True)

    orders = await market.new_orders()

    assert [order.external_id for order in orders] == [str(90_000 + n) for n in range(1, 61)]
    first = orders[0]
    assert first.lines == (ChannelOrderLine("A-1", 1), ChannelOrderLine("Куртка зимняя 48", 1))
    assert first.created_at == placed  # the Market writes Moscow time without an offset
    assert first.ship_by == datetime(2026, 11, 21, 21, 0, tzinfo=UTC)  # 22.11 (the next day) from 00:00 Moscow time
    calls = ym.calls_of(GET_ORDERS)
    assert len(calls) == 2
    assert calls[0].query == {"status": "PROCESSING", "substatus": "STARTED", "limit": "50"}
    assert "page_token" in calls[1].query


async def test_an_unreadable_order_is_skipped_and_logged(
    ym: YandexMarketEmulator, market: YandexMarketClient, caplog: pytest.LogCaptureFixture
) -> None:
    ym.add_order(1, [("A-1", 2)])
    ym.add_order(2, [])  # no items: nothing to pack
    orders = await market.new_orders()

    assert [order.external_id for order in orders] == ["1"]
    assert "could not be read (id=2)" in caplog.text


async def test_no_new_orders_is_an_empty_list(ym: YandexMarketEmulator, market: YandexMarketClient) -> None:
    assert await market.new_orders() == []
