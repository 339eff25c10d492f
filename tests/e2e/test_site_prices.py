"""The site's prices (``SetsPrices``; ``docs/site_stock_api.md``, ``PUT /prices`` and ``GET /prices``): the real
``httpx`` client against the site emulator over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from emulators.site import GET_PRICES, PUT_PRICES, SiteEmulator
from integrations.rate_gate import RateGate
from integrations.site import SiteClient, default_gate
from tests.fakes import FakeClock
from workflows.channels import ChannelRefused, ChannelUnavailable, PriceLine, SetsPrices, StockLine

TOKEN = "site-secret-token-0123456789abcdef"


class FakeSleep:
    """Sleeping moves a fake monotonic clock instead of waiting; the emulator's limit reads the same clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.fixture
def paused() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def site(paused: FakeSleep) -> AsyncIterator[SiteEmulator]:
    async with SiteEmulator(TOKEN, skus=["A-100", "B-7", "Куртка/48"], clock=paused.clock) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 21, 9, 0, tzinfo=UTC))


@pytest.fixture
def gate(paused: FakeSleep) -> RateGate:
    return default_gate(clock=paused.clock, sleep=paused.sleep)


@pytest.fixture
def client(site: SiteEmulator, http: httpx.AsyncClient, clock: FakeClock, gate: RateGate) -> SiteClient:
    return SiteClient(http, base=site.base_url, token=TOKEN, gate=gate, clock=clock.now)


def line(sku: str, price: str) -> PriceLine:
    return PriceLine(sku=sku, offer_id=sku, price=Decimal(price))


async def test_prices_are_set_and_read_back(site: SiteEmulator, client: SiteClient) -> None:
    assert isinstance(client, SetsPrices)

    outcome = await client.push_prices([line("A-100", "1290.5"), line("Куртка/48", "7999")])

    assert outcome.accepted == ("A-100", "Куртка/48") and outcome.rejected == {} and outcome.retry == ()
    assert site.price("A-100") == Decimal("1290.50")
    [push] = site.calls_of(PUT_PRICES)
    assert (push.method, push.path, push.token_ok, push.status) == ("PUT", "/api/prices", True, 200)
    assert push.body == {
        "items": [
            {"sku": "A-100", "price": "1290.50", "updated_at": "2026-11-21T09:00:00+00:00"},
            {"sku": "Куртка/48", "price": "7999.00", "updated_at": "2026-11-21T09:00:00+00:00"},
        ]
    }
    assert site.stock("A-100") is None  # a price is not a stock figure

    shown = await client.read_prices([line("A-100", "1"), line("Куртка/48", "1"), line("B-7", "1")])

    assert shown == {"A-100": Decimal("1290.50"), "Куртка/48": Decimal("7999")}  # B-7 has no price yet
    [read] = site.calls_of(GET_PRICES)
    assert read.query == (("sku", "A-100"), ("sku", "Куртка/48"), ("sku", "B-7"))


async def test_an_older_price_is_taken_but_not_applied(
    site: SiteEmulator, client: SiteClient, clock: FakeClock
) -> None:
    clock.advance(minutes=5)
    await client.push_prices([line("A-100", "200")])
    clock.advance(minutes=-10)

    late = await client.push_prices([line("A-100", "100")])

    assert late.accepted == ("A-100",)
    assert site.price("A-100") == Decimal("200")


async def test_a_rejected_item_carries_the_sites_words_and_the_rest_is_taken(
    site: SiteEmulator, client: SiteClient
) -> None:
    site.reject_price("B-7", "the price is below the floor set for this product")

    outcome = await client.push_prices([line("A-100", "10"), line("B-7", "1"), line("NOT-SOLD", "5")])

    assert outcome.accepted == ("A-100",)
    assert outcome.rejected == {"B-7": "the price is below the floor set for this product", "NOT-SOLD": "unknown sku"}
    assert site.price("B-7") is None


async def test_prices_the_site_cannot_take_are_rejected_without_sending(site: SiteEmulator, client: SiteClient) -> None:
    outcome = await client.push_prices([line("A-100", "0"), line("B-7", "1.005"), line("Куртка/48", "1000000000")])

    assert set(outcome.rejected) == {"A-100", "B-7", "Куртка/48"}
    assert "more than the site takes" in outcome.rejected["Куртка/48"]
    assert site.calls_of(PUT_PRICES) == []


async def test_the_emulator_refuses_a_price_not_as_documented(site: SiteEmulator, http: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    stamp = "2026-11-21T12:00:00+03:00"
    items = [
        {"sku": "A-100", "price": 1290.5, "updated_at": stamp},
        {"sku": "B-7", "price": "12.345", "updated_at": stamp},
        {"sku": "Куртка/48", "price": "12.30"},
    ]
    response = await http.put(f"{site.base_url}/prices", json={"items": items}, headers=headers)

    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == []
    assert [entry["sku"] for entry in answer["rejected"]] == ["A-100", "B-7", "Куртка/48"]
    assert answer["rejected"][2]["reason"] == "updated_at must be ISO-8601 with an offset"


async def test_429_and_5xx_are_unavailable_with_the_hint(site: SiteEmulator, client: SiteClient) -> None:
    site.refuse(PUT_PRICES, retry_after=3)
    with pytest.raises(ChannelUnavailable) as limited:
        await client.push_prices([line("A-100", "10")])
    assert limited.value.retry_after == 3.0 and "HTTP 429" in str(limited.value)

    site.fail_with(503)
    with pytest.raises(ChannelUnavailable, match="HTTP 503: the site is failing"):
        await client.read_prices([line("A-100", "10")])


async def test_a_missing_or_wrong_token_is_refused(site: SiteEmulator, http: httpx.AsyncClient) -> None:
    wrong = SiteClient(http, base=site.base_url, token="not-the-token")
    with pytest.raises(ChannelRefused, match="HTTP 403: the token is not valid"):
        await wrong.push_prices([line("A-100", "10")])
    response = await http.put(f"{site.base_url}/prices", json={"items": []})
    assert response.status_code == 401


async def test_the_batch_limit_and_the_shared_rate_limit(
    site: SiteEmulator, http: httpx.AsyncClient, client: SiteClient, paused: FakeSleep
) -> None:
    assert client.price_batch_limit == 1000
    with pytest.raises(ValueError, match="at most 1000"):
        await client.push_prices([line(f"S-{number}", "1") for number in range(1001)])
    too_many = [
        {"sku": f"S-{number}", "price": "1.00", "updated_at": "2026-11-21T12:00:00+03:00"} for number in range(1001)
    ]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert (await http.put(f"{site.base_url}/prices", json={"items": too_many}, headers=headers)).status_code == 413

    for _ in range(6):  # stock and prices share the site's 10 a second: the gate keeps both under it
        await client.push_prices([line("A-100", "10")])
        await client.push_stock([StockLine("A-100", "A-100", 1)])
    assert [call.status for call in site.calls[1:]] == [200] * 12
    assert paused.slept > 0
