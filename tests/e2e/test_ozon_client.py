"""The Ozon client, on the real ``httpx.AsyncClient``, against the Ozon emulator over HTTP.

Time is a fake clock shared by the client (the 30 s per pair, its gates) and the emulator (its limits): the
gate's sleep moves it, so nothing here really waits except the one timeout test (0.2 s).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from emulators.ozon import (
    PER_MINUTE_MESSAGE,
    STOCK_INFO_PATH,
    STOCKS_PATH,
    UNFULFILLED_PATH,
    OzonEmulator,
)
from integrations.ozon import GATE_BURST, GATE_PER_MINUTE, PAIR_MARGIN_S, OzonClient
from integrations.rate_gate import RateGate
from tests.vendor_specs import OVERRIDES, SpecChanged, StaleRequired, VendorSpec
from tests.vendor_specs import OZON as OZON_SPEC
from workflows.channels import ChannelOrderLine, ChannelRefused, ChannelUnavailable, StockLine

CLIENT_ID = "836125"
API_KEY = "0f5e3c1a-9d2b-4c77-8a41-5b6f0e2d9c18"
WH = 22142605386000
OTHER_WH = 15110442724000
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
CYRILLIC = "УТ-0001365"  # a 1C-style code, as in the spec's own example
MANY = [f"A{n:03}" for n in range(100)]


class Time:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def line(offer: str, qty: int, sku: str | None = None) -> StockLine:
    return StockLine(sku=sku or f"sku-{offer}", offer_id=offer, qty=qty)


@pytest.fixture
def t() -> Time:
    return Time()


@pytest.fixture
async def ozon(t: Time) -> AsyncIterator[OzonEmulator]:
    warehouses = {WH: "Склад на Ленина", OTHER_WH: "Склад на Мира"}
    products = ["PH11042", "MUG-7", CYRILLIC, "NEVER-STOCKED", *MANY]
    async with OzonEmulator(CLIENT_ID, API_KEY, warehouses, products, clock=t.clock, utcnow=lambda: NOW) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=0.2) as client:
        yield client


@pytest.fixture
def make(ozon: OzonEmulator, http: httpx.AsyncClient, t: Time) -> Callable[..., OzonClient]:
    def build(**overrides: Any) -> OzonClient:
        settings: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "api_key": API_KEY,
            "base": ozon.base_url,
            "warehouse_id": WH,
            "clock": t.clock,
            "sleep": t.sleep,
            "utcnow": lambda: NOW,
        }
        return OzonClient(http, **(settings | overrides))

    return build


@pytest.fixture
def client(make: Callable[..., OzonClient]) -> OzonClient:
    return make()


# -- stock updates -------------------------------------------------------------------------------------------


async def test_a_push_is_accepted_item_by_item(ozon: OzonEmulator, client: OzonClient) -> None:
    outcome = await client.push_stock([line("PH11042", 100), line("MUG-7", 0), line(CYRILLIC, 3)])

    assert outcome.accepted == ("sku-PH11042", "sku-MUG-7", f"sku-{CYRILLIC}")
    assert outcome.rejected == {}
    assert outcome.retry == ()
    assert (ozon.stock(WH, "PH11042"), ozon.stock(WH, "MUG-7"), ozon.stock(WH, CYRILLIC)) == (100, 0, 3)
    [call] = ozon.calls(STOCKS_PATH)
    assert (call.client_id, call.key, call.status) == (CLIENT_ID, "ok", 200)
    assert call.body == {
        "stocks": [
            {"offer_id": "PH11042", "stock": 100, "warehouse_id": WH},
            {"offer_id": "MUG-7", "stock": 0, "warehouse_id": WH},
            {"offer_id": CYRILLIC, "stock": 3, "warehouse_id": WH},
        ]
    }


async def test_an_unknown_offer_is_rejected_with_ozons_reason_and_the_others_go_through(
    ozon: OzonEmulator, client: OzonClient
) -> None:
    outcome = await client.push_stock([line("PH11042", 5), line("GONE-1", 2), line("MUG-7", 1)])

    assert outcome.accepted == ("sku-PH11042", "sku-MUG-7")
    assert outcome.rejected["sku-GONE-1"].startswith("offer_id_not_found: ")
    assert outcome.retry == ()
    assert ozon.stock(WH, "PH11042") == 5


async def test_lines_that_cannot_be_stock_are_rejected_without_asking_ozon(
    ozon: OzonEmulator, client: OzonClient
) -> None:
    outcome = await client.push_stock(
        [
            line("PH11042", -1),
            line("", 1, sku="blank"),
            line("X" * 51, 1, sku="long"),
            line("MUG-7", 2, sku="a"),
            line("MUG-7", 3, sku="b"),
        ]
    )

    assert set(outcome.rejected) == {"sku-PH11042", "blank", "long", "b"}
    assert "negative" in outcome.rejected["sku-PH11042"]
    assert outcome.rejected["b"] == "the same Ozon offer_id as a"
    assert outcome.accepted == ("a",)
    assert [item["offer_id"] for item in ozon.calls(STOCKS_PATH)[0].body["stocks"]] == ["MUG-7"]


async def test_the_same_pair_within_30_s_is_held_back_by_the_client_then_sent(
    ozon: OzonEmulator, client: OzonClient, t: Time
) -> None:
    assert (await client.push_stock([line("PH11042", 10)])).accepted == ("sku-PH11042",)

    t.now += 29.9
    outcome = await client.push_stock([line("PH11042", 9), line("MUG-7", 4)])

    assert outcome.retry == ("sku-PH11042",)
    assert outcome.retry_in == {"sku-PH11042": pytest.approx(0.1 + PAIR_MARGIN_S)}  # when it may go: its pair is free
    assert outcome.accepted == ("sku-MUG-7",)
    assert [item["offer_id"] for item in ozon.calls(STOCKS_PATH)[-1].body["stocks"]] == ["MUG-7"]
    assert ozon.stock(WH, "PH11042") == 10
    assert (await client.push_stock([line("PH11042", 9)])).retry == ("sku-PH11042",)
    assert len(ozon.calls(STOCKS_PATH)) == 2  # nothing was sent for it

    t.now += 0.1  # 30 s since Ozon answered the first update
    outcome = await client.push_stock([line("PH11042", 9)])

    assert outcome.accepted == ("sku-PH11042",)
    assert ozon.stock(WH, "PH11042") == 9
    assert len(ozon.calls(STOCKS_PATH)) == 3


@pytest.mark.parametrize("code", ["TOO_MANY_REQUESTS", "Stock is updated too frequently"])
async def test_ozons_own_too_many_requests_per_item_comes_back_as_retry(
    ozon: OzonEmulator, make: Callable[..., OzonClient], code: str
) -> None:
    ozon.seller.throttle_code = code
    other_process = make()  # another client of the same seller updated the pair a moment ago
    await other_process.push_stock([line("PH11042", 1)])

    outcome = await make().push_stock([line("PH11042", 2), line("MUG-7", 2)])

    assert outcome.retry == ("sku-PH11042",)
    assert outcome.retry_in == {"sku-PH11042": pytest.approx(30 + PAIR_MARGIN_S)}  # Ozon's word: 30 s from its answer
    assert outcome.accepted == ("sku-MUG-7",)
    assert ozon.stock(WH, "PH11042") == 1


async def test_a_batch_over_100_is_a_programming_error(ozon: OzonEmulator, client: OzonClient) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        await client.push_stock([line(f"A{n:03}", 1) for n in range(101)])
    assert ozon.calls() == []


async def test_the_gate_keeps_100_pushes_within_80_a_minute(
    ozon: OzonEmulator, make: Callable[..., OzonClient], t: Time
) -> None:
    client = make()  # the default gate, on the shared fake clock

    outcomes = [await client.push_stock([line(offer, n)]) for n, offer in enumerate(MANY)]

    assert all(outcome.accepted == (f"sku-{offer}",) for outcome, offer in zip(outcomes, MANY, strict=True))
    calls = ozon.calls(STOCKS_PATH)
    assert len(calls) == 100
    assert {call.status for call in calls} == {200}
    busiest = max(sum(1 for other in calls if start.at <= other.at < start.at + 60) for start in calls)
    assert busiest <= 80
    assert t.now == pytest.approx((100 - GATE_BURST) * 60 / GATE_PER_MINUTE)  # waited, and no longer than needed
    assert GATE_BURST + GATE_PER_MINUTE == 80


async def test_without_the_gate_ozon_refuses_the_81st_update_of_a_minute(
    ozon: OzonEmulator, make: Callable[..., OzonClient], t: Time
) -> None:
    client = make(gate=RateGate(10_000, 1_000, clock=t.clock, sleep=t.sleep))
    for offer in MANY[:80]:
        await client.push_stock([line(offer, 1)])
        t.now += 0.5  # 2 a second: the per-second limit is not what stops it

    with pytest.raises(ChannelUnavailable) as refused:
        await client.push_stock([line(MANY[80], 1)])

    assert PER_MINUTE_MESSAGE in refused.value.reason
    assert refused.value.retry_after is None
    assert ozon.calls(STOCKS_PATH)[-1].status == 429


async def test_a_429_with_a_hint_holds_the_gate_and_does_not_hold_back_the_pairs(
    ozon: OzonEmulator, client: OzonClient, t: Time
) -> None:
    ozon.force_rate_limit(retry_after=7, path=STOCKS_PATH)

    with pytest.raises(ChannelUnavailable) as refused:
        await client.push_stock([line("PH11042", 3)])

    assert refused.value.retry_after == 7
    assert "HTTP 429" in refused.value.reason
    before = t.now
    assert (await client.push_stock([line("PH11042", 3)])).accepted == ("sku-PH11042",)
    assert t.now - before >= 7


async def test_a_wrong_key_is_refused_and_the_key_is_never_shown(
    ozon: OzonEmulator, make: Callable[..., OzonClient]
) -> None:
    wrong = "ffffffff-0000-4000-8000-000000000000"
    client = make(api_key=wrong)

    with pytest.raises(ChannelRefused) as refused:
        await client.push_stock([line("PH11042", 3)])

    assert "HTTP 403" in refused.value.reason
    assert "Invalid Api-Key" in refused.value.reason
    assert wrong not in refused.value.reason
    assert wrong not in repr(client)
    assert ozon.calls()[-1].key == "wrong"
    with pytest.raises(ChannelRefused):
        await client.push_stock([line("PH11042", 3)])  # sent again: a refusal does not start the pair's 30 s
    with pytest.raises(ChannelRefused):
        await client.new_orders()


async def test_missing_headers_are_answered_401_in_ozons_error_shape(
    ozon: OzonEmulator, http: httpx.AsyncClient
) -> None:
    response = await http.post(ozon.base_url.rstrip("/") + STOCKS_PATH, json={"stocks": []})

    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}
    assert ozon.calls()[-1].key == "missing"


async def test_a_503_is_unavailable_and_the_pair_waits_its_30_s(
    ozon: OzonEmulator, client: OzonClient, t: Time
) -> None:
    ozon.fail_with(503)

    for call in (client.push_stock([line("PH11042", 3)]), client.read_stock([line("PH11042", 0)]), client.new_orders()):
        with pytest.raises(ChannelUnavailable, match="HTTP 503"):
            await call

    ozon.recover()
    assert (await client.push_stock([line("PH11042", 3)])).retry == ("sku-PH11042",)  # Ozon may have taken it
    t.now += 30
    assert (await client.push_stock([line("PH11042", 3)])).accepted == ("sku-PH11042",)


async def test_no_answer_in_time_and_no_connection_are_unavailable(
    ozon: OzonEmulator, make: Callable[..., OzonClient], http: httpx.AsyncClient
) -> None:
    client = make()
    ozon.hang()
    with pytest.raises(ChannelUnavailable, match="did not answer in time"):
        await client.push_stock([line("PH11042", 3)])
    ozon.recover()

    unreachable = make(base="http://127.0.0.1:9")
    with pytest.raises(ChannelUnavailable, match="could not be reached"):
        await unreachable.push_stock([line("MUG-7", 3)])
    with pytest.raises(ChannelUnavailable, match="could not be reached"):  # never sent, so not held back
        await unreachable.push_stock([line("MUG-7", 3)])


# -- reading stock -------------------------------------------------------------------------------------------


async def test_read_stock_is_what_is_available_at_the_warehouse(
    ozon: OzonEmulator, make: Callable[..., OzonClient]
) -> None:
    ozon.set_stock(WH, "PH11042", 12)
    ozon.set_stock(OTHER_WH, "PH11042", 500)
    ozon.set_stock(WH, CYRILLIC, 5)
    ozon.add_posting("23713478-0018-3", [(CYRILLIC, 2)])  # reserves 2 of the 5
    client = make(page_limit=2)

    held = await client.read_stock(
        [
            line("PH11042", 0),
            line(CYRILLIC, 0),
            line("NEVER-STOCKED", 0),
            line("GONE-1", 0),
            line("MUG-7", 0, "alias"),
            line("MUG-7", 0),
        ]
    )

    assert held == {"sku-PH11042": 12, f"sku-{CYRILLIC}": 3, "sku-NEVER-STOCKED": 0, "alias": 0, "sku-MUG-7": 0}
    assert ozon.reserved(WH, CYRILLIC) == 2
    calls = ozon.calls(STOCK_INFO_PATH)
    assert len(calls) == 2  # 4 known products, 2 a page
    assert calls[0].body["cursor"] == "" and calls[1].body["cursor"] != ""
    assert calls[0].body["filter"]["offer_id"] == ["PH11042", CYRILLIC, "NEVER-STOCKED", "GONE-1", "MUG-7"]


# -- orders --------------------------------------------------------------------------------------------------


async def test_new_orders_are_the_postings_awaiting_packaging_read_page_by_page(
    ozon: OzonEmulator, make: Callable[..., OzonClient]
) -> None:
    for n in range(5):
        ozon.add_posting(f"1000{n}-0001-1", [("PH11042", 1)], in_process_at=NOW - dt.timedelta(hours=5 - n))
    ozon.add_posting("20000-0001-1", [(CYRILLIC, 1), ("MUG-7", 2), (CYRILLIC, 1)], in_process_at=NOW)
    ozon.add_posting("30000-0001-1", [("PH11042", 1)], warehouse_id=OTHER_WH)
    ozon.add_posting("40000-0001-1", [("PH11042", 1)], status="awaiting_deliver")
    client = make(page_limit=2)

    orders = await client.new_orders()

    assert [o.external_id for o in orders] == [f"1000{n}-0001-1" for n in range(5)] + ["20000-0001-1"]
    assert orders[0].lines == (ChannelOrderLine("PH11042", 1),)
    assert orders[0].created_at == NOW - dt.timedelta(hours=5)
    assert orders[0].ship_by == NOW + dt.timedelta(hours=19)  # the shipment_date: a day after it came, by default
    assert orders[-1].lines == (ChannelOrderLine(CYRILLIC, 2), ChannelOrderLine("MUG-7", 2))
    calls = ozon.calls(UNFULFILLED_PATH)
    assert [c.body["offset"] for c in calls] == [0, 2, 4, 6]  # the last page came back empty
    flt = calls[0].body["filter"]
    assert flt["status"] == "awaiting_packaging"
    assert flt["warehouse_id"] == [WH]
    period = dt.datetime.fromisoformat(flt["cutoff_to"]) - dt.datetime.fromisoformat(flt["cutoff_from"])
    assert period <= dt.timedelta(days=365)


# -- the emulator's own rules, on the raw wire ---------------------------------------------------------------


async def _raw(http: httpx.AsyncClient, ozon: OzonEmulator, path: str, body: Any) -> httpx.Response:
    headers = {"Client-Id": CLIENT_ID, "Api-Key": API_KEY}
    return await http.post(ozon.base_url.rstrip("/") + path, json=body, headers=headers)


async def test_the_emulator_checks_each_item_and_the_request(ozon: OzonEmulator, http: httpx.AsyncClient) -> None:
    items = [
        {"offer_id": "PH11042", "stock": -1, "warehouse_id": WH},
        {"offer_id": "PH11042", "stock": 1, "warehouse_id": 42},
        {"offer_id": "MUG-7", "stock": 1, "warehouse_id": WH},
        {"offer_id": "MUG-7", "stock": 2, "warehouse_id": WH},  # the same pair again at once
    ]
    result = (await _raw(http, ozon, STOCKS_PATH, {"stocks": items})).json()["result"]

    assert [r["updated"] for r in result] == [False, False, True, False]
    assert [r["errors"][0]["code"] for r in result if r["errors"]] == [
        "INVALID_STOCK",
        "WAREHOUSE_NOT_FOUND",
        "TOO_MANY_REQUESTS",
    ]
    too_many = await _raw(
        http, ozon, STOCKS_PATH, {"stocks": [{"offer_id": "A000", "stock": 1, "warehouse_id": WH}] * 101}
    )
    no_warehouse = await _raw(http, ozon, STOCKS_PATH, {"stocks": [{"offer_id": "A000", "stock": 1}]})
    assert (too_many.status_code, no_warehouse.status_code) == (400, 400)
    assert no_warehouse.json()["message"] == (
        "Request validation error: invalid ProductsStocksRequest.Stocks[0]: embedded message failed validation"
    )


async def test_the_emulator_limits_50_requests_a_second(ozon: OzonEmulator, http: httpx.AsyncClient) -> None:
    body = {"filter": {"offer_id": ["PH11042"]}, "limit": 1}
    statuses = [(await _raw(http, ozon, STOCK_INFO_PATH, body)).status_code for _ in range(51)]

    assert statuses == [200] * 50 + [429]
    assert (await _raw(http, ozon, STOCK_INFO_PATH, body)).json()["code"] == 8


# -- the wire against the vendor's spec ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(OZON_SPEC)  # with the overrides of its stale parts (tests/vendor_specs.py: OVERRIDES)


async def test_requests_and_answers_follow_the_vendor_spec(
    spec: VendorSpec, ozon: OzonEmulator, make: Callable[..., OzonClient], http: httpx.AsyncClient
) -> None:
    ozon.add_posting("23713478-0018-3", [(CYRILLIC, 1)])
    client = make()
    await client.push_stock([line("PH11042", 4), line("GONE-1", 1)])
    await client.read_stock([line("PH11042", 0), line(CYRILLIC, 0)])
    await client.new_orders()

    for path in (STOCKS_PATH, STOCK_INFO_PATH, UNFULFILLED_PATH):
        [call] = ozon.calls(path)
        assert spec.request_problems(path, "post", call.body) == [], path
        answer = await _raw(http, ozon, path, call.body)  # the emulator's answer, asked again
        assert answer.status_code == 200, path
        assert spec.response_problems(path, "post", 200, answer.json()) == [], path
    # the stock answer asked again holds both kinds of per-item error, each in the spec's shape
    again = (await _raw(http, ozon, STOCKS_PATH, ozon.calls(STOCKS_PATH)[0].body)).json()
    assert [error["code"] for item in again["result"] for error in item["errors"]] == [
        "TOO_MANY_REQUESTS",
        "offer_id_not_found",
    ]


async def test_error_answers_follow_the_vendor_spec(
    spec: VendorSpec, ozon: OzonEmulator, http: httpx.AsyncClient
) -> None:
    item = {"offer_id": "PH11042", "stock": 1, "warehouse_id": WH}
    bad_request = await _raw(http, ozon, STOCKS_PATH, {"stocks": [{"offer_id": "PH11042", "stock": 1}]})
    bad_filter = await _raw(http, ozon, STOCK_INFO_PATH, {"limit": 1})
    bad_period = await _raw(http, ozon, UNFULFILLED_PATH, {"filter": {}, "limit": 1})
    url = ozon.base_url.rstrip("/") + STOCKS_PATH
    wrong_key = await http.post(url, json={"stocks": [item]}, headers={"Client-Id": CLIENT_ID, "Api-Key": "x"})
    ozon.fail_with(500)
    failed = await _raw(http, ozon, STOCKS_PATH, {"stocks": [item]})
    ozon.recover()
    listed = [(STOCKS_PATH, bad_request), (STOCK_INFO_PATH, bad_filter), (UNFULFILLED_PATH, bad_period)]
    listed += [(STOCKS_PATH, wrong_key), (STOCKS_PATH, failed)]

    assert [response.status_code for _, response in listed] == [400, 400, 400, 403, 500]
    for path, response in listed:
        assert spec.response_problems(path, "post", response.status_code, response.json()) == [], path
    # Ozon's spec lists no 401 or 429 for these methods; Ozon answers them, as every error, in rpcStatus
    missing_headers = await http.post(url, json={"stocks": [item]})
    ozon.force_rate_limit(path=STOCKS_PATH)
    limited = await _raw(http, ozon, STOCKS_PATH, {"stocks": [item]})
    assert (missing_headers.status_code, limited.status_code) == (401, 429)
    assert spec.component_problems("rpcStatus", missing_headers.json()) == []
    assert spec.component_problems("rpcStatus", limited.json()) == []


def test_the_spec_check_reports_what_the_spec_forbids(spec: VendorSpec) -> None:
    """The check bites: wrong types, missing and undeclared fields are each reported, where they are."""
    wrong = {"stocks": [{"offer_id": "PH11042", "stock": "100", "warehouse_id": WH, "quantity": 1}, {"offer_id": 7}]}

    assert spec.request_problems(STOCKS_PATH, "post", wrong) == [
        "$.stocks[0]: 'quantity' not among the properties the spec declares",
        "$.stocks[0].stock: '100' is not of type 'integer'",
        "$.stocks[1]: 'stock' is a required property",
        "$.stocks[1]: 'warehouse_id' is a required property",
        "$.stocks[1].offer_id: 7 is not of type 'string'",
    ]
    # the override drops only what is stale: a body with neither quant_size nor product_id passes
    assert (
        spec.request_problems(STOCKS_PATH, "post", {"stocks": [{"offer_id": "X", "stock": 1, "warehouse_id": 1}]}) == []
    )
    # and the nulls Ozon answers are let in only where it answers them
    assert spec.component_problems("v3FbsPosting", {"customer": None, "products": None}) == [
        "$.products: None is not of type 'array'"
    ]
    # an override stops loading once Ozon mends its spec, so it is dropped rather than kept for nothing
    stale_required = next(o for o in OVERRIDES if isinstance(o, StaleRequired))
    with pytest.raises(SpecChanged, match="no longer requires"):
        stale_required.apply({"required": ["stock", "warehouse_id"]}, {})
    assert spec.response_problems(STOCKS_PATH, "post", 400, {"code": "3", "message": None}) == [
        "$.code: '3' is not of type 'integer'",
        "$.message: None is not of type 'string'",
    ]
