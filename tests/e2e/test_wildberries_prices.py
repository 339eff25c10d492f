"""Prices on Wildberries: the channel client on the real ``httpx.AsyncClient`` against the Wildberries emulator over
HTTP (the prices API served on the same port as the others).

Time is a fake monotonic clock shared by the client's gates and the emulator's token buckets; the gates' ``sleep``
moves it, so nothing here really waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from emulators.wildberries import (
    PRICES_LIST_PATH,
    PRICES_UPLOAD_PATH,
    SIZE_PRICES_UPLOAD_PATH,
    WildberriesEmulator,
)
from integrations.rate_gate import RateGate
from integrations.wildberries import NO_CARD, WildberriesClient
from integrations.wildberries_prices import GATE_BURST, GATE_PER_MINUTE, ONE_PRICE_A_CARD, price_gate, whole_roubles
from tests.vendor_specs import WILDBERRIES_PRODUCTS, VendorSpec
from workflows.channels import ChannelRefused, ChannelUnavailable, PriceLine, SetsPrices

TOKEN = "eyJhbGciOiJFUzI1NiJ9.test-seller-token.sig"
WAREHOUSE = 658434
MUG, MUG_CHRT = "MUG-7", 1001
SHIRT = "SHIRT-01"
SHIRT_CHRT = {"S": 2001, "M": 2002, "L": 2003}
BOOTS = "BOOTS-9"  # a category with prices per size
BOOTS_CHRT = {"41": 4001, "42": 4002}
CARDS: list[dict[str, Any]] = [
    {"vendorCode": MUG, "sizes": [{"chrtId": MUG_CHRT, "techSize": "0"}]},
    {"vendorCode": SHIRT, "sizes": [{"chrtId": chrt, "techSize": size} for size, chrt in SHIRT_CHRT.items()]},
    {"vendorCode": BOOTS, "sizes": [{"chrtId": chrt, "techSize": size} for size, chrt in BOOTS_CHRT.items()]},
]
SLEEP_LATENCY = 1e-6  # a real sleep overshoots; an exact fake lets float dust ask for 1e-13 s


class FakeMonotonic:
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
        token=TOKEN, warehouses={WAREHOUSE: "Склад"}, cards=CARDS, clock=monotonic
    ) as emulator:
        emulator.allow_size_prices(BOOTS)
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


MakeClient = Callable[..., WildberriesClient]


@pytest.fixture
def make_client(wb: WildberriesEmulator, http: httpx.AsyncClient, monotonic: FakeMonotonic) -> MakeClient:
    def make(*, token: str = TOKEN, prices_gate: RateGate | None = None) -> WildberriesClient:
        def gate(per_minute: float, burst: int) -> RateGate:
            return RateGate(per_minute, burst, clock=monotonic, sleep=monotonic.sleep)

        return WildberriesClient(
            http,
            token=token,
            marketplace_base=wb.base_url,
            content_base=wb.base_url,
            prices_base=wb.base_url,
            warehouse_id=WAREHOUSE,
            gate=gate(300, 20),
            orders_gate=gate(300, 20),
            content_gate=gate(100, 5),
            prices_gate=prices_gate or price_gate(clock=monotonic, sleep=monotonic.sleep),
        )

    return make


@pytest.fixture
def wildberries(make_client: MakeClient) -> WildberriesClient:
    return make_client()


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(WILDBERRIES_PRODUCTS)


def line(offer_id: str, price: str, sku: str | None = None) -> PriceLine:
    return PriceLine(sku=sku or f"1c:{offer_id}", offer_id=offer_id, price=Decimal(price))


def uploads(wb: WildberriesEmulator, path: str = PRICES_UPLOAD_PATH) -> list[Any]:
    return [call for call in wb.calls(path) if call.path == path]


# -- pushing and reading back ----------------------------------------------------------------------------------


async def test_a_card_gets_our_price_in_whole_roubles_with_no_discount_and_reads_back(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    assert isinstance(wildberries, SetsPrices)

    outcome = await wildberries.push_prices([line(MUG, "499.50"), line(f"{SHIRT}/M", "1200")])

    assert set(outcome.accepted) == {f"1c:{MUG}", f"1c:{SHIRT}/M"} and not outcome.rejected
    assert wb.card_price(MUG) == (500, 0)  # half up to whole roubles
    assert wb.card_price(SHIRT) == (1200, 0)  # WB prices the card: every size
    [upload] = uploads(wb)
    assert upload.auth == "raw"
    assert upload.body == {
        "data": [
            {"nmID": wb.nm_id(MUG), "price": 500, "discount": 0},
            {"nmID": wb.nm_id(SHIRT), "price": 1200, "discount": 0},
        ]
    }
    shown = await wildberries.read_prices([line(MUG, "1"), line(f"{SHIRT}/L", "1"), line("NO-SUCH", "1")])
    assert shown == {f"1c:{MUG}": Decimal(500), f"1c:{SHIRT}/L": Decimal(1200)}
    assert whole_roubles(Decimal("499.50")) == shown[f"1c:{MUG}"]


async def test_a_discount_set_in_the_cabinet_shows_in_the_read_back_and_a_push_undoes_it(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    wb.set_price(MUG, 1000, discount=30)

    assert await wildberries.read_prices([line(MUG, "1000")]) == {f"1c:{MUG}": Decimal(700)}
    outcome = await wildberries.push_prices([line(MUG, "1000")])

    assert outcome.accepted == (f"1c:{MUG}",)
    assert wb.card_price(MUG) == (1000, 0)
    assert wb.price(MUG_CHRT) == 1000


async def test_prices_already_set_are_accepted(wb: WildberriesEmulator, wildberries: WildberriesClient) -> None:
    wb.set_price(MUG, 500)

    outcome = await wildberries.push_prices([line(MUG, "500")])

    assert outcome.accepted == (f"1c:{MUG}",)
    [upload] = uploads(wb)
    assert upload.status == 400  # WB: "The specified prices and discounts are already set"


async def test_sizes_of_one_card_at_different_prices_are_rejected_where_the_category_has_one_price(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    outcome = await wildberries.push_prices(
        [line(f"{SHIRT}/S", "1000"), line(f"{SHIRT}/L", "1100"), line(MUG, "300"), line("NO-SUCH", "5")]
    )

    assert outcome.accepted == (f"1c:{MUG}",)
    assert outcome.rejected[f"1c:{SHIRT}/S"].startswith(ONE_PRICE_A_CARD)
    assert "1000 for 1c:SHIRT-01/S, 1100 for 1c:SHIRT-01/L" in outcome.rejected[f"1c:{SHIRT}/L"]
    assert outcome.rejected["1c:NO-SUCH"] == NO_CARD
    assert wb.card_price(SHIRT) is None


async def test_sizes_get_their_own_prices_where_the_category_allows(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    wb.set_price(BOOTS, 5000, discount=10)

    outcome = await wildberries.push_prices([line(f"{BOOTS}/41", "4990"), line(f"{BOOTS}/42", "5190.40")])

    assert set(outcome.accepted) == {f"1c:{BOOTS}/41", f"1c:{BOOTS}/42"}
    nm = wb.nm_id(BOOTS)
    [sizes] = uploads(wb, SIZE_PRICES_UPLOAD_PATH)
    assert sizes.body == {
        "data": [
            {"nmID": nm, "sizeID": BOOTS_CHRT["41"], "price": 4990},
            {"nmID": nm, "sizeID": BOOTS_CHRT["42"], "price": 5190},
        ]
    }
    [card] = uploads(wb)
    assert card.body == {"data": [{"nmID": nm, "discount": 0}]}  # the seller's discount goes, the price stays
    assert (wb.price(BOOTS_CHRT["41"]), wb.price(BOOTS_CHRT["42"])) == (4990, 5190)
    read = await wildberries.read_prices([line(f"{BOOTS}/41", "1"), line(f"{BOOTS}/42", "1")])
    assert read == {f"1c:{BOOTS}/41": Decimal(4990), f"1c:{BOOTS}/42": Decimal(5190)}
    # whether a card prices sizes is read once: the next push reads no list
    lists = len(wb.calls(PRICES_LIST_PATH))
    await wildberries.push_prices([line(f"{BOOTS}/41", "4999")])
    assert len(wb.calls(PRICES_LIST_PATH)) == lists


async def test_wbs_answer_that_names_no_card_is_settled_by_reading_the_prices_back(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    """WB's 400 "All item Nos. are specified incorrectly, or … already set" does not say which: a line that WB
    shows at the price sent is accepted, the others are rejected in WB's words."""
    wb.set_price(SHIRT, 1200)
    await wildberries.learn_products()
    wb.trash_card(MUG)  # deleted on WB after the client learned it

    outcome = await wildberries.push_prices([line(f"{SHIRT}/S", "1200"), line(MUG, "300")])

    assert outcome.accepted == (f"1c:{SHIRT}/S",)
    assert outcome.rejected == {
        f"1c:{MUG}": "Wildberries refused the prices: All item Nos. are specified incorrectly, "
        "or the specified prices and discounts are already set"
    }


async def test_a_price_wb_refuses_refuses_the_request_in_wbs_words(wildberries: WildberriesClient) -> None:
    with pytest.raises(ChannelRefused) as refused:
        await wildberries.push_prices([line(MUG, "2000000000")])

    assert refused.value.reason == "Wildberries refused the request: HTTP 400: Invalid price value"


async def test_a_price_below_a_rouble_is_rejected_without_a_request(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    outcome = await wildberries.push_prices([line(MUG, "0.40")])

    assert "not a Wildberries price" in outcome.rejected[f"1c:{MUG}"]
    assert uploads(wb) == []


async def test_a_card_never_priced_reads_back_as_no_price_and_gets_prices_per_size_at_once(
    wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    assert await wildberries.read_prices([line(f"{BOOTS}/41", "1")]) == {}  # WB lists it at 0

    outcome = await wildberries.push_prices([line(f"{BOOTS}/41", "900"), line(f"{BOOTS}/42", "950")])

    assert set(outcome.accepted) == {f"1c:{BOOTS}/41", f"1c:{BOOTS}/42"}
    assert (wb.price(BOOTS_CHRT["41"]), wb.price(BOOTS_CHRT["42"])) == (900, 950)


# -- limits, refusals, failures --------------------------------------------------------------------------------


async def test_more_than_the_batch_limit_is_the_callers_error(wildberries: WildberriesClient) -> None:
    assert wildberries.price_batch_limit == 1000
    with pytest.raises(ValueError, match="at most 1000"):
        await wildberries.push_prices([line(f"X-{n}", "10") for n in range(1001)])


async def test_a_full_batch_of_1000_cards_goes_in_one_upload(monotonic: FakeMonotonic, http: httpx.AsyncClient) -> None:
    cards = [{"vendorCode": f"A-{n}", "sizes": [{"chrtId": 10_000 + n}]} for n in range(1000)]
    async with WildberriesEmulator(token=TOKEN, warehouses={WAREHOUSE: "A"}, cards=cards, clock=monotonic) as wb:
        gate = RateGate(100, 5, clock=monotonic, sleep=monotonic.sleep)
        client = WildberriesClient(
            http, token=TOKEN, marketplace_base=wb.base_url, content_base=wb.base_url, prices_base=wb.base_url,
            warehouse_id=WAREHOUSE, content_gate=gate, prices_gate=price_gate(clock=monotonic, sleep=monotonic.sleep),
        )  # fmt: skip

        outcome = await client.push_prices([line(f"A-{n}", str(100 + n)) for n in range(1000)])

        assert len(outcome.accepted) == 1000
        [upload] = uploads(wb)
        assert len(upload.body["data"]) == 1000 and upload.status == 200
        assert len(wb.calls(PRICES_LIST_PATH)) == 1  # 1000 cards a read


async def test_a_429_gives_its_retry_hint_and_the_gate_holds_off(
    wb: WildberriesEmulator, wildberries: WildberriesClient, monotonic: FakeMonotonic
) -> None:
    await wildberries.push_prices([line(MUG, "100")])
    wb.force_rate_limit(1, retry_after=6, group="prices")

    with pytest.raises(ChannelUnavailable) as limited:
        await wildberries.push_prices([line(MUG, "101")])
    assert limited.value.retry_after == 6
    assert "retry in 6 s" in str(limited.value)
    start = monotonic.now

    assert (await wildberries.push_prices([line(MUG, "102")])).accepted == (f"1c:{MUG}",)
    assert monotonic.now - start >= 6
    assert wb.card_price(MUG) == (102, 0)


async def test_a_503_is_unavailable_and_a_wrong_token_refused(
    wb: WildberriesEmulator, wildberries: WildberriesClient, make_client: MakeClient
) -> None:
    await wildberries.learn_products()
    wb.fail_with(503)
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await wildberries.push_prices([line(MUG, "100")])
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await wildberries.read_prices([line(MUG, "100")])
    wb.recover()

    stranger = make_client(token="wrong-token-value")
    with pytest.raises(ChannelRefused) as refused:
        await stranger.push_prices([line(MUG, "100")])
    assert "HTTP 401" in refused.value.reason and "wrong-token-value" not in refused.value.reason


async def test_the_emulators_bucket_refuses_the_6th_request_at_once(
    wb: WildberriesEmulator, http: httpx.AsyncClient
) -> None:
    url = wb.base_url.rstrip("/") + PRICES_LIST_PATH
    statuses = []
    for _ in range(6):
        response = await http.post(url, json={"nmList": [wb.nm_id(MUG)]}, headers={"Authorization": TOKEN})
        statuses.append(response.status_code)

    assert statuses == [200] * 5 + [429]
    assert response.headers["X-Ratelimit-Retry"] == "1"


async def test_the_clients_gate_keeps_a_run_of_pushes_under_wbs_bucket(
    wb: WildberriesEmulator, wildberries: WildberriesClient, monotonic: FakeMonotonic
) -> None:
    wb.set_price(MUG, 99)
    await wildberries.learn_products()
    start = monotonic.now

    for n in range(12):
        assert (await wildberries.push_prices([line(MUG, str(100 + n))])).accepted == (f"1c:{MUG}",)

    calls = wb.calls("/api/v2/")
    assert len(calls) == 13 and all(call.status == 200 for call in calls)  # one list read, then 12 uploads
    # the gate's burst at once, then one every 60/96 s: the gate, not WB's 429, set the pace
    assert monotonic.now - start == pytest.approx((13 - GATE_BURST) * 60 / GATE_PER_MINUTE, abs=1e-3)
    assert wb.card_price(MUG) == (111, 0)


# -- the wire against WB's spec --------------------------------------------------------------------------------


async def test_the_requests_match_wbs_spec(
    spec: VendorSpec, wb: WildberriesEmulator, wildberries: WildberriesClient
) -> None:
    wb.set_price(BOOTS, 5000)
    await wildberries.push_prices([line(MUG, "10"), line(f"{BOOTS}/41", "20"), line(f"{BOOTS}/42", "30")])
    await wildberries.read_prices([line(MUG, "10")])

    for path in (PRICES_UPLOAD_PATH, SIZE_PRICES_UPLOAD_PATH, PRICES_LIST_PATH):
        for call in uploads(wb, path):
            assert spec.request_problems(path, "post", call.body) == [], path
    # the check bites: a fractional price, a misspelt name
    assert spec.request_problems(PRICES_UPLOAD_PATH, "post", {"data": [{"nmId": 1, "price": 1.5}]}) == [
        "$.data[0]: 'nmID' is a required property",
        "$.data[0]: 'nmId' not among the properties the spec declares",
        "$.data[0].price: 1.5 is not of type 'integer'",
    ]


async def test_the_emulators_answers_match_wbs_spec(
    spec: VendorSpec, wb: WildberriesEmulator, http: httpx.AsyncClient, monotonic: FakeMonotonic
) -> None:
    answers: list[tuple[str, str, httpx.Response]] = []

    async def ask(method: str, path: str, body: Any = None, *, params: Any = None, token: str = TOKEN) -> None:
        monotonic.now += 60  # a full bucket for every request: the limits are tested above
        url = wb.base_url.rstrip("/") + path
        response = await http.request(method, url, json=body, params=params, headers={"Authorization": token})
        answers.append((method, path, response))

    mug, boots = wb.nm_id(MUG), wb.nm_id(BOOTS)
    await ask("POST", PRICES_UPLOAD_PATH, {"data": [{"nmID": mug, "price": 500, "discount": 0}]})
    await ask("POST", PRICES_UPLOAD_PATH, {"data": [{"nmID": mug, "price": 500, "discount": 0}]})
    await ask("POST", PRICES_UPLOAD_PATH, {"data": [{"nmID": 1, "price": 500}]})
    await ask("POST", PRICES_UPLOAD_PATH, {"data": [{"nmID": mug, "price": 5.5}]})
    await ask("POST", SIZE_PRICES_UPLOAD_PATH, {"data": [{"nmID": boots, "sizeID": BOOTS_CHRT["41"], "price": 900}]})
    await ask("POST", SIZE_PRICES_UPLOAD_PATH, {"data": [{"nmID": mug, "sizeID": MUG_CHRT, "price": 900}]})
    await ask("POST", PRICES_LIST_PATH, {"nmList": [mug, boots]})
    await ask("GET", PRICES_LIST_PATH, params={"limit": 10, "offset": 0})
    await ask("GET", PRICES_LIST_PATH, params={"limit": 10, "filterNmID": mug})
    await ask("POST", PRICES_UPLOAD_PATH, {"data": []}, token="wrong")
    wb.force_rate_limit(group="prices")
    await ask("POST", PRICES_UPLOAD_PATH, {"data": [{"nmID": mug, "price": 501}]})

    assert [response.status_code for *_, response in answers] == [200, 400, 400, 400, 200, 400, 200, 200, 200, 401, 429]
    assert [answers[n][2].json()["errorText"] for n in (1, 3)] == [
        "The specified prices and discounts are already set",
        "Price should be a whole number",
    ]
    listed = answers[6][2].json()["data"]["listGoods"]
    assert [(good["nmID"], good["editableSizePrice"]) for good in listed] == [(mug, False), (boots, True)]
    assert [good["nmID"] for good in answers[8][2].json()["data"]["listGoods"]] == [mug]
    for method, path, response in answers:
        problems = spec.response_problems(path, method, response.status_code, response.json())
        assert problems == [], (method, path, response.status_code)
