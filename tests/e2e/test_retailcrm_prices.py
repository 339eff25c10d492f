"""RetailCRM prices (``SetsPrices``: ``store/prices/upload``, read back from ``store/offers``): the real ``httpx``
client against the RetailCRM emulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from emulators.retailcrm import OFFERS, PRICES_UPLOAD, RetailCrmEmulator
from integrations.retailcrm import RetailCrmClient
from workflows.channels import ChannelRefused, ChannelUnavailable, PriceLine, SetsPrices

KEY = "crm-secret-api-key-0123456789abcdef"
SITE = "shop"
CATALOGUE = ["A-1", "A-2", "Куртка 48"]


class FakeSleep:
    """Monotonic seconds that move only when someone sleeps (the gate) or the test moves them."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def time_() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def crm(time_: FakeSleep) -> AsyncIterator[RetailCrmEmulator]:
    async with RetailCrmEmulator(
        KEY, SITE, ["main"], CATALOGUE, price_types=["base", "wholesale"], clock=time_.clock
    ) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def make_client(crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep, **options: str) -> RetailCrmClient:
    return RetailCrmClient(
        http, base=crm.base_url, api_key=options.pop("api_key", KEY), site=SITE, store_code="main",
        clock=time_.clock, sleep=time_.sleep, **options,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def client(crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep) -> RetailCrmClient:
    return make_client(crm, http, time_)


def line(offer_id: str, price: str) -> PriceLine:
    return PriceLine(sku=f"our-{offer_id}", offer_id=offer_id, price=Decimal(price))


async def test_prices_are_uploaded_and_read_back(crm: RetailCrmEmulator, client: RetailCrmClient) -> None:
    assert isinstance(client, SetsPrices)

    outcome = await client.push_prices([line("A-1", "1290.50"), line("Куртка 48", "7999")])

    assert outcome.accepted == ("our-A-1", "our-Куртка 48") and outcome.rejected == {} and outcome.retry == ()
    assert crm.price("A-1") == Decimal("1290.5") and crm.price("A-1", "wholesale") is None
    [upload] = crm.calls_of(PRICES_UPLOAD)
    assert (upload.method, upload.path, upload.key_ok) == ("POST", "/api/v5/store/prices/upload", True)
    assert upload.content_type == "application/x-www-form-urlencoded"
    assert set(upload.form) == {"prices"}
    assert json.loads(upload.form["prices"]) == [
        {"xmlId": "A-1", "site": SITE, "prices": [{"code": "base", "price": 1290.5}]},
        {"xmlId": "Куртка 48", "site": SITE, "prices": [{"code": "base", "price": 7999.0}]},
    ]

    shown = await client.read_prices([line("A-1", "1"), line("Куртка 48", "1"), line("A-2", "1")])

    assert shown == {"our-A-1": Decimal("1290.50"), "our-Куртка 48": Decimal("7999")}  # A-2 has no price
    [read] = crm.calls_of(OFFERS)
    assert read.path == "/api/v5/store/offers"
    assert read.query == (
        ("filter[xmlIds][]", "A-1"), ("filter[xmlIds][]", "Куртка 48"), ("filter[xmlIds][]", "A-2"),
        ("filter[sites][]", SITE), ("limit", "100"), ("page", "1"),
    )  # fmt: skip


async def test_another_price_type_and_external_ids(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep
) -> None:
    client = make_client(crm, http, time_, price_type="wholesale", offer_field="externalId")

    assert (await client.push_prices([line("A-2", "55.10")])).accepted == ("our-A-2",)

    assert crm.price("A-2", "wholesale") == Decimal("55.1") and crm.price("A-2") is None
    assert json.loads(crm.calls_of(PRICES_UPLOAD)[0].form["prices"])[0]["externalId"] == "A-2"
    assert await client.read_prices([line("A-2", "1")]) == {"our-A-2": Decimal("55.10")}
    assert crm.calls_of(OFFERS)[0].query[0] == ("filter[externalIds][]", "A-2")


async def test_an_offer_the_crm_does_not_know_is_rejected_and_the_rest_set(
    crm: RetailCrmEmulator, client: RetailCrmClient
) -> None:
    outcome = await client.push_prices([line("A-1", "10"), line("GONE", "20")])

    assert outcome.accepted == ("our-A-1",)
    assert outcome.rejected == {"our-GONE": "RetailCRM has no offer with xmlId 'GONE' (notFoundOffers)"}
    assert crm.price("A-1") == Decimal("10")


async def test_prices_it_cannot_take_are_rejected_without_sending(
    crm: RetailCrmEmulator, client: RetailCrmClient
) -> None:
    outcome = await client.push_prices([line("A-1", "-1"), line("A-2", "0.001"), line("", "5")])

    assert set(outcome.rejected) == {"our-A-1", "our-A-2", "our-"}
    assert crm.calls_of(PRICES_UPLOAD) == []


async def test_an_unknown_price_type_refuses_the_upload_in_the_crms_words(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep
) -> None:
    client = make_client(crm, http, time_, price_type="retail")

    with pytest.raises(
        ChannelRefused, match=r"HTTP 400: .*prices\[0\]\.prices\[0\]\.code: Price type 'retail' not found"
    ):
        await client.push_prices([line("A-1", "10")])
    assert crm.price("A-1", "retail") is None


async def test_limited_and_failing_are_unavailable_with_the_hint(
    crm: RetailCrmEmulator, client: RetailCrmClient
) -> None:
    crm.fail_with(503, "Rate limit exceeded")
    with pytest.raises(ChannelUnavailable) as limited:
        await client.push_prices([line("A-1", "10")])
    assert limited.value.retry_after == 1.0 and "retry in 1 s" in str(limited.value)

    crm.fail_with(429, "Too many requests")
    with pytest.raises(ChannelUnavailable, match="HTTP 429: Too many requests; retry in 1 s"):
        await client.read_prices([line("A-1", "10")])

    crm.fail_with(500)
    with pytest.raises(ChannelUnavailable, match="HTTP 500: Internal server error"):
        await client.read_prices([line("A-1", "10")])


async def test_a_missing_or_wrong_key_is_refused(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep
) -> None:
    with pytest.raises(ChannelRefused, match='HTTP 403: Wrong "apiKey" value'):
        await make_client(crm, http, time_, api_key="wrong").push_prices([line("A-1", "10")])
    response = await http.post(f"{crm.base_url}api/v5/store/prices/upload", data={"prices": "[]"})
    assert response.status_code == 401


async def test_the_batch_limit_and_reads_of_many_offers(
    crm: RetailCrmEmulator, client: RetailCrmClient, time_: FakeSleep
) -> None:
    crm.add_offer(*(f"P-{number}" for number in range(250)))
    assert client.price_batch_limit == 250
    with pytest.raises(ValueError, match="at most 250"):
        await client.push_prices([line(f"P-{number}", "1") for number in range(251)])

    many = [line(f"P-{number}", f"{number + 1}.99") for number in range(250)]
    assert len((await client.push_prices(many)).accepted) == 250
    shown = await client.read_prices(many)

    assert shown == {f"our-P-{number}": Decimal(f"{number + 1}.99") for number in range(250)}
    assert [call.status for call in crm.calls_of(OFFERS)] == [200, 200, 200]  # 100 offers a request
    assert all(call.status == 200 for call in crm.calls)  # the gate kept under 10 a second
