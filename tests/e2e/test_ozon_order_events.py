"""What became of Ozon postings (cancelled, delivered, returned), read by the real client from the emulator over
HTTP: the events, their reasons and times, paging, the cursor, the wire against Ozon's spec and the errors."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from emulators.ozon import FBS_LIST_PATH, RETURNS_PATH, OzonEmulator
from integrations.ozon import OzonClient
from integrations.ozon_events import LOOK_BACK, OVERLAP
from tests.vendor_specs import OZON as OZON_SPEC
from tests.vendor_specs import VendorSpec
from workflows.channels import (
    ChannelOrderEvent,
    ChannelRefused,
    ChannelUnavailable,
    OrderEventKind,
    ReportsOrderEvents,
)

CLIENT_ID = "836125"
API_KEY = "0f5e3c1a-9d2b-4c77-8a41-5b6f0e2d9c18"
WH = 22142605386000
OTHER_WH = 15110442724000
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


class Moment:
    """The time both sides read (the client's ``utcnow``, the emulator's), moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


class Seconds:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def moment() -> Moment:
    return Moment()


@pytest.fixture
async def ozon(moment: Moment) -> AsyncIterator[OzonEmulator]:
    seconds = Seconds()
    warehouses = {WH: "Склад на Ленина", OTHER_WH: "Склад на Мира"}
    async with OzonEmulator(
        CLIENT_ID, API_KEY, warehouses, ["PH11042", "MUG-7"], clock=seconds.clock, utcnow=moment
    ) as e:
        yield e


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as client:
        yield client


@pytest.fixture
def make(ozon: OzonEmulator, http: httpx.AsyncClient, moment: Moment) -> Callable[..., OzonClient]:
    def build(**overrides: Any) -> OzonClient:
        seconds = Seconds()
        settings: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "api_key": API_KEY,
            "base": ozon.base_url,
            "warehouse_id": WH,
            "clock": seconds.clock,
            "sleep": seconds.sleep,
            "utcnow": moment,
        }
        return OzonClient(http, **(settings | overrides))

    return build


@pytest.fixture
def client(make: Callable[..., OzonClient]) -> OzonClient:
    return make()


def posting(ozon: OzonEmulator, number: str, *, warehouse_id: int = WH, hours_ago: float = 48) -> str:
    ozon.add_posting(number, [("PH11042", 1)], warehouse_id=warehouse_id, in_process_at=NOW - hours_ago * HOUR)
    return number


def by_kind(events: tuple[ChannelOrderEvent, ...]) -> dict[OrderEventKind, list[str]]:
    kinds: dict[OrderEventKind, list[str]] = {}
    for event in events:
        kinds.setdefault(event.kind, []).append(event.external_id)
    return kinds


# -- the events --------------------------------------------------------------------------------------------------


async def test_cancelled_delivered_and_returned_postings_come_back_as_events(
    ozon: OzonEmulator, client: OzonClient
) -> None:
    assert isinstance(client, ReportsOrderEvents)
    posting(ozon, "1000-0001-1")
    posting(ozon, "2000-0001-1")
    posting(ozon, "3000-0001-1")
    posting(ozon, "4000-0001-1")  # still awaiting packaging: nothing to say
    posting(ozon, "5000-0001-1", warehouse_id=OTHER_WH)  # another warehouse's client says it
    ozon.cancel_posting("1000-0001-1", "Покупатель передумал", initiator="Клиент", at=NOW - HOUR)
    ozon.deliver("2000-0001-1", at=NOW - 2 * HOUR)
    ozon.deliver("3000-0001-1", at=NOW - 30 * HOUR)
    returned_at = NOW - 3 * HOUR
    ozon.return_("3000-0001-1", "Не подошёл размер", kind="ClientReturn", at=returned_at)
    ozon.cancel_posting("5000-0001-1", at=NOW - HOUR)

    page = await client.order_events(None, [])

    events = {(e.external_id, e.kind): e for e in page.events}
    assert set(events) == {
        ("1000-0001-1", OrderEventKind.CANCELLED),
        ("2000-0001-1", OrderEventKind.DELIVERED),
        ("3000-0001-1", OrderEventKind.DELIVERED),
        ("3000-0001-1", OrderEventKind.RETURNED),
    }
    cancelled = events["1000-0001-1", OrderEventKind.CANCELLED]
    assert cancelled.reason == "Покупатель передумал (Клиент)"
    assert cancelled.at == NOW  # a posting does not say when it was cancelled: when it was read
    returned = events["3000-0001-1", OrderEventKind.RETURNED]
    assert (returned.at, returned.reason) == (returned_at, "Не подошёл размер; ClientReturn")
    assert page.cursor == "2026-11-21T09:00:00.000Z"


async def test_the_event_names_the_posting_as_new_orders_did(ozon: OzonEmulator, client: OzonClient) -> None:
    ozon.add_posting("23713478-0018-3", [("MUG-7", 2)])
    [order] = await client.new_orders()
    ozon.cancel_posting("23713478-0018-3", "Продавец отменил", initiator="Продавец", after_ship=True)

    [event] = (await client.order_events(None, [])).events

    assert (event.external_id, event.kind) == (order.external_id, OrderEventKind.CANCELLED)
    assert event.reason == "Продавец отменил (Продавец, после отгрузки)"


async def test_a_refusal_at_pick_up_is_returned_and_a_rejected_return_is_not(
    ozon: OzonEmulator, client: OzonClient
) -> None:
    posting(ozon, "6000-0001-1")
    posting(ozon, "7000-0001-1")
    ozon.cancel_posting("6000-0001-1", "Покупатель отказался", after_ship=True, at=NOW - HOUR)
    ozon.return_("6000-0001-1", "Покупатель отказался при вручении", kind="FullReturn", at=NOW - HOUR)
    ozon.deliver("7000-0001-1", at=NOW - 5 * HOUR)
    ozon.return_("7000-0001-1", "Передумал", kind="ClientReturn", status="Rejected", at=NOW - HOUR)

    kinds = by_kind((await client.order_events(None, [])).events)

    assert kinds == {
        OrderEventKind.CANCELLED: ["6000-0001-1"],
        OrderEventKind.DELIVERED: ["7000-0001-1"],
        OrderEventKind.RETURNED: ["6000-0001-1"],
    }


async def test_every_page_of_both_lists_is_read(ozon: OzonEmulator, make: Callable[..., OzonClient]) -> None:
    for n in range(5):
        ozon.cancel_posting(posting(ozon, f"10{n}-0001-1", hours_ago=48 - n), at=NOW - HOUR)
    for n in range(3):
        ozon.deliver(posting(ozon, f"20{n}-0001-1"), at=NOW - HOUR)
    ozon.return_(posting(ozon, "300-0001-1"), offers=[("PH11042", 1), ("MUG-7", 1)], at=NOW - HOUR)
    for n in range(3):
        ozon.return_(posting(ozon, f"31{n}-0001-1"), at=NOW - HOUR)

    kinds = by_kind((await make(page_limit=2).order_events(None, [])).events)

    assert kinds[OrderEventKind.CANCELLED] == [f"10{n}-0001-1" for n in range(5)]
    assert kinds[OrderEventKind.DELIVERED] == [f"20{n}-0001-1" for n in range(3)]
    assert kinds[OrderEventKind.RETURNED] == ["300-0001-1"] + [f"31{n}-0001-1" for n in range(3)]  # once each
    lists = ozon.calls(FBS_LIST_PATH)
    assert [(c.body["filter"]["status"], c.body["offset"]) for c in lists] == [
        ("cancelled", 0),
        ("cancelled", 2),
        ("cancelled", 4),
        ("delivered", 0),
        ("delivered", 2),
    ]
    returns = ozon.calls(RETURNS_PATH)
    assert [c.body["limit"] for c in returns] == [2, 2, 2]
    assert returns[0].body["last_id"] == 0
    assert returns[1].body["last_id"] == ozon.seller.returns[1].id
    assert returns[2].body["last_id"] == ozon.seller.returns[3].id


# -- the cursor --------------------------------------------------------------------------------------------------


async def test_the_cursor_moves_on_and_loses_nothing_made_after_it(
    ozon: OzonEmulator, client: OzonClient, moment: Moment
) -> None:
    ozon.cancel_posting(posting(ozon, "1-0001-1"), at=NOW - HOUR)
    first = await client.order_events(None, [])
    moment.now = NOW + HOUR
    ozon.deliver(posting(ozon, "2-0001-1"), at=NOW + 30 * dt.timedelta(minutes=1))
    ozon.return_(posting(ozon, "3-0001-1"), at=NOW + 10 * dt.timedelta(minutes=1))
    # a change Ozon records late, stamped a little before the cursor: the overlap reads it again
    ozon.cancel_posting(posting(ozon, "4-0001-1"), at=NOW - OVERLAP / 2)

    second = await client.order_events(first.cursor, [])

    assert by_kind(first.events) == {OrderEventKind.CANCELLED: ["1-0001-1"]}
    assert by_kind(second.events) == {
        OrderEventKind.CANCELLED: ["4-0001-1"],
        OrderEventKind.DELIVERED: ["2-0001-1"],
        OrderEventKind.RETURNED: ["3-0001-1"],
    }
    assert dt.datetime.fromisoformat(second.cursor) == NOW + HOUR > dt.datetime.fromisoformat(first.cursor)
    window = ozon.calls(FBS_LIST_PATH)[-1].body["filter"]["last_changed_status_date"]
    assert dt.datetime.fromisoformat(window["from"]) == NOW - OVERLAP
    assert dt.datetime.fromisoformat(window["to"]) == NOW + HOUR


async def test_without_a_usable_cursor_the_look_back_is_read(ozon: OzonEmulator, client: OzonClient) -> None:
    ozon.cancel_posting(posting(ozon, "1-0001-1", hours_ago=200), at=NOW - LOOK_BACK + HOUR)
    ozon.cancel_posting(posting(ozon, "2-0001-1", hours_ago=200), at=NOW - LOOK_BACK - HOUR)

    fresh = await client.order_events(None, [])
    garbled = await client.order_events("not a moment", [])

    assert [e.external_id for e in fresh.events] == ["1-0001-1"]
    assert garbled.events == fresh.events


# -- the wire ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(OZON_SPEC)


async def _raw(http: httpx.AsyncClient, ozon: OzonEmulator, path: str, body: Any) -> httpx.Response:
    headers = {"Client-Id": CLIENT_ID, "Api-Key": API_KEY}
    return await http.post(ozon.base_url.rstrip("/") + path, json=body, headers=headers)


async def test_requests_and_answers_follow_the_vendor_spec(
    spec: VendorSpec, ozon: OzonEmulator, client: OzonClient, http: httpx.AsyncClient
) -> None:
    ozon.cancel_posting(posting(ozon, "1-0001-1"), "Покупатель передумал", at=NOW - HOUR)
    ozon.deliver(posting(ozon, "2-0001-1"), at=NOW - HOUR)
    ozon.return_("2-0001-1", kind="ClientReturn", at=NOW - HOUR)

    await client.order_events(None, [])

    calls = ozon.calls(FBS_LIST_PATH) + ozon.calls(RETURNS_PATH)
    assert len(calls) == 3
    for call in calls:
        assert spec.request_problems(call.path, "post", call.body) == [], call.path
        answer = await _raw(http, ozon, call.path, call.body)
        assert answer.status_code == 200, call.path
        assert spec.response_problems(call.path, "post", 200, answer.json()) == [], call.path
        listed = answer.json().get("returns") or answer.json()["result"]["postings"]
        assert len(listed) == 1, call.path  # each answer checked holds what it was asked for


async def test_the_emulator_refuses_what_the_spec_forbids(ozon: OzonEmulator, http: httpx.AsyncClient) -> None:
    year = {"since": "2025-11-01T00:00:00Z", "to": "2026-11-21T00:00:00Z"}
    good = {"since": "2026-11-01T00:00:00Z", "to": "2026-11-21T00:00:00Z"}
    period = {"time_from": "2026-11-01T00:00:00Z", "time_to": "2026-11-21T00:00:00Z"}
    refused = [
        await _raw(http, ozon, FBS_LIST_PATH, {"filter": {}, "limit": 10, "offset": 0}),
        await _raw(http, ozon, FBS_LIST_PATH, {"filter": year, "limit": 10, "offset": 0}),
        await _raw(http, ozon, FBS_LIST_PATH, {"filter": good, "limit": 1001, "offset": 0}),
        await _raw(http, ozon, FBS_LIST_PATH, {"filter": {**good, "status": "lost"}, "limit": 1, "offset": 0}),
        await _raw(http, ozon, RETURNS_PATH, {"limit": 501}),
        await _raw(
            http,
            ozon,
            RETURNS_PATH,
            {"filter": {"visual_status_change_moment": period, "logistic_return_date": period}, "limit": 5},
        ),
    ]

    assert [r.status_code for r in refused] == [400] * 6
    assert all(r.json()["code"] == 3 for r in refused)
    assert (await _raw(http, ozon, FBS_LIST_PATH, {"filter": good, "limit": 1, "offset": 0})).status_code == 200


async def test_a_cancelled_posting_gives_its_reserve_back(ozon: OzonEmulator) -> None:
    ozon.set_stock(WH, "PH11042", 5)
    ozon.add_posting("1-0001-1", [("PH11042", 2)])
    ozon.add_posting("2-0001-1", [("PH11042", 1)])
    ozon.cancel_posting("1-0001-1")
    ozon.deliver("2-0001-1")

    assert (ozon.stock(WH, "PH11042"), ozon.reserved(WH, "PH11042")) == (4, 0)
    with pytest.raises(ValueError, match="already cancelled"):
        ozon.cancel_posting("1-0001-1")


@pytest.mark.parametrize(
    ("steer", "error"),
    [
        (lambda ozon: ozon.force_rate_limit(path=RETURNS_PATH), ChannelUnavailable),
        (lambda ozon: ozon.fail_with(503), ChannelUnavailable),
        (lambda ozon: ozon.fail_with(400, "invalid filter"), ChannelRefused),
    ],
)
async def test_a_429_or_5xx_is_unavailable_and_a_4xx_refused(
    ozon: OzonEmulator, client: OzonClient, steer: Callable[[OzonEmulator], None], error: type[Exception]
) -> None:
    steer(ozon)

    with pytest.raises(error):
        await client.order_events(None, [])


async def test_a_wrong_key_is_refused_without_showing_it(ozon: OzonEmulator, make: Callable[..., OzonClient]) -> None:
    with pytest.raises(ChannelRefused) as refused:
        await make(api_key="wrong-key-123").order_events(None, [])

    assert "403" in str(refused.value)
    assert "wrong-key-123" not in str(refused.value)


async def test_the_specs_own_returns_example_is_read_with_its_int64_written_as_text(spec: VendorSpec) -> None:
    """Ozon writes int64 fields as strings in places, as the spec's example of ``/v1/returns/list`` does (``"id":
    "1000015552"``): the return is read and the next page asked after that id."""
    operation = json.loads(OZON_SPEC.read_text(encoding="utf-8"))["paths"][RETURNS_PATH]["post"]
    example = operation["responses"]["200"]["content"]["application/json"]["example"]
    [line] = example["returns"]
    asked: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == FBS_LIST_PATH:
            return httpx.Response(200, json={"result": {"postings": [], "has_next": False}})
        asked.append(body)
        first = body["last_id"] == 0
        return httpx.Response(200, json={**example, "has_next": True} if first else {"returns": [], "has_next": False})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as mocked:
        client = OzonClient(
            mocked, client_id=CLIENT_ID, api_key=API_KEY, base="https://ozon.test", warehouse_id=WH, utcnow=lambda: NOW
        )
        [event] = (await client.order_events(None, [])).events

    assert (event.external_id, event.kind) == (line["posting_number"], OrderEventKind.RETURNED)
    assert event.reason == f"{line['return_reason_name']}; {line['type']}"
    assert event.at == dt.datetime.fromisoformat(line["logistic"]["return_date"])
    assert [body["last_id"] for body in asked] == [0, int(line["id"])]
