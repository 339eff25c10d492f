"""Yandex Market prices (``SetsPrices``): the real ``httpx`` client against the Market emulator over HTTP, the
requests checked against the Market's OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from emulators.yandex_market import GET_PRICES, UPDATE_PRICES, YandexMarketEmulator
from integrations.rate_gate import RateGate
from integrations.yandex_market import YandexMarketClient
from tests.vendor_specs import YANDEX_MARKET as YANDEX_MARKET_SPEC
from tests.vendor_specs import VendorSpec
from workflows.channels import ChannelRefused, ChannelUnavailable, PriceLine, SetsPrices

KEY = "ACMA:secret-api-key-0123456789:abcdef"
CAMPAIGN = 21_000_123
OFFERS = ["A-1", "A-2", "Куртка зимняя 48"]
UPDATES_PATH = "/v2/campaigns/{campaignId}/offer-prices/updates"
READ_PATH = "/v2/campaigns/{campaignId}/offer-prices"


class Seconds:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seconds() -> Seconds:
    return Seconds()


@pytest.fixture
async def ym(seconds: Seconds) -> AsyncIterator[YandexMarketEmulator]:
    async with YandexMarketEmulator(KEY, CAMPAIGN, offers=OFFERS, clock=seconds) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


@pytest.fixture
def market(ym: YandexMarketEmulator, http: httpx.AsyncClient) -> YandexMarketClient:
    return YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN)


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(YANDEX_MARKET_SPEC)


def line(offer_id: str, price: str) -> PriceLine:
    return PriceLine(sku=f"our-{offer_id}", offer_id=offer_id, price=Decimal(price))


async def test_prices_are_set_and_read_back(
    spec: VendorSpec, ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    assert isinstance(market, SetsPrices)
    lines = [line("A-1", "1290.50"), line("Куртка зимняя 48", "7999")]

    outcome = await market.push_prices(lines)

    assert outcome.accepted == ("our-A-1", "our-Куртка зимняя 48")
    assert outcome.rejected == {} and outcome.retry == ()
    held = ym.price("A-1")
    assert held is not None and held.value == Decimal("1290.50") and held.currency == "RUR"
    [push] = ym.calls_of(UPDATE_PRICES)
    assert (push.method, push.path, push.key_ok) == ("POST", f"/v2/campaigns/{CAMPAIGN}/offer-prices/updates", True)
    assert push.body == {
        "offers": [
            {"offerId": "A-1", "price": {"value": 1290.5, "currencyId": "RUR"}},
            {"offerId": "Куртка зимняя 48", "price": {"value": 7999.0, "currencyId": "RUR"}},
        ]
    }
    assert spec.request_problems(UPDATES_PATH, "post", push.body) == []

    shown = await market.read_prices([*lines, line("A-2", "1")])

    assert shown == {"our-A-1": Decimal("1290.50"), "our-Куртка зимняя 48": Decimal("7999")}  # A-2 has no price
    [read] = ym.calls_of(GET_PRICES)
    assert read.body == {"offerIds": ["A-1", "Куртка зимняя 48", "A-2"]}
    assert spec.request_problems(READ_PATH, "post", read.body) == []


async def test_the_emulators_price_answers_match_the_spec(
    spec: VendorSpec, ym: YandexMarketEmulator, http: httpx.AsyncClient
) -> None:
    updates = f"{ym.base_url}v2/campaigns/{CAMPAIGN}/offer-prices/updates"
    read = f"{ym.base_url}v2/campaigns/{CAMPAIGN}/offer-prices"
    key = {"Api-Key": KEY}
    body = {"offers": [{"offerId": "A-1", "price": {"value": 10.5, "currencyId": "RUR"}}]}
    answers = [
        (UPDATES_PATH, await http.post(updates, json=body, headers=key)),
        (READ_PATH, await http.post(read, json={"offerIds": ["A-1", "A-2"]}, headers=key)),
        (UPDATES_PATH, await http.post(updates, json={"offers": [{"offerId": "NOPE", "price": {"value": 1}}]},
                                       headers=key)),
        (UPDATES_PATH, await http.post(updates, json=body)),
    ]  # fmt: skip
    ym.same_prices_everywhere = True
    answers.append((UPDATES_PATH, await http.post(updates, json=body, headers=key)))

    assert [response.status_code for _, response in answers] == [200, 200, 400, 401, 423]
    assert answers[1][1].json()["result"]["offers"][0]["price"] == {"value": 10.5, "currencyId": "RUR"}
    for path, response in answers:
        assert spec.response_problems(path, "post", response.status_code, response.json()) == [], response.status_code


async def test_an_offer_the_market_refuses_is_rejected_in_its_words_and_the_rest_set(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    outcome = await market.push_prices([line("A-1", "100"), line("NOT-LISTED", "200"), line("A-2", "300")])

    assert outcome.accepted == ("our-A-1", "our-A-2")
    assert outcome.rejected == {"our-NOT-LISTED": "OFFER_NOT_FOUND: offer 'NOT-LISTED': no such offer in the campaign"}
    assert [call.status for call in ym.calls_of(UPDATE_PRICES)] == [400, 200]
    assert ym.price("A-2") is not None and ym.price("NOT-LISTED") is None


async def test_prices_the_market_cannot_take_are_rejected_without_sending(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    outcome = await market.push_prices([line("A-1", "0"), line("A-2", "10.555"), line("A-1 ", "5")])

    assert set(outcome.rejected) == {"our-A-1", "our-A-2", "our-A-1 "}
    assert "not a positive amount" in outcome.rejected["our-A-1"]
    assert "more than two decimals" in outcome.rejected["our-A-2"]
    assert ym.calls_of(UPDATE_PRICES) == []


async def test_limited_and_failing_are_unavailable_with_the_hint(
    ym: YandexMarketEmulator, market: YandexMarketClient
) -> None:
    ym.refuse(UPDATE_PRICES, retry_after=7)
    with pytest.raises(ChannelUnavailable) as limited:
        await market.push_prices([line("A-1", "100")])
    assert limited.value.retry_after == 7.0
    assert "HTTP 420: REQUEST_LIMIT_EXCEEDED" in str(limited.value) and "retry in 7 s" in str(limited.value)

    ym.fail_with(503)
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await market.read_prices([line("A-1", "100")])


async def test_a_wrong_key_and_shared_prices_are_refused(
    ym: YandexMarketEmulator, http: httpx.AsyncClient, market: YandexMarketClient
) -> None:
    wrong_key = "ACMA:not-the-key-9876543210:fedcba"
    wrong = YandexMarketClient(http, api_key=wrong_key, base=ym.base_url, campaign_id=CAMPAIGN)
    with pytest.raises(ChannelRefused, match="HTTP 403: FORBIDDEN") as refused:
        await wrong.push_prices([line("A-1", "100")])
    assert wrong_key not in str(refused.value) and wrong_key not in repr(wrong)

    ym.same_prices_everywhere = True
    with pytest.raises(ChannelRefused, match="HTTP 423: LOCKED: Prices are the same for all stores"):
        await market.push_prices([line("A-1", "100")])


async def test_the_batch_limit_and_the_offers_a_minute(
    ym: YandexMarketEmulator, http: httpx.AsyncClient, seconds: Seconds
) -> None:
    ym.add_offer(*(f"P-{number}" for number in range(600)))
    unpaced = RateGate(per_minute=10**9, burst=10**6)  # the emulator's minute, not the gate, is under test
    market = YandexMarketClient(http, api_key=KEY, base=ym.base_url, campaign_id=CAMPAIGN, price_gate=unpaced)
    assert market.price_batch_limit == 400
    with pytest.raises(ValueError, match="at most 400"):
        await market.push_prices([line(f"P-{number}", "10") for number in range(401)])

    for start in range(0, 10_000, 400):
        chunk = [line(f"P-{number % 600}", str(10 + start)) for number in range(start, start + 400)]
        assert len((await market.push_prices(chunk)).accepted) == 400
    with pytest.raises(ChannelUnavailable, match="10000 offers per minute"):
        await market.push_prices([line("A-1", "100")])

    seconds.now += 60
    assert (await market.push_prices([line("A-1", "100")])).accepted == ("our-A-1",)


def test_a_push_fits_both_the_campaign_and_the_business_method(spec: VendorSpec, market: YandexMarketClient) -> None:
    campaign = spec.schema(spec.request_schema(UPDATES_PATH, "post"))["properties"]["offers"]
    business = spec.schema(spec.component("UpdateBusinessPricesRequest"))["properties"]["offers"]
    assert market.price_batch_limit <= business["maxItems"] == 500 <= campaign["maxItems"]
    read = spec.schema(spec.request_schema(READ_PATH, "post"))["properties"]["offerIds"]
    assert read["maxItems"] == 500
