"""The Wildberries channel client, on the real ``httpx.AsyncClient``, against the Wildberries emulator over HTTP.

Time is a fake monotonic clock shared by the client's rate gates and the emulator's token buckets; the gates'
``sleep`` moves it, so nothing here really waits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emulators.wildberries import (
    BAN_MESSAGE,
    CARDS_LIST_PATH,
    MAX_STATUS_IDS,
    NEW_ORDERS_PATH,
    ORDER_STATUSES_PATH,
    STOCKS_PATH,
    WAREHOUSES_PATH,
    WildberriesEmulator,
)
from emulators.wildberries.seller import SUPPLIER_STATUSES, WB_STATUSES
from integrations.rate_gate import RateGate
from integrations.wildberries import NO_CARD, STATUS_BATCH, WildberriesClient
from integrations.wildberries_statuses import CANCELLED_STATUSES, RETURNED_STATUSES, SOLD, UNDER_WAY_STATUSES
from tests.vendor_specs import WILDBERRIES_ORDERS_FBS, WILDBERRIES_PRODUCTS, VendorSpec
from workflows.channels import (
    ChannelOrderEvent,
    ChannelRefused,
    ChannelUnavailable,
    OrderEventKind,
    ReportsOrderEvents,
    StockLine,
)

TOKEN = "eyJhbGciOiJFUzI1NiJ9.test-seller-token.sig"
WAREHOUSE = 658434
MUG, MUG_CHRT = "MUG-7", 1001  # a product without sizes: one size, techSize "0"
SHIRT = "SHIRT-01"
SHIRT_CHRT = {"S": 2001, "M": 2002, "L": 2003}
CARDS: list[dict[str, Any]] = [
    {"vendorCode": MUG, "sizes": [{"chrtId": MUG_CHRT, "techSize": "0"}]},
    {"vendorCode": SHIRT, "sizes": [{"chrtId": chrt, "techSize": size} for size, chrt in SHIRT_CHRT.items()]},
    {"vendorCode": "CAP-3", "sizes": [{"chrtId": 3001, "techSize": "0"}], "photo": False},
]


READ_AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def read_at() -> datetime:
    """The wall clock of the client: when it reads order statuses."""
    return READ_AT


SLEEP_LATENCY = 1e-6
"""What a sleep overshoots by. A real one always does; an exact fake lets float rounding leave the gate a hair
short of a token (0.99999999999), so it would ask to sleep 1e-13 s, which does not move a clock near 1000."""


class FakeMonotonic:
    """Monotonic seconds moved by the test and by the gates' sleep."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + SLEEP_LATENCY


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
    def make(
        *, token: str = TOKEN, base: str | None = None, client: httpx.AsyncClient | None = None
    ) -> WildberriesClient:
        def gate(per_minute: float, burst: int) -> RateGate:
            return RateGate(per_minute, burst, clock=monotonic, sleep=monotonic.sleep)

        return WildberriesClient(
            client or http,
            token=token,
            marketplace_base=base or wb.base_url,
            content_base=base or wb.base_url,
            warehouse_id=WAREHOUSE,
            gate=gate(300, 20),
            orders_gate=gate(300, 20),
            content_gate=gate(100, 5),
            clock=read_at,
        )

    return make


@pytest.fixture
def wildberries(make_client: MakeClient) -> WildberriesClient:
    return make_client()


def line(offer_id: str, qty: int, sku: str | None = None) -> StockLine:
    return StockLine(sku=sku or f"1c:{offer_id}", offer_id=offer_id, qty=qty)


def stock_puts(wb: WildberriesEmulator) -> list[Any]:
    return [call for call in wb.calls("/api/v3/stocks/") if call.method == "PUT"]


# -- learning the cards ----------------------------------------------------------------------------------------


async def test_learns_every_card_across_pages_of_the_card_list(
    monotonic: FakeMonotonic, http: httpx.AsyncClient
) -> None:
    cards: list[dict[str, Any]] = [
        {"vendorCode": f"ART-{n:03d}", "sizes": [{"chrtId": 10_000 + n, "techSize": "0"}]} for n in range(230)
    ]
    cards[7]["photo"] = False  # listed only because the client asks for all cards (withPhoto -1)
    async with WildberriesEmulator(token=TOKEN, warehouses={WAREHOUSE: "A"}, cards=cards, clock=monotonic) as wb:
        gate = RateGate(100, 5, clock=monotonic, sleep=monotonic.sleep)
        client = WildberriesClient(
            http,
            token=TOKEN,
            marketplace_base=wb.base_url,
            content_base=wb.base_url,
            warehouse_id=WAREHOUSE,
            content_gate=gate,
        )

        assert await client.learn_products() == 230

        pages = wb.calls("/content/")
        assert [call.status for call in pages] == [200, 200, 200]
        assert pages[0].body == {"settings": {"cursor": {"limit": 100}, "filter": {"withPhoto": -1}}}
        first_page_last = wb.seller.cards[-100]  # newest first: the first page ends with the 100th newest
        assert pages[1].body["settings"]["cursor"] == {
            "limit": 100,
            "updatedAt": first_page_last.updated_at,
            "nmID": first_page_last.nm_id,
        }
        products = await client.products()
        assert products.chrt_id("ART-000") == 10_000
        assert products.chrt_id("ART-007") == 10_007
        assert products.chrt_id("ART-229") == 10_229


async def test_offer_ids_name_a_vendor_code_and_a_size_after_a_slash(wildberries: WildberriesClient) -> None:
    products = await wildberries.products()

    assert products.chrt_id(MUG) == MUG_CHRT  # one size: the bare vendorCode
    assert products.chrt_id(f"{MUG}/0") == MUG_CHRT
    assert products.chrt_id(f"{SHIRT}/M") == SHIRT_CHRT["M"]
    assert products.chrt_id("NO-SUCH") == NO_CARD
    assert products.chrt_id(f"{SHIRT}/XXL") == NO_CARD
    assert "3 sizes" in str(products.chrt_id(SHIRT))  # names no single stock
    assert products.offer_id(SHIRT_CHRT["L"]) == f"{SHIRT}/L"
    assert products.offer_id(MUG_CHRT) == MUG


# -- pushing stock ---------------------------------------------------------------------------------------------


async def test_push_sets_the_amounts_with_the_raw_token(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    outcome = await wildberries.push_stock([line(MUG, 5), line(f"{SHIRT}/M", 3), line(f"{SHIRT}/S", 0)])

    assert set(outcome.accepted) == {f"1c:{MUG}", f"1c:{SHIRT}/M", f"1c:{SHIRT}/S"}
    assert outcome.rejected == {}
    assert outcome.retry == ()
    assert wb.stock(WAREHOUSE, MUG_CHRT) == 5
    assert wb.stock(WAREHOUSE, SHIRT_CHRT["M"]) == 3
    assert wb.stock(WAREHOUSE, SHIRT_CHRT["S"]) == 0
    [put] = stock_puts(wb)
    assert put.path == f"/api/v3/stocks/{WAREHOUSE}"
    assert put.status == 204
    assert put.auth == "raw"
    assert put.body == {
        "stocks": [
            {"chrtId": MUG_CHRT, "amount": 5},
            {"chrtId": SHIRT_CHRT["M"], "amount": 3},
            {"chrtId": SHIRT_CHRT["S"], "amount": 0},
        ]
    }


async def test_offers_without_a_card_are_rejected_and_not_sent(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    outcome = await wildberries.push_stock([line("NO-SUCH", 4), line(SHIRT, 2), line(MUG, 1)])

    assert outcome.accepted == (f"1c:{MUG}",)
    assert outcome.rejected["1c:NO-SUCH"] == NO_CARD
    assert "name one as SHIRT-01/<size>" in outcome.rejected[f"1c:{SHIRT}"]
    assert [put.body for put in stock_puts(wb)] == [{"stocks": [{"chrtId": MUG_CHRT, "amount": 1}]}]


async def test_nothing_to_send_sends_nothing(wb: WildberriesEmulator, wildberries: WildberriesClient) -> None:
    outcome = await wildberries.push_stock([line("NO-SUCH", 4)])

    assert outcome.accepted == ()
    assert stock_puts(wb) == []


@pytest.mark.parametrize("wb_applies_the_rest", [False, True])
async def test_a_409_rejects_the_size_it_names_and_the_rest_is_applied(
    wb: WildberriesEmulator, wildberries: WildberriesClient, wb_applies_the_rest: bool
) -> None:
    await wildberries.learn_products()
    wb.trash_card(MUG)  # trashed after the client learned it: WB no longer knows its size
    wb.apply_valid_on_conflict(wb_applies_the_rest)

    outcome = await wildberries.push_stock([line(f"{SHIRT}/S", 7), line(MUG, 2), line(f"{SHIRT}/L", 9)])

    assert outcome.rejected == {f"1c:{MUG}": "Not found (NotFound)"}
    assert set(outcome.accepted) == {f"1c:{SHIRT}/S", f"1c:{SHIRT}/L"}
    assert wb.stock(WAREHOUSE, SHIRT_CHRT["S"]) == 7
    assert wb.stock(WAREHOUSE, SHIRT_CHRT["L"]) == 9
    assert wb.stock(WAREHOUSE, MUG_CHRT) is None
    first, second = stock_puts(wb)
    assert first.status == 409
    assert second.status == 204
    assert second.body == {
        "stocks": [{"chrtId": SHIRT_CHRT["S"], "amount": 7}, {"chrtId": SHIRT_CHRT["L"], "amount": 9}]
    }


async def test_a_409_costs_ten_tokens_on_both_sides(
    wb: WildberriesEmulator, wildberries: WildberriesClient, monotonic: FakeMonotonic
) -> None:
    await wildberries.learn_products()
    wb.trash_card(MUG)
    start = monotonic.now

    await wildberries.push_stock([line(MUG, 2), line(f"{SHIRT}/S", 1)])  # 409 (10 tokens), then 204 (1)
    for qty in range(9):  # 9 more: the burst of 20 is spent, no wait yet
        await wildberries.push_stock([line(f"{SHIRT}/S", qty)])
    assert monotonic.now == start
    await wildberries.push_stock([line(f"{SHIRT}/S", 42)])  # the 21st token: wait one interval

    assert monotonic.now - start == pytest.approx(0.2, abs=1e-3)
    assert [put.status for put in stock_puts(wb)].count(429) == 0
    assert wb.stock(WAREHOUSE, SHIRT_CHRT["S"]) == 42


async def test_a_store_being_processed_is_a_channel_unavailable(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    wb.store_is_processing()

    with pytest.raises(ChannelUnavailable, match="being processed"):
        await wildberries.push_stock([line(MUG, 1)])


async def test_more_than_the_batch_limit_is_the_callers_error(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    assert wildberries.batch_limit == 1000

    with pytest.raises(ValueError, match="at most 1000"):
        await wildberries.push_stock([line(MUG, 1, sku=f"s{n}") for n in range(1001)])
    assert wb.received == []


async def test_a_full_batch_of_1000_goes_in_one_request(monotonic: FakeMonotonic, http: httpx.AsyncClient) -> None:
    cards = [{"vendorCode": f"B-{n}", "sizes": [{"chrtId": 50_000 + n, "techSize": "0"}]} for n in range(1000)]
    async with WildberriesEmulator(token=TOKEN, warehouses={WAREHOUSE: "A"}, cards=cards, clock=monotonic) as wb:
        gate = RateGate(100, 5, clock=monotonic, sleep=monotonic.sleep)
        client = WildberriesClient(
            http,
            token=TOKEN,
            marketplace_base=wb.base_url,
            content_base=wb.base_url,
            warehouse_id=WAREHOUSE,
            content_gate=gate,
        )

        outcome = await client.push_stock([line(f"B-{n}", n) for n in range(1000)])

        assert len(outcome.accepted) == 1000
        [put] = stock_puts(wb)
        assert len(put.body["stocks"]) == 1000
        assert wb.stock(WAREHOUSE, 50_999) == 999


async def test_amounts_are_clamped_to_wbs_maximum_and_negatives_rejected(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    outcome = await wildberries.push_stock([line(MUG, 250_000), line(f"{SHIRT}/M", -3)])

    assert outcome.accepted == (f"1c:{MUG}",)
    assert "negative" in outcome.rejected[f"1c:{SHIRT}/M"]
    assert wb.stock(WAREHOUSE, MUG_CHRT) == 100_000
    assert stock_puts(wb)[0].body == {"stocks": [{"chrtId": MUG_CHRT, "amount": 100_000}]}


# -- rate limits -----------------------------------------------------------------------------------------------


async def test_a_429_gives_its_retry_hint_and_the_gate_holds_off(
    wb: WildberriesEmulator, wildberries: WildberriesClient, monotonic: FakeMonotonic
) -> None:
    await wildberries.learn_products()
    wb.force_rate_limit(1, retry_after=7)

    with pytest.raises(ChannelUnavailable) as refused:
        await wildberries.push_stock([line(MUG, 1)])
    assert refused.value.retry_after == 7
    start = monotonic.now

    outcome = await wildberries.push_stock([line(MUG, 2)])

    assert monotonic.now - start >= 7  # the gate waited out WB's hint before asking again
    assert outcome.accepted == (f"1c:{MUG}",)
    assert [put.status for put in stock_puts(wb)] == [429, 204]
    assert wb.stock(WAREHOUSE, MUG_CHRT) == 2


async def test_the_emulators_bucket_refuses_the_21st_request_at_once(
    wb: WildberriesEmulator, http: httpx.AsyncClient
) -> None:
    url = f"{wb.base_url.rstrip('/')}/api/v3/stocks/{WAREHOUSE}"
    statuses = []
    for _ in range(21):
        response = await http.put(
            url, json={"stocks": [{"chrtId": MUG_CHRT, "amount": 1}]}, headers={"Authorization": TOKEN}
        )
        statuses.append(response.status_code)

    assert statuses == [204] * 20 + [429]
    assert response.headers["X-Ratelimit-Retry"] == "1"
    assert response.json()["title"] == "too many requests"


async def test_the_clients_gate_keeps_a_burst_of_25_pushes_under_wbs_bucket(
    wb: WildberriesEmulator, wildberries: WildberriesClient, monotonic: FakeMonotonic
) -> None:
    await wildberries.learn_products()
    start = monotonic.now

    for qty in range(25):
        outcome = await wildberries.push_stock([line(MUG, qty)])
        assert outcome.accepted == (f"1c:{MUG}",)

    assert [put.status for put in stock_puts(wb)] == [204] * 25
    assert monotonic.now - start == pytest.approx(5 * 0.2, abs=1e-3)  # 20 at once, then one every 200 ms
    assert wb.stock(WAREHOUSE, MUG_CHRT) == 24


# -- refusals and failures -------------------------------------------------------------------------------------


async def test_a_wrong_token_is_refused_and_never_shown(
    wb: WildberriesEmulator, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(token="wrong-token-value")

    with pytest.raises(ChannelRefused) as refused:
        await client.push_stock([line(MUG, 1)])

    assert "HTTP 401" in refused.value.reason
    assert "unauthorized" in refused.value.reason
    assert wb.calls()[0].auth == "wrong"
    assert "wrong-token-value" not in caplog.text + repr(client) + str(refused.value)


async def test_the_token_is_not_logged_on_a_good_push(
    wildberries: WildberriesClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await wildberries.push_stock([line(MUG, 1), line("NO-SUCH", 1)])

    assert TOKEN not in caplog.text
    assert "NO-SUCH" in caplog.text  # the rejection is logged


async def test_a_banned_seller_is_refused_with_wbs_message(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    wb.ban()

    with pytest.raises(ChannelRefused) as refused:
        await wildberries.push_stock([line(MUG, 1)])

    assert refused.value.reason == f"Wildberries refused the request: HTTP 406: StatusNotAcceptable: {BAN_MESSAGE}"


async def test_a_503_is_a_channel_unavailable_until_wb_recovers(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    await wildberries.learn_products()
    wb.fail_with(503)

    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await wildberries.push_stock([line(MUG, 1)])
    wb.recover()

    assert (await wildberries.push_stock([line(MUG, 1)])).accepted == (f"1c:{MUG}",)


@pytest.mark.parametrize(
    ("failure", "words"),
    [(httpx.ReadTimeout("slow"), "did not answer in time"), (httpx.ConnectError("refused"), "could not be reached")],
)
async def test_a_timeout_or_a_refused_connection_is_a_channel_unavailable(
    wb: WildberriesEmulator, make_client: MakeClient, failure: httpx.HTTPError, words: str
) -> None:
    async with httpx.AsyncClient() as real:

        async def handler(request: httpx.Request) -> httpx.Response:
            if request.method == "PUT":
                raise failure
            forwarded = await real.request(
                request.method, str(request.url), content=request.content, headers=request.headers
            )
            return httpx.Response(forwarded.status_code, content=forwarded.content, headers=forwarded.headers)

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as flaky:
            client = make_client(client=flaky)
            with pytest.raises(ChannelUnavailable, match=words):
                await client.push_stock([line(MUG, 1)])


# -- reading stock and orders ----------------------------------------------------------------------------------


async def test_read_stock_gives_what_wb_holds_per_sku(wb: WildberriesEmulator, wildberries: WildberriesClient) -> None:
    wb.set_stock(WAREHOUSE, MUG_CHRT, 11)
    wb.set_stock(WAREHOUSE, SHIRT_CHRT["L"], 0)

    held = await wildberries.read_stock(
        [line(MUG, 0), line(f"{SHIRT}/L", 0), line(f"{SHIRT}/S", 0), line("NO-SUCH", 0)]
    )

    assert held == {f"1c:{MUG}": 11, f"1c:{SHIRT}/L": 0}  # no record for S; no card for NO-SUCH
    [read] = [call for call in wb.calls("/api/v3/stocks/") if call.method == "POST"]
    assert read.body == {"chrtIds": [MUG_CHRT, SHIRT_CHRT["L"], SHIRT_CHRT["S"]]}


async def test_new_orders_come_back_as_our_offer_ids(wb: WildberriesEmulator, wildberries: WildberriesClient) -> None:
    wb.add_order(SHIRT_CHRT["M"], order_id=13833711, created_at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC))
    wb.add_order(MUG_CHRT, order_id=13833712)
    wb.add_order(999_999, order_id=13833713)  # a size on no card the client knows: skipped

    orders = await wildberries.new_orders()

    assert [(o.external_id, [(ln.offer_id, ln.qty) for ln in o.lines]) for o in orders] == [
        ("13833711", [(f"{SHIRT}/M", 1)]),
        ("13833712", [(MUG, 1)]),
    ]
    assert orders[0].created_at == datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    assert wb.calls("/api/v3/orders/new")[0].auth == "raw"


# -- what became of orders -------------------------------------------------------------------------------------


def status_bodies(wb: WildberriesEmulator) -> list[Any]:
    return [call.body for call in wb.calls(ORDER_STATUSES_PATH)]


async def test_cancelled_sold_and_refused_orders_come_back_as_events(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    for order_id in range(13833701, 13833709):
        wb.add_order(MUG_CHRT, order_id=order_id)
    wb.cancel_order(13833701)  # WB cancelled it
    wb.cancel_order(13833702, "declined_by_client")  # the buyer, within the first hour
    wb.cancel_order(13833703, "defect")
    wb.set_order_status(13833704, "sold", supplier_status="complete")
    wb.set_order_status(13833705, "canceled_by_client", supplier_status="complete")  # refused at the pick-up point
    wb.set_order_status(13833706, "waiting", supplier_status="cancel")  # the seller's cancel, WB not caught up
    wb.set_order_status(13833707, "sorted", supplier_status="confirm")  # under way: no event
    watching = [str(order_id) for order_id in range(13833701, 13833709)]

    assert isinstance(wildberries, ReportsOrderEvents)
    page = await wildberries.order_events(None, watching)

    def event(order_id: int, kind: OrderEventKind, reason: str) -> ChannelOrderEvent:
        return ChannelOrderEvent(str(order_id), kind, READ_AT, reason)  # WB gives no time: when it was read

    assert page.events == (
        event(13833701, OrderEventKind.CANCELLED, "canceled"),
        event(13833702, OrderEventKind.CANCELLED, "declined_by_client"),
        event(13833703, OrderEventKind.CANCELLED, "defect"),
        event(13833704, OrderEventKind.DELIVERED, "sold"),
        event(13833705, OrderEventKind.RETURNED, "canceled_by_client"),
        event(13833706, OrderEventKind.CANCELLED, "supplierStatus cancel"),
    )
    assert page.cursor == READ_AT.isoformat()
    assert status_bodies(wb) == [{"orders": list(range(13833701, 13833709))}]
    assert wb.calls(ORDER_STATUSES_PATH)[0].auth == "raw"
    again = await wildberries.order_events(page.cursor, watching)  # no change list on WB: the same answer
    assert again.events == page.events


async def test_statuses_are_asked_in_batches_of_wbs_limit(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    watching = [str(13_000_000 + n) for n in range(2 * STATUS_BATCH + 500)]
    wb.add_order(MUG_CHRT, order_id=13_000_000 + 2 * STATUS_BATCH + 7)  # in the last batch
    wb.set_order_status(13_000_000 + 2 * STATUS_BATCH + 7, "sold")

    page = await wildberries.order_events(None, watching + watching[:10])  # repeats asked once

    assert [len(body["orders"]) for body in status_bodies(wb)] == [1000, 1000, 500]
    assert [order_id for body in status_bodies(wb) for order_id in body["orders"]] == [int(i) for i in watching]
    assert [(e.external_id, e.kind) for e in page.events] == [(watching[-493], OrderEventKind.DELIVERED)]
    assert STATUS_BATCH == MAX_STATUS_IDS  # the emulator refuses one id more, as WB's spec says


async def test_only_the_watched_orders_are_asked_about(wb: WildberriesEmulator, wildberries: WildberriesClient) -> None:
    wb.add_order(MUG_CHRT, order_id=13833711)
    wb.add_order(MUG_CHRT, order_id=13833712)
    wb.cancel_order(13833711)
    wb.cancel_order(13833712)

    page = await wildberries.order_events(None, ["13833712", "site-77", "-5", "٣"])  # not WB ids: not asked

    assert status_bodies(wb) == [{"orders": [13833712]}]
    assert [e.external_id for e in page.events] == ["13833712"]
    assert (await wildberries.order_events(page.cursor, [])).events == ()
    assert len(status_bodies(wb)) == 1  # nothing watched: nothing asked


async def test_status_reads_map_wbs_errors_to_channel_errors(
    wb: WildberriesEmulator, wildberries: WildberriesClient, make_client: MakeClient
) -> None:
    wb.force_rate_limit(retry_after=7, group="orders")
    with pytest.raises(ChannelUnavailable) as limited:
        await wildberries.order_events(None, ["13833711"])
    assert limited.value.retry_after == 7
    wb.fail_with(503)
    with pytest.raises(ChannelUnavailable):
        await wildberries.order_events(None, ["13833711"])
    wb.fail_with(403)
    with pytest.raises(ChannelRefused):
        await wildberries.order_events(None, ["13833711"])
    wb.recover()
    with pytest.raises(ChannelRefused) as refused:
        await make_client(token="wrong-token").order_events(None, ["13833711"])
    assert "wrong-token" not in str(refused.value)
    assert [call.status for call in wb.calls(ORDER_STATUSES_PATH)] == [429, 503, 403, 401]


# -- the wire against WB's spec --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def products_spec() -> VendorSpec:
    return VendorSpec(WILDBERRIES_PRODUCTS)  # stocks, warehouses, the card list


@pytest.fixture(scope="module")
def orders_spec() -> VendorSpec:
    return VendorSpec(WILDBERRIES_ORDERS_FBS)  # new FBS orders


async def test_the_request_bodies_match_wbs_spec(
    products_spec: VendorSpec, wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    await wildberries.push_stock([line(MUG, 250_000), line(f"{SHIRT}/M", 3)])
    await wildberries.read_stock([line(MUG, 0)])

    bodies = {(call.method, call.path.split("/")[1]): call.body for call in wb.received}
    assert products_spec.request_problems(STOCKS_PATH, "put", bodies["PUT", "api"]) == []
    assert products_spec.request_problems(STOCKS_PATH, "post", bodies["POST", "api"]) == []
    assert products_spec.request_problems(CARDS_LIST_PATH, "post", bodies["POST", "content"]) == []
    # the check bites: over WB's maximum, and a misspelt name WB would silently ignore
    assert products_spec.request_problems(STOCKS_PATH, "put", {"stocks": [{"chrtID": 1, "amount": 100_001}]}) == [
        "$.stocks[0]: 'chrtID' not among the properties the spec declares",
        "$.stocks[0].amount: 100001 is greater than the maximum of 100000",
    ]


async def test_the_emulators_answers_match_wbs_spec(
    products_spec: VendorSpec,
    orders_spec: VendorSpec,
    wb: WildberriesEmulator,
    http: httpx.AsyncClient,
    monotonic: FakeMonotonic,
) -> None:
    """Each answer, success or error, against the schema WB's spec gives that method for that status."""
    answers: list[tuple[VendorSpec, str, str, httpx.Response]] = []

    async def ask(
        spec: VendorSpec, method: str, path: str, body: Any = None, *, warehouse: int = WAREHOUSE, token: str = TOKEN
    ) -> None:
        monotonic.now += 60  # a full token bucket for every request: the limits are tested elsewhere
        url = wb.base_url.rstrip("/") + path.format(warehouseId=warehouse)
        response = await http.request(method, url, json=body, headers={"Authorization": token})
        answers.append((spec, path, method, response))

    one = {"stocks": [{"chrtId": SHIRT_CHRT["S"], "amount": 1}]}
    wb.set_stock(WAREHOUSE, MUG_CHRT, 4)
    wb.add_order(MUG_CHRT, order_id=13833711)
    await ask(products_spec, "POST", STOCKS_PATH, {"chrtIds": [MUG_CHRT]})
    await ask(products_spec, "GET", WAREHOUSES_PATH)
    await ask(orders_spec, "GET", NEW_ORDERS_PATH)
    await ask(
        products_spec, "POST", CARDS_LIST_PATH, {"settings": {"cursor": {"limit": 100}, "filter": {"withPhoto": -1}}}
    )
    await ask(products_spec, "POST", CARDS_LIST_PATH, {"settings": {"cursor": {"limit": 0}}})
    await ask(products_spec, "PUT", STOCKS_PATH, {"stocks": []})
    await ask(products_spec, "PUT", STOCKS_PATH, {"stocks": [{"chrtId": MUG_CHRT, "amount": 100_001}]})
    wb.trash_card(MUG)
    await ask(products_spec, "PUT", STOCKS_PATH, {"stocks": [{"chrtId": MUG_CHRT, "amount": 1}]})
    wb.store_is_processing()
    await ask(products_spec, "PUT", STOCKS_PATH, one)
    wb.recover()
    wb.ban()
    await ask(products_spec, "PUT", STOCKS_PATH, one)
    wb.unban()
    await ask(products_spec, "PUT", STOCKS_PATH, one, warehouse=1)
    await ask(products_spec, "PUT", STOCKS_PATH, one, token="wrong-token")
    wb.force_rate_limit()
    await ask(products_spec, "PUT", STOCKS_PATH, one)

    statuses = [response.status_code for *_, response in answers]
    assert statuses == [200, 200, 200, 200, 400, 400, 409, 409, 409, 406, 404, 401, 429]
    assert [answers[n][-1].json()[0]["code"] for n in (6, 7, 8)] == ["UploadDataLimit", "NotFound", "StoreIsProcessing"]
    for spec, path, method, response in answers:
        problems = spec.response_problems(path, method, response.status_code, response.json())
        assert problems == [], (method, path, response.status_code)
    await ask(products_spec, "PUT", STOCKS_PATH, one)
    assert answers[-1][-1].status_code == 204 and answers[-1][-1].content == b""  # the spec's 204 has no body


async def test_status_requests_and_answers_match_wbs_spec(
    orders_spec: VendorSpec, wb: WildberriesEmulator, wildberries: WildberriesClient, http: httpx.AsyncClient
) -> None:
    wb.add_order(MUG_CHRT, order_id=13833711)
    wb.set_order_status(13833711, "canceled", supplier_status="cancel")
    await wildberries.order_events(None, ["13833711", "13833799"])
    [asked] = wb.calls(ORDER_STATUSES_PATH)
    assert orders_spec.request_problems(ORDER_STATUSES_PATH, "post", asked.body) == []
    # the check bites: ids as text, or one more than WB takes
    assert orders_spec.request_problems(ORDER_STATUSES_PATH, "post", {"orders": ["13833711"]}) == [
        "$.orders[0]: '13833711' is not of type 'integer'"
    ]
    assert len(orders_spec.request_problems(ORDER_STATUSES_PATH, "post", {"orders": list(range(1001))})) == 1

    url = wb.base_url.rstrip("/") + ORDER_STATUSES_PATH
    answers: list[httpx.Response] = []
    bodies: list[dict[str, list[int]]] = [
        {"orders": [13833711, 13833799]},
        {"orders": []},
        {"orders": list(range(1, 1002))},
        {"ids": [1]},
    ]
    for body in bodies:
        answers.append(await http.post(url, json=body, headers={"Authorization": TOKEN}))
    assert [a.status_code for a in answers] == [200, 400, 400, 400]
    assert answers[0].json() == {"orders": [{"id": 13833711, "supplierStatus": "cancel", "wbStatus": "canceled"}]}
    for answer in answers:
        problems = orders_spec.response_problems(ORDER_STATUSES_PATH, "post", answer.status_code, answer.json())
        assert problems == [], answer.status_code
    with pytest.raises(ValueError, match="not a status"):
        wb.set_order_status(13833711, "returned")  # not among WB's statuses


def test_every_wb_status_of_the_spec_is_read_and_the_emulator_knows_them(orders_spec: VendorSpec) -> None:
    answer = orders_spec.schema(orders_spec.response_schema(ORDER_STATUSES_PATH, "post", 200))
    fields = answer["properties"]["orders"]["items"]["properties"]
    read = {SOLD} | RETURNED_STATUSES | CANCELLED_STATUSES | UNDER_WAY_STATUSES
    assert set(fields["wbStatus"]["enum"]) == read == WB_STATUSES
    assert set(fields["supplierStatus"]["enum"]) == SUPPLIER_STATUSES


# -- the emulator's own rules ----------------------------------------------------------------------------------


async def test_the_emulator_validates_stock_updates_as_wb_does(
    wb: WildberriesEmulator, http: httpx.AsyncClient
) -> None:
    url = f"{wb.base_url.rstrip('/')}{STOCKS_PATH.format(warehouseId=WAREHOUSE)}"

    async def put(body: Any, warehouse_url: str = url) -> httpx.Response:
        return await http.put(warehouse_url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})

    assert (await put({"stocks": []})).json()["code"] == "IncorrectRequest"
    assert (await put({"stocks": [{"chrtId": MUG_CHRT, "amount": 1}] * 1001})).status_code == 400
    assert (await put({"stocks": [{"chrtId": MUG_CHRT, "amount": -1}]})).json()["code"] == "IncorrectParameter"
    too_many = await put({"stocks": [{"chrtId": MUG_CHRT, "amount": 100_001}]})
    assert too_many.status_code == 409
    assert too_many.json() == [
        {
            "code": "UploadDataLimit",
            "message": "Upload limit exceeded.",
            "data": [{"chrtId": MUG_CHRT, "amount": 100_001}],
        }
    ]
    quirk = await put({"stocks": [{"chrtID": MUG_CHRT, "amount": 3}]})  # a misspelt name: 204, nothing set
    assert quirk.status_code == 204
    assert wb.stock(WAREHOUSE, MUG_CHRT) is None
    assert (
        await put({"stocks": [{"chrtId": MUG_CHRT, "amount": 1}]}, url.replace(str(WAREHOUSE), "1"))
    ).status_code == 404
