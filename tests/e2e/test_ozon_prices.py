"""Prices on Ozon: the channel client on the real ``httpx.AsyncClient`` against the Ozon emulator over HTTP.

Time is a fake clock shared by the client (its gates, the 10 updates a product an hour) and the emulator (its
limits): the gates' sleep moves it, so nothing here really waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from emulators.ozon import IMPORT_PRICES_PATH, PER_SECOND_MESSAGE, PRICE_INFO_PATH, OzonEmulator
from integrations.ozon import OzonClient
from integrations.ozon_prices import QUOTA_WINDOW_S, UPDATES_PER_PRODUCT, ozon_price
from tests.vendor_specs import OZON as OZON_SPEC
from tests.vendor_specs import VendorSpec
from workflows.channels import ChannelRefused, ChannelUnavailable, PriceLine, SetsPrices

CLIENT_ID = "836125"
API_KEY = "0f5e3c1a-9d2b-4c77-8a41-5b6f0e2d9c18"
WH = 22142605386000
CYRILLIC = "УТ-0001365"
MANY = [f"A{n:04}" for n in range(1000)]


class Time:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def line(offer: str, price: str, sku: str | None = None) -> PriceLine:
    return PriceLine(sku=sku or f"sku-{offer}", offer_id=offer, price=Decimal(price))


@pytest.fixture
def t() -> Time:
    return Time()


@pytest.fixture
async def ozon(t: Time) -> AsyncIterator[OzonEmulator]:
    products = ["PH11042", "MUG-7", CYRILLIC, *MANY]
    async with OzonEmulator(CLIENT_ID, API_KEY, [WH], products, clock=t.clock) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
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
        }
        return OzonClient(http, **(settings | overrides))

    return build


@pytest.fixture
def client(make: Callable[..., OzonClient]) -> OzonClient:
    return make()


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(OZON_SPEC)


# -- pushing and reading back ----------------------------------------------------------------------------------


async def test_prices_are_set_as_strings_with_no_old_price_and_read_back(
    ozon: OzonEmulator, client: OzonClient
) -> None:
    assert isinstance(client, SetsPrices)
    ozon.set_price("MUG-7", Decimal(900), old_price=Decimal(1200))  # a struck-out price set in the cabinet

    outcome = await client.push_prices([line("PH11042", "1448"), line("MUG-7", "499.5"), line(CYRILLIC, "1259.99")])

    assert outcome.accepted == ("sku-PH11042", "sku-MUG-7", f"sku-{CYRILLIC}") and not outcome.rejected
    [call] = ozon.calls(IMPORT_PRICES_PATH)
    assert (call.client_id, call.key, call.status) == (CLIENT_ID, "ok", 200)
    assert call.body == {
        "prices": [
            {"currency_code": "RUB", "offer_id": "PH11042", "old_price": "0", "price": "1448"},
            {"currency_code": "RUB", "offer_id": "MUG-7", "old_price": "0", "price": "499.50"},
            {"currency_code": "RUB", "offer_id": CYRILLIC, "old_price": "0", "price": "1259.99"},
        ]
    }
    assert (ozon.price("MUG-7"), ozon.old_price("MUG-7")) == (Decimal("499.50"), Decimal(0))
    shown = await client.read_prices(
        [line("PH11042", "1"), line("MUG-7", "1"), line(CYRILLIC, "1"), line("A0001", "1")]
    )
    assert shown == {
        "sku-PH11042": Decimal(1448),
        "sku-MUG-7": Decimal("499.50"),
        f"sku-{CYRILLIC}": Decimal("1259.99"),
    }
    assert "sku-A0001" not in shown  # listed by Ozon, never priced
    assert ozon.calls(PRICE_INFO_PATH)[0].body["filter"]["offer_id"] == ["PH11042", "MUG-7", CYRILLIC, "A0001"]


def test_our_price_is_written_as_ozon_reads_it() -> None:
    assert [ozon_price(Decimal(p)) for p in ("1448", "1448.00", "499.5", "0.01", "10.005")] == [
        "1448",
        "1448",
        "499.50",
        "0.01",
        "10.01",
    ]


async def test_items_ozon_refuses_are_rejected_in_ozons_words(ozon: OzonEmulator, client: OzonClient) -> None:
    ozon.set_price_bounds("MUG-7", Decimal(100), Decimal(5000))

    outcome = await client.push_prices([line("MUG-7", "9999"), line("NO-SUCH", "10"), line("PH11042", "100")])

    assert outcome.accepted == ("sku-PH11042",)
    assert outcome.rejected == {
        "sku-MUG-7": "Ozon refused the price: invalid_category_price: "
        "Попытка установить слишком высокую или слишком низкую цену на товар.",
        "sku-NO-SUCH": "Ozon refused the price: NOT_FOUND_ERROR: Товара с таким идентификатором нет в личном кабинете.",
    }
    assert ozon.price("MUG-7") is None


async def test_lines_that_cannot_be_prices_are_rejected_without_asking_ozon(
    ozon: OzonEmulator, client: OzonClient
) -> None:
    outcome = await client.push_prices(
        [line("MUG-7", "0"), line("X" * 51, "10"), line("PH11042", "5", sku="a"), line("PH11042", "6", sku="b")]
    )

    assert set(outcome.rejected) == {"sku-MUG-7", f"sku-{'X' * 51}", "b"}
    assert outcome.accepted == ("a",)
    assert ozon.price("PH11042") == Decimal(5)


async def test_ten_updates_a_product_an_hour_then_the_client_holds_it_back(
    ozon: OzonEmulator, client: OzonClient, t: Time
) -> None:
    for n in range(UPDATES_PER_PRODUCT):
        assert (await client.push_prices([line("MUG-7", str(100 + n))])).accepted == ("sku-MUG-7",)
    sent = len(ozon.calls(IMPORT_PRICES_PATH))

    held = await client.push_prices([line("MUG-7", "200"), line("PH11042", "300")])

    assert held.retry == ("sku-MUG-7",) and held.accepted == ("sku-PH11042",)
    assert [item["offer_id"] for item in ozon.calls(IMPORT_PRICES_PATH)[-1].body["prices"]] == ["PH11042"]
    assert len(ozon.calls(IMPORT_PRICES_PATH)) == sent + 1
    t.now += QUOTA_WINDOW_S
    assert (await client.push_prices([line("MUG-7", "200")])).accepted == ("sku-MUG-7",)
    assert ozon.price("MUG-7") == Decimal(200)


async def test_ozons_own_too_many_requests_per_item_is_a_retry(
    ozon: OzonEmulator, make: Callable[..., OzonClient]
) -> None:
    """Another client of the same account (the cabinet, a second process) used up the product's hour."""
    other = make()
    for n in range(UPDATES_PER_PRODUCT):
        await other.push_prices([line("MUG-7", str(100 + n))])

    outcome = await make().push_prices([line("MUG-7", "500")])

    assert outcome.retry == ("sku-MUG-7",) and not outcome.rejected
    assert ozon.calls(IMPORT_PRICES_PATH)[-1].status == 200


# -- limits, refusals, failures --------------------------------------------------------------------------------


async def test_a_batch_over_1000_is_the_callers_error_and_1000_go_in_one_request(
    ozon: OzonEmulator, client: OzonClient
) -> None:
    assert client.price_batch_limit == 1000
    with pytest.raises(ValueError, match="at most 1000"):
        await client.push_prices([line(f"B{n}", "10") for n in range(1001)])

    outcome = await client.push_prices([line(offer, "10") for offer in MANY])

    assert len(outcome.accepted) == 1000
    [call] = ozon.calls(IMPORT_PRICES_PATH)
    assert len(call.body["prices"]) == 1000
    assert len(await client.read_prices([line(offer, "1") for offer in MANY])) == 1000


async def test_a_429_is_unavailable_with_ozons_hint_and_holds_the_gate(
    ozon: OzonEmulator, client: OzonClient, t: Time
) -> None:
    ozon.force_rate_limit(1, retry_after=3, path=IMPORT_PRICES_PATH)

    with pytest.raises(ChannelUnavailable) as limited:
        await client.push_prices([line("MUG-7", "100")])
    assert limited.value.retry_after == 3
    assert PER_SECOND_MESSAGE in str(limited.value) and "retry in 3 s" in str(limited.value)
    start = t.now

    assert (await client.push_prices([line("MUG-7", "100")])).accepted == ("sku-MUG-7",)  # 429 did not count
    assert t.now - start >= 3


async def test_a_5xx_is_unavailable_and_a_wrong_key_refused(
    ozon: OzonEmulator, client: OzonClient, make: Callable[..., OzonClient]
) -> None:
    ozon.fail_with(503)
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await client.push_prices([line("MUG-7", "100")])
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await client.read_prices([line("MUG-7", "100")])
    ozon.recover()

    with pytest.raises(ChannelRefused) as refused:
        await make(api_key="wrong-key-value").push_prices([line("MUG-7", "100")])
    assert "HTTP 403" in refused.value.reason and "wrong-key-value" not in str(refused.value)
    with pytest.raises(ChannelRefused, match="HTTP 401"):
        await make(api_key="").push_prices([line("MUG-7", "100")])


async def test_no_answer_in_time_is_unavailable_and_counts_towards_the_products_hour(
    ozon: OzonEmulator, t: Time
) -> None:
    async with httpx.AsyncClient(timeout=0.2) as impatient:  # gives up after 0.2 s
        client = OzonClient(
            impatient, client_id=CLIENT_ID, api_key=API_KEY, base=ozon.base_url, warehouse_id=WH, clock=t.clock,
            sleep=t.sleep,
        )  # fmt: skip
        for n in range(UPDATES_PER_PRODUCT - 1):
            await client.push_prices([line("MUG-7", str(100 + n))])
        ozon.hang()
        with pytest.raises(ChannelUnavailable, match="did not answer in time"):
            await client.push_prices([line("MUG-7", "300")])
        ozon.recover()

        outcome = await client.push_prices([line("MUG-7", "301")])

    assert outcome.retry == ("sku-MUG-7",)  # the lost request may have been Ozon's 10th update this hour
    sent = [item["price"] for call in ozon.calls(IMPORT_PRICES_PATH) for item in call.body["prices"]]
    assert "301" not in sent  # held back without a request


async def test_the_gate_keeps_a_run_of_pushes_within_a_strict_per_second_limit(
    t: Time, http: httpx.AsyncClient
) -> None:
    """An emulator that allows only 10 requests in any second: the price gate (5 at once, then 5 a second) never
    meets its 429."""
    async with OzonEmulator(CLIENT_ID, API_KEY, [WH], MANY[:40], clock=t.clock, requests_per_second=10) as strict:
        client = OzonClient(
            http, client_id=CLIENT_ID, api_key=API_KEY, base=strict.base_url, warehouse_id=WH, clock=t.clock,
            sleep=t.sleep,
        )  # fmt: skip

        for offer in MANY[:40]:
            assert (await client.push_prices([line(offer, "10")])).accepted == (f"sku-{offer}",)

        assert [call.status for call in strict.calls(IMPORT_PRICES_PATH)] == [200] * 40
        assert t.now == pytest.approx((40 - 5) / 5)


# -- the wire against Ozon's spec ------------------------------------------------------------------------------


async def test_requests_and_answers_follow_ozons_spec(
    spec: VendorSpec, ozon: OzonEmulator, client: OzonClient, http: httpx.AsyncClient
) -> None:
    await client.push_prices([line("PH11042", "1448"), line("NO-SUCH", "1")])
    await client.read_prices([line("PH11042", "1"), line("MUG-7", "1")])

    for path in (IMPORT_PRICES_PATH, PRICE_INFO_PATH):
        [call] = ozon.calls(path)
        assert spec.request_problems(path, "post", call.body) == [], path
        response = await http.post(
            ozon.base_url.rstrip("/") + path, json=call.body, headers={"Client-Id": CLIENT_ID, "Api-Key": API_KEY}
        )
        assert spec.response_problems(path, "post", 200, response.json()) == [], path
    refused = await http.post(
        ozon.base_url.rstrip("/") + IMPORT_PRICES_PATH,
        json={"prices": [{"offer_id": "PH11042", "price": "many"}]},
        headers={"Client-Id": CLIENT_ID, "Api-Key": API_KEY},
    )
    assert refused.status_code == 400
    assert spec.response_problems(IMPORT_PRICES_PATH, "post", 400, refused.json()) == []
    # the check bites: a price as a number, a name the spec does not have
    assert spec.request_problems(
        IMPORT_PRICES_PATH, "post", {"prices": [{"offer_id": "X", "price": 10, "sale": "1"}]}
    ) == [
        "$.prices[0]: 'sale' not among the properties the spec declares",
        "$.prices[0].price: 10 is not of type 'string'",
    ]
