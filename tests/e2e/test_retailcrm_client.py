"""The RetailCRM client, on the real ``httpx.AsyncClient``, against the RetailCRM emulator over HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from emulators.retailcrm import INVENTORIES, UPLOAD, RetailCrmEmulator
from integrations.rate_gate import RateGate
from integrations.retailcrm import RetailCrmClient
from workflows.channels import ChannelRefused, ChannelUnavailable, StockLine

KEY = "crm-secret-api-key-0123456789abcdef"
SITE = "shop"
STORES = ["main", "outlet"]
OFFERS = ["A-1", "A-2", "Куртка 48"]


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
    async with RetailCrmEmulator(KEY, SITE, STORES, OFFERS, clock=time_.clock) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


def make_client(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep, **overrides: object
) -> RetailCrmClient:
    options: dict[str, object] = {"api_key": KEY, "site": SITE, "store_code": "main"}
    options.update(overrides)
    return RetailCrmClient(http, base=crm.base_url, clock=time_.clock, sleep=time_.sleep, **options)  # type: ignore[arg-type]


@pytest.fixture
def client(crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep) -> RetailCrmClient:
    return make_client(crm, http, time_)


def line(offer_id: str, qty: int, sku: str | None = None) -> StockLine:
    return StockLine(sku=sku or f"our-{offer_id}", offer_id=offer_id, qty=qty)


# -- push ------------------------------------------------------------------------------------------------------


async def test_an_upload_is_accepted_and_held_per_store(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep, client: RetailCrmClient
) -> None:
    outcome = await client.push_stock([line("A-1", 15), line("Куртка 48", 0)])
    outlet = make_client(crm, http, time_, store_code="outlet")
    await outlet.push_stock([line("A-1", 4)])

    assert outcome.accepted == ("our-A-1", "our-Куртка 48") and outcome.rejected == {} and outcome.retry == ()
    assert crm.stock("A-1", "main") == 15 and crm.stock("A-1", "outlet") == 4
    assert crm.stock("Куртка 48", "main") == 0  # zero is sent, not left out
    assert crm.stock("A-2", "main") is None


async def test_the_upload_is_form_encoded_with_offers_as_a_json_string(
    crm: RetailCrmEmulator, client: RetailCrmClient
) -> None:
    await client.push_stock([line("A-1", 3)])

    [call] = crm.calls
    assert (call.method, call.path, call.status, call.key_ok) == ("POST", "/api/v5/" + UPLOAD, 200, True)
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.query == ()  # the key goes in the header, not the URL
    assert call.form["site"] == SITE
    assert json.loads(call.form["offers"]) == [{"xmlId": "A-1", "stores": [{"code": "main", "available": 3}]}]


async def test_offers_can_be_named_by_external_id(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep
) -> None:
    client = make_client(crm, http, time_, offer_field="externalId")

    outcome = await client.push_stock([line("A-2", 7), line("NOPE", 1)])

    assert json.loads(crm.calls[-1].form["offers"])[0] == {
        "externalId": "A-2",
        "stores": [{"code": "main", "available": 7}],
    }
    assert outcome.accepted == ("our-A-2",) and list(outcome.rejected) == ["our-NOPE"]
    assert await client.read_stock([line("A-2", 0)]) == {"our-A-2": 7}


async def test_an_unknown_offer_is_rejected_with_the_reason_and_the_rest_applied(
    crm: RetailCrmEmulator, client: RetailCrmClient
) -> None:
    outcome = await client.push_stock([line("A-1", 4), line("NOT-LISTED", 2), line("A-2", 6)])

    assert outcome.accepted == ("our-A-1", "our-A-2")
    assert list(outcome.rejected) == ["our-NOT-LISTED"]
    assert "no offer with xmlId 'NOT-LISTED'" in outcome.rejected["our-NOT-LISTED"]
    assert len(crm.calls) == 1
    assert crm.stock("A-1", "main") == 4 and crm.stock("A-2", "main") == 6


async def test_lines_it_could_not_take_as_meant_are_rejected_before_sending(
    crm: RetailCrmEmulator, client: RetailCrmClient
) -> None:
    outcome = await client.push_stock(
        [line("", 1, sku="empty"), line("A-1", -1, sku="negative"), line("A-2", 1, sku="x"), line("A-2", 2, sku="y")]
    )

    assert outcome.accepted == () and set(outcome.rejected) == {"empty", "negative", "x", "y"}
    assert crm.calls == []


async def test_more_than_the_batch_limit_is_a_value_error(crm: RetailCrmEmulator, client: RetailCrmClient) -> None:
    assert client.batch_limit == 250
    with pytest.raises(ValueError, match="250"):
        await client.push_stock([line(f"S-{n}", 1) for n in range(251)])
    assert crm.calls == []


async def test_the_batch_limit_goes_in_one_request(crm: RetailCrmEmulator, client: RetailCrmClient) -> None:
    crm.add_offer(*(f"S-{n}" for n in range(250)))

    outcome = await client.push_stock([line(f"S-{n}", n) for n in range(250)])

    assert len(outcome.accepted) == 250 and len(crm.calls) == 1 and crm.stock("S-249", "main") == 249


# -- refusals and failures -------------------------------------------------------------------------------------


async def test_success_false_is_channel_refused_with_the_error_msg(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep, client: RetailCrmClient
) -> None:
    crm.fail_with(200, "Account is blocked")
    with pytest.raises(ChannelRefused, match="Account is blocked"):
        await client.push_stock([line("A-1", 1)])
    crm.recover()

    other_site = make_client(crm, http, time_, site="elsewhere")
    with pytest.raises(ChannelRefused, match="HTTP 400: Site with code 'elsewhere' not found"):
        await other_site.push_stock([line("A-1", 1)])
    unknown_store = make_client(crm, http, time_, store_code="nowhere")
    with pytest.raises(ChannelRefused, match=r"stores\[0\]\.code: Store not found"):
        await unknown_store.push_stock([line("A-1", 1)])
    assert crm.stock("A-1", "main") is None


async def test_a_wrong_or_missing_key_is_channel_refused(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep
) -> None:
    with pytest.raises(ChannelRefused, match='HTTP 403: Wrong "apiKey" value'):
        await make_client(crm, http, time_, api_key="wrong").push_stock([line("A-1", 1)])
    with pytest.raises(ChannelRefused, match="HTTP 401"):
        await make_client(crm, http, time_, api_key="").read_stock([line("A-1", 1)])
    assert [call.key_ok for call in crm.calls] == [False, False]


async def test_a_503_is_channel_unavailable_until_recovery(crm: RetailCrmEmulator, client: RetailCrmClient) -> None:
    crm.fail_with(503, "Service unavailable")

    with pytest.raises(ChannelUnavailable, match="HTTP 503") as caught:
        await client.push_stock([line("A-1", 1)])
    assert caught.value.retry_after == 1.0
    crm.fail_with(500)
    with pytest.raises(ChannelUnavailable, match="HTTP 500"):
        await client.read_stock([line("A-1", 1)])
    crm.recover()
    assert (await client.push_stock([line("A-1", 1)])).accepted == ("our-A-1",)


async def test_more_than_10_a_second_is_a_503_and_channel_unavailable(
    crm: RetailCrmEmulator, http: httpx.AsyncClient, time_: FakeSleep
) -> None:
    careless = RateGate(per_minute=100_000, burst=100, clock=time_.clock, sleep=time_.sleep)
    client = make_client(crm, http, time_, gate=careless)
    for _ in range(10):
        await client.push_stock([line("A-1", 1)])

    with pytest.raises(ChannelUnavailable, match="Rate limit exceeded") as caught:
        await client.push_stock([line("A-1", 2)])

    assert caught.value.retry_after == 1.0
    assert [call.status for call in crm.calls] == [200] * 10 + [503]
    assert (await client.push_stock([line("A-1", 2)])).accepted == ("our-A-1",)  # the gate held off the second
    assert crm.stock("A-1", "main") == 2


async def test_the_default_gate_keeps_a_burst_of_30_uploads_under_10_a_second(
    crm: RetailCrmEmulator, client: RetailCrmClient, time_: FakeSleep
) -> None:
    start = time_.now
    # One after another: a fake sleep returns at once, so concurrent pushes would reach the emulator after the
    # clock had already moved for the later ones (an artefact of the fake clock, not of the gate).
    outcomes = [await client.push_stock([line("A-1", n)]) for n in range(30)]

    assert all(outcome.accepted == ("our-A-1",) for outcome in outcomes)
    assert [call.status for call in crm.calls] == [200] * 30
    assert time_.now - start >= 29 / 8 - 1e-6  # paced at 8 a second, on the fake clock


async def test_no_answer_in_time_or_nothing_listening_is_channel_unavailable(time_: FakeSleep) -> None:
    async def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(stall)) as http:
        client = RetailCrmClient(http, base="http://crm", api_key=KEY, site=SITE, store_code="main")
        with pytest.raises(ChannelUnavailable, match="in time"):
            await client.push_stock([line("A-1", 1)])
    async with httpx.AsyncClient(timeout=1.0) as http:
        client = RetailCrmClient(http, base="http://127.0.0.1:9", api_key=KEY, site=SITE, store_code="main")
        with pytest.raises(ChannelUnavailable, match="could not be reached"):
            await client.push_stock([line("A-1", 1)])


async def test_the_key_never_reaches_a_log_or_an_error(
    crm: RetailCrmEmulator, client: RetailCrmClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await client.push_stock([line("A-1", 1), line("NOT-LISTED", 1)])
    errors: list[Exception] = []
    for status in (503, 500, 403, 200):
        crm.fail_with(status)
        try:
            await client.push_stock([line("A-1", 1)])
        except (ChannelRefused, ChannelUnavailable) as error:
            errors.append(error)

    assert len(errors) == 4
    assert "1 offers not found" in caplog.text and KEY not in caplog.text
    assert KEY not in repr(client) and all(KEY not in str(error) for error in errors)


# -- stock back and orders -------------------------------------------------------------------------------------


async def test_read_stock_filters_by_offer_and_pages(crm: RetailCrmEmulator, client: RetailCrmClient) -> None:
    crm.add_offer(*(f"R-{n:03}" for n in range(300)))
    await client.push_stock([line(f"R-{n:03}", n) for n in range(250)])
    await client.push_stock([line("A-1", 9)])
    crm.calls.clear()

    lines = [line(f"R-{n:03}", 0) for n in range(300)] + [line("A-1", 0), line("A-2", 0), line("NOT-LISTED", 0)]
    shown = await client.read_stock(lines)

    assert shown["our-R-007"] == 7 and shown["our-R-249"] == 249
    assert shown["our-R-299"] == 0 and shown["our-A-2"] == 0  # listed, nothing in the store
    assert shown["our-A-1"] == 9 and "our-NOT-LISTED" not in shown
    reads = crm.calls_of(INVENTORIES)
    asked = [[value for name, value in read.query if name == "filter[offerXmlId][]"] for read in reads]
    assert len(reads) == 2 and all(len(chunk) <= 250 for chunk in asked)  # as many as fit a URL
    assert sorted(offer for chunk in asked for offer in chunk) == sorted(line.offer_id for line in lines)
    assert ("filter[sites][]", SITE) in reads[0].query
    assert ("filter[details]", "1") in reads[0].query and ("limit", "250") in reads[0].query


async def test_read_stock_follows_every_page(http: httpx.AsyncClient, time_: FakeSleep) -> None:
    async with RetailCrmEmulator(KEY, SITE, STORES, OFFERS, clock=time_.clock, max_page=2) as crm:
        client = make_client(crm, http, time_)
        await client.push_stock([line("A-1", 1), line("A-2", 2), line("Куртка 48", 3)])

        shown = await client.read_stock([line("A-1", 0), line("A-2", 0), line("Куртка 48", 0)])

    assert shown == {"our-A-1": 1, "our-A-2": 2, "our-Куртка 48": 3}
    pages = [dict(call.query)["page"] for call in crm.calls_of(INVENTORIES)]
    assert pages == ["1", "2"]


async def test_the_emulator_pages_and_refuses_what_retailcrm_would(
    crm: RetailCrmEmulator, http: httpx.AsyncClient
) -> None:
    crm.add_offer(*(f"P-{n:02}" for n in range(22)))  # 25 offers: two pages of 20
    url = crm.base_url + "api/v5/" + INVENTORIES
    second = (await http.get(url, params={"apiKey": KEY, "limit": 20, "page": 2})).json()
    bad_limit = await http.get(url, params={"limit": 7}, headers={"X-API-KEY": KEY})
    upload = crm.base_url + "api/v5/" + UPLOAD
    as_json = await http.post(upload, json={"offers": []}, headers={"X-API-KEY": KEY})
    not_json = await http.post(upload, data={"offers": "[{"}, headers={"X-API-KEY": KEY})

    assert second["success"] is True and len(second["offers"]) == 5
    assert second["pagination"] == {"limit": 20, "totalCount": 25, "currentPage": 2, "totalPageCount": 2}
    assert "stores" not in second["offers"][0]  # only with filter[details]
    assert all(name != "apiKey" for call in crm.calls for name, _ in call.query)  # nor the emulator
    for response in (bad_limit, as_json, not_json):
        assert response.status_code == 400
        assert response.json()["success"] is False and response.json()["errorMsg"]
    assert not_json.json()["errors"] == {"offers": "is not valid JSON"}
    assert crm.stocks == {}


async def test_new_orders_is_empty(client: RetailCrmClient, crm: RetailCrmEmulator) -> None:
    assert await client.new_orders() == []
    assert crm.calls == []
