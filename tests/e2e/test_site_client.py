"""The site client, on the real ``httpx.AsyncClient``, against the site emulator over HTTP
(``docs/site_stock_api.md``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from emulators.site import GET_ORDER_EVENTS, GET_STOCK, PUT_STOCK, SiteEmulator
from integrations.rate_gate import RateGate
from integrations.site import EVENT_PAGES, EVENTS_PAGE, SiteClient, default_gate
from tests.fakes import FakeClock
from workflows.channels import (
    ChannelOrderEvent,
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    OrderEventKind,
    ReportsOrderEvents,
    StockLine,
)

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
    async with SiteEmulator(TOKEN, clock=paused.clock) as emulator:
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


def line(sku: str, qty: int) -> StockLine:
    return StockLine(sku=sku, offer_id=sku, qty=qty)


# -- stock out -------------------------------------------------------------------------------------------------


async def test_a_push_is_accepted_and_held(site: SiteEmulator, client: SiteClient) -> None:
    outcome = await client.push_stock([line("A-1", 3), line("Куртка зимняя 48", 0)])

    assert outcome.accepted == ("A-1", "Куртка зимняя 48") and outcome.rejected == {} and outcome.retry == ()
    assert site.stock("A-1") == 3 and site.stock("Куртка зимняя 48") == 0
    [call] = site.calls_of(PUT_STOCK)
    assert call.body == {
        "items": [
            {"sku": "A-1", "available": 3, "updated_at": "2026-11-21T09:00:00+00:00"},
            {"sku": "Куртка зимняя 48", "available": 0, "updated_at": "2026-11-21T09:00:00+00:00"},
        ]
    }


async def test_an_older_figure_is_accepted_but_not_applied(
    site: SiteEmulator, client: SiteClient, clock: FakeClock
) -> None:
    await client.push_stock([line("A-1", 5)])
    clock.advance(minutes=-1)
    assert (await client.push_stock([line("A-1", 1)])).accepted == ("A-1",)
    assert site.stock("A-1") == 5


async def test_a_rejected_sku_comes_back_with_its_reason(site: SiteEmulator, client: SiteClient) -> None:
    site.reject("B-7", "product archived")

    outcome = await client.push_stock([line("A-1", 2), line("B-7", 4), line("bad\n", 1), line("C-3", -1)])

    assert outcome.accepted == ("A-1",)
    assert outcome.rejected["B-7"] == "product archived"
    assert "not a site sku" in outcome.rejected["bad\n"] and "integer >= 0" in outcome.rejected["C-3"]
    assert [item["sku"] for item in site.calls[-1].body["items"]] == ["A-1", "B-7"]  # local refusals not sent
    assert site.stock("A-1") == 2 and site.stock("B-7") is None


async def test_a_site_with_a_catalogue_rejects_unknown_skus(http: httpx.AsyncClient, clock: FakeClock) -> None:
    async with SiteEmulator(TOKEN, skus=["A-1"]) as site:
        client = SiteClient(http, base=site.base_url, token=TOKEN, clock=clock.now)
        outcome = await client.push_stock([line("A-1", 1), line("Z-9", 1)])
    assert outcome.accepted == ("A-1",) and outcome.rejected == {"Z-9": "unknown sku"}


async def test_more_than_1000_lines_is_a_value_error(site: SiteEmulator, client: SiteClient) -> None:
    assert client.batch_limit == 1000
    await client.push_stock([line(f"S-{n}", n) for n in range(1000)])
    with pytest.raises(ValueError, match="at most 1000"):
        await client.push_stock([line(f"S-{n}", 1) for n in range(1001)])
    assert len(site.calls) == 1


async def test_the_emulator_refuses_what_the_doc_forbids(site: SiteEmulator, http: httpx.AsyncClient) -> None:
    url, auth = f"{site.base_url}/stock", {"Authorization": f"Bearer {TOKEN}"}
    item = {"sku": "A-1", "available": 1, "updated_at": "2026-11-21T12:00:00+03:00"}
    assert (await http.put(url, json={"items": [item] * 1001}, headers=auth)).status_code == 413
    assert (await http.put(url, json={"skus": []}, headers=auth)).status_code == 400
    assert (await http.put(url, content=b"{not json", headers=auth)).status_code == 400
    twice = await http.put(url, json={"items": [item, {**item, "updated_at": "2026-11-21T12:00:00"}]}, headers=auth)
    assert twice.json() == {
        "accepted": [],
        "rejected": [{"sku": "A-1", "reason": "sku is in the request more than once"}] * 2,
    }
    naive = await http.put(url, json={"items": [{**item, "updated_at": "2026-11-21T12:00:00"}]}, headers=auth)
    assert naive.json()["rejected"][0]["reason"] == "updated_at must be ISO-8601 with an offset"
    assert site.stocks == {}


# -- refusals --------------------------------------------------------------------------------------------------


async def test_a_429_is_channel_unavailable_and_the_gate_holds_off(
    site: SiteEmulator, client: SiteClient, paused: FakeSleep
) -> None:
    site.refuse(PUT_STOCK, retry_after=7)

    with pytest.raises(ChannelUnavailable) as caught:
        await client.push_stock([line("A-1", 1)])

    assert caught.value.retry_after == 7
    assert "HTTP 429" in caught.value.reason
    assert (await client.push_stock([line("A-1", 1)])).accepted == ("A-1",)
    assert paused.slept >= 7  # the gate kept the next push back for the hint, on the fake clock


async def test_the_default_pace_stays_within_10_a_second(
    site: SiteEmulator, client: SiteClient, paused: FakeSleep
) -> None:
    for n in range(30):
        await client.push_stock([line("A-1", n)])
    assert [call.status for call in site.calls] == [200] * 30  # the emulator counts seconds on the gate's clock
    assert paused.slept > 4  # 30 requests at 5 a second after a burst of 5


async def test_the_emulator_limits_an_11th_request_in_a_second(site: SiteEmulator, http: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    answers = [await http.get(f"{site.base_url}/orders/new", headers=auth) for _ in range(11)]
    assert [answer.status_code for answer in answers] == [200] * 10 + [429]
    assert answers[-1].headers["Retry-After"] == "1"


async def test_a_wrong_or_missing_token_is_refused(site: SiteEmulator, http: httpx.AsyncClient) -> None:
    wrong = SiteClient(http, base=site.base_url, token="wrong")
    with pytest.raises(ChannelRefused, match="HTTP 403"):
        await wrong.push_stock([line("A-1", 1)])
    with pytest.raises(ChannelRefused):
        await wrong.new_orders()
    assert (await http.get(f"{site.base_url}/orders/new")).status_code == 401
    site.fail_with(401)
    with pytest.raises(ChannelRefused, match="HTTP 401"):
        await SiteClient(http, base=site.base_url, token=TOKEN).read_stock([line("A-1", 0)])
    assert [call.token_ok for call in site.calls] == [False, False, False, True]


async def test_a_503_is_channel_unavailable_until_the_site_recovers(site: SiteEmulator, client: SiteClient) -> None:
    site.fail_with(503)
    with pytest.raises(ChannelUnavailable, match="HTTP 503"):
        await client.push_stock([line("A-1", 1)])
    with pytest.raises(ChannelUnavailable):
        await client.new_orders()
    site.recover()
    assert (await client.push_stock([line("A-1", 1)])).accepted == ("A-1",)


async def test_nothing_listening_is_channel_unavailable(http: httpx.AsyncClient) -> None:
    client = SiteClient(http, base="http://127.0.0.1:9/api", token=TOKEN)
    with pytest.raises(ChannelUnavailable, match="could not be reached"):
        await client.push_stock([line("A-1", 1)])


async def test_the_token_never_reaches_a_log_or_an_error(
    site: SiteEmulator, client: SiteClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    site.reject("B-7", "archived")
    await client.push_stock([line("A-1", 1), line("B-7", 1)])
    errors: list[Exception] = []
    for status in (401, 429, 500):
        site.fail_with(status)
        with pytest.raises((ChannelUnavailable, ChannelRefused)) as caught:
            await client.push_stock([line("A-1", 1)])
        errors.append(caught.value)

    assert "archived" in caplog.text or "rejected" in caplog.text
    assert TOKEN not in caplog.text
    assert all(TOKEN not in str(error) and TOKEN not in repr(error) for error in errors)
    assert TOKEN not in repr(client) and TOKEN not in repr(site)


# -- stock back and orders -------------------------------------------------------------------------------------


async def test_read_stock_keeps_each_query_short(site: SiteEmulator, client: SiteClient) -> None:
    await client.push_stock([line(f"R-{n:04}", n) for n in range(1000)])
    await client.push_stock([line("A-1", 0)])

    lines = [line(f"R-{n:04}", 0) for n in range(1000)] + [line("A-1", 9), line("NOT-SOLD", 1), line("bad\n", 1)]
    shown = await client.read_stock(lines)

    assert shown["R-0007"] == 7 and shown["R-0999"] == 999
    assert shown["A-1"] == 0  # zero is shown, not missing
    assert "NOT-SOLD" not in shown and "bad\n" not in shown
    reads = site.calls_of(GET_STOCK)
    assert sum(len(call.query) for call in reads) == 1002  # every sku once, in requests the server could read
    assert all(call.status == 200 and len(call.query) <= 1000 for call in reads)


async def test_long_cyrillic_skus_are_read_in_small_enough_requests(http: httpx.AsyncClient, clock: FakeClock) -> None:
    long = [f"Куртка зимняя мужская с капюшоном, размер {n}" for n in range(40, 140)]  # ~240 bytes each, encoded
    async with SiteEmulator(TOKEN, skus=long) as site:
        client = SiteClient(http, base=site.base_url, token=TOKEN, clock=clock.now)
        shown = await client.read_stock([line(sku, 1) for sku in long])
    assert shown == dict.fromkeys(long, 0)
    assert len(site.calls) > 1 and all(call.status == 200 for call in site.calls)


async def test_new_orders(site: SiteEmulator, client: SiteClient, caplog: pytest.LogCaptureFixture) -> None:
    moscow = timezone(timedelta(hours=3))
    site.add_order("10542", [("A-1", 2), ("B-7", 1)], created_at=datetime(2026, 11, 21, 12, 15, tzinfo=moscow))
    site.add_order("10541", [("C-3", 1)], created_at=datetime(2026, 11, 21, 11, 0, tzinfo=moscow))
    site.add_order("10543", [])  # nothing to fulfil: unreadable

    orders = await client.new_orders()

    assert [order.external_id for order in orders] == ["10541", "10542"]
    assert orders[1].lines == (ChannelOrderLine("A-1", 2), ChannelOrderLine("B-7", 1))
    assert orders[1].created_at == datetime(2026, 11, 21, 9, 15, tzinfo=UTC)
    assert "could not be read (id='10543')" in caplog.text


# -- what became of orders -------------------------------------------------------------------------------------

MOSCOW = timezone(timedelta(hours=3))
PLACED = datetime(2026, 11, 21, 12, 0, tzinfo=MOSCOW)


def event_queries(site: SiteEmulator) -> list[dict[str, str]]:
    return [dict(call.query) for call in site.calls_of(GET_ORDER_EVENTS)]


async def test_order_events_come_as_the_site_wrote_them(
    site: SiteEmulator, client: SiteClient, caplog: pytest.LogCaptureFixture
) -> None:
    site.add_order("10542", [("A-1", 1)])
    site.cancel_order("10542", "the buyer changed their mind", at=PLACED)
    site.record_event("10501", "delivered", at=PLACED + timedelta(hours=1))
    site.record_event("10502", "lost in the post", at=PLACED)  # not a status of ours: passed over
    site.record_event("10501", "returned", at=PLACED + timedelta(days=3), reason="x" * 400)

    assert isinstance(client, ReportsOrderEvents)
    page = await client.order_events(None, ["10542"])

    assert page.events == (
        ChannelOrderEvent("10542", OrderEventKind.CANCELLED, datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
                          "the buyer changed their mind"),
        ChannelOrderEvent("10501", OrderEventKind.DELIVERED, datetime(2026, 11, 21, 10, 0, tzinfo=UTC)),
        ChannelOrderEvent("10501", OrderEventKind.RETURNED, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "x" * 300),
    )  # fmt: skip
    assert page.cursor == "e-4"  # past the event passed over too
    assert "passed over (order_id='10502', status='lost in the post')" in caplog.text
    assert event_queries(site) == [{"limit": str(EVENTS_PAGE)}]  # from the oldest event: no after
    assert await client.new_orders() == []  # a cancelled order is no longer to fulfil


async def test_the_feed_pages_with_its_cursor_and_loses_nothing_after_it(
    site: SiteEmulator, client: SiteClient
) -> None:
    for n in range(2 * EVENTS_PAGE + 50):
        site.cancel_order(f"O-{n}", at=PLACED)

    first = await client.order_events(None, [])

    assert [event.external_id for event in first.events] == [f"O-{n}" for n in range(250)]
    assert [query.get("after") for query in event_queries(site)] == [None, "e-100", "e-200"]
    late = PLACED - timedelta(days=1)  # written after the read, though it happened before: still comes
    site.record_event("O-7", "returned", at=late)
    site.record_event("O-900", "delivered", at=PLACED)

    second = await client.order_events(first.cursor, [])

    assert [(e.external_id, e.kind) for e in second.events] == [
        ("O-7", OrderEventKind.RETURNED),
        ("O-900", OrderEventKind.DELIVERED),
    ]
    assert event_queries(site)[-1] == {"limit": str(EVENTS_PAGE), "after": first.cursor}
    third = await client.order_events(second.cursor, [])
    assert third.events == () and third.cursor == second.cursor


async def test_a_read_stops_after_its_pages_and_the_next_one_goes_on(site: SiteEmulator, client: SiteClient) -> None:
    total = EVENT_PAGES * EVENTS_PAGE + 30
    for n in range(total):
        site.record_event(f"O-{n}", "delivered", at=PLACED)

    first = await client.order_events(None, [])
    assert len(first.events) == EVENT_PAGES * EVENTS_PAGE and len(site.calls_of(GET_ORDER_EVENTS)) == EVENT_PAGES
    second = await client.order_events(first.cursor, [])

    assert [e.external_id for e in first.events + second.events] == [f"O-{n}" for n in range(total)]


async def test_order_event_reads_map_the_sites_errors(
    site: SiteEmulator, client: SiteClient, paused: FakeSleep
) -> None:
    site.refuse(GET_ORDER_EVENTS, retry_after=3)
    with pytest.raises(ChannelUnavailable) as limited:
        await client.order_events(None, [])
    assert limited.value.retry_after == 3
    site.fail_with(503)
    with pytest.raises(ChannelUnavailable):
        await client.order_events(None, [])
    site.fail_with(404)  # a site that does not serve the feed
    with pytest.raises(ChannelRefused, match="HTTP 404"):
        await client.order_events(None, [])
    site.recover()
    with pytest.raises(ChannelRefused, match="after is not a cursor this site gave"):
        await client.order_events("e-77", [])
    assert [call.status for call in site.calls_of(GET_ORDER_EVENTS)] == [429, 503, 404, 400]
    assert paused.slept >= 3  # the 429's Retry-After held the gate off


async def test_a_feed_that_gives_no_cursor_or_does_not_move_is_unavailable(clock: FakeClock) -> None:
    full = [{"order_id": f"O-{n}", "status": "delivered", "at": PLACED.isoformat()} for n in range(EVENTS_PAGE)]
    answers = iter([{"events": full, "next": "e-1"}, {"events": full, "next": "e-1"}, {"events": []}])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        client = SiteClient(http, base="https://shop.example/api", token=TOKEN, clock=clock.now)
        with pytest.raises(ChannelUnavailable, match="did not move past cursor 'e-1'"):
            await client.order_events(None, [])
        with pytest.raises(ChannelUnavailable, match="without a cursor"):
            await client.order_events(None, [])


async def test_the_emulator_checks_the_event_query(site: SiteEmulator, http: httpx.AsyncClient) -> None:
    site.record_event("O-1", "cancelled")
    url = f"{site.base_url.rstrip('/')}/orders/events"
    headers = {"Authorization": f"Bearer {TOKEN}"}

    async def status(**query: str) -> int:
        return (await http.get(url, params=query, headers=headers)).status_code

    assert [await status(limit=bad) for bad in ("0", "501", "ten")] == [400, 400, 400]
    assert [await status(after=bad) for bad in ("e-2", "7", "e-01")] == [400, 400, 400]
    answer = (await http.get(url, params={"after": "e-0"}, headers=headers)).json()
    assert [e["order_id"] for e in answer["events"]] == ["O-1"] and answer["next"] == "e-1"
    assert (await http.get(url, params={"after": "e-1"}, headers=headers)).json() == {"events": [], "next": "e-1"}
