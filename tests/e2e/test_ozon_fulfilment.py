"""Moving Ozon FBS postings on (``FulfilsOrders``): the real client assembles and cancels postings in the emulator
over HTTP — the state each call leaves, idempotence, what the order lists then say, the wire against Ozon's spec and
the errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from emulators.ozon import CANCEL_PATH, POSTING_GET_PATH, SHIP_PATH, OzonEmulator
from integrations.ozon import OzonClient
from tests.vendor_specs import OZON as OZON_SPEC
from tests.vendor_specs import VendorSpec
from workflows.channels import (
    ChannelOrderLine,
    ChannelRefused,
    ChannelUnavailable,
    FulfilsOrders,
    OrderEventKind,
)

CLIENT_ID = "836125"
API_KEY = "0f5e3c1a-9d2b-4c77-8a41-5b6f0e2d9c18"
WH = 22142605386000
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
NUMBER = "23713478-0018-3"
LINES = (ChannelOrderLine("PH11042", 2), ChannelOrderLine("MUG-7", 1))


class Moment:
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
    async with OzonEmulator(
        CLIENT_ID, API_KEY, {WH: "Склад на Ленина"}, ["PH11042", "MUG-7"], clock=seconds.clock, utcnow=moment
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


@pytest.fixture
def placed(ozon: OzonEmulator) -> str:
    ozon.set_stock(WH, "PH11042", 5)
    ozon.set_stock(WH, "MUG-7", 3)
    ozon.add_posting(NUMBER, [("PH11042", 2), ("MUG-7", 1)], in_process_at=NOW - 2 * HOUR)
    return NUMBER


def status(ozon: OzonEmulator, number: str) -> str:
    return ozon.seller.postings[number].status


# -- ready to ship -----------------------------------------------------------------------------------------------


async def test_ready_to_ship_assembles_the_posting_and_it_leaves_the_new_orders(
    ozon: OzonEmulator, client: OzonClient, placed: str
) -> None:
    assert isinstance(client, FulfilsOrders)
    assert [order.external_id for order in await client.new_orders()] == [placed]

    await client.ready_to_ship(placed, LINES)

    assert status(ozon, placed) == "awaiting_deliver"
    assert await client.new_orders() == []
    [ship] = ozon.calls(SHIP_PATH)
    skus = {offer: product.sku for offer, product in ozon.seller.products.items()}
    assert ship.body == {
        "packages": [
            {"products": [{"product_id": skus["PH11042"], "quantity": 2}, {"product_id": skus["MUG-7"], "quantity": 1}]}
        ],
        "posting_number": placed,
    }
    assert (ozon.reserved(WH, "PH11042"), ozon.stock(WH, "PH11042")) == (2, 3)  # still held until handed over


async def test_ready_to_ship_twice_ships_once_without_an_error(
    ozon: OzonEmulator, client: OzonClient, placed: str
) -> None:
    await client.ready_to_ship(placed, LINES)
    changed_at = ozon.seller.postings[placed].status_changed_at

    await client.ready_to_ship(placed, LINES)

    assert len(ozon.calls(SHIP_PATH)) == 1
    assert [c.status for c in ozon.calls(SHIP_PATH)] == [200]
    assert status(ozon, placed) == "awaiting_deliver"
    assert ozon.seller.postings[placed].status_changed_at == changed_at


@pytest.mark.parametrize("later", ["awaiting_deliver", "delivering", "delivered"])
async def test_a_posting_already_shipped_or_further_is_left_alone(
    ozon: OzonEmulator, client: OzonClient, placed: str, later: str
) -> None:
    ozon.set_posting_status(placed, later)

    await client.ready_to_ship(placed, LINES)

    assert ozon.calls(SHIP_PATH) == []
    assert status(ozon, placed) == later


async def test_a_posting_shipped_between_the_read_and_the_ship_is_a_success(
    ozon: OzonEmulator, client: OzonClient, http: httpx.AsyncClient, placed: str
) -> None:
    """Another worker (or a retry after a lost answer) assembled it meanwhile: Ozon refuses the second ship, the
    client reads the posting again and finds it where it was asked to be."""

    async def shipped_meanwhile(response: httpx.Response) -> None:
        if response.request.url.path == POSTING_GET_PATH and len(ozon.calls(POSTING_GET_PATH)) == 1:
            ozon.set_posting_status(placed, "awaiting_deliver")

    http.event_hooks["response"].append(shipped_meanwhile)

    await client.ready_to_ship(placed, LINES)

    assert [c.status for c in ozon.calls(SHIP_PATH)] == [400]
    assert len(ozon.calls(POSTING_GET_PATH)) == 2


async def test_a_cancelled_posting_or_lines_not_the_postings_are_refused_without_a_ship(
    ozon: OzonEmulator, client: OzonClient, placed: str
) -> None:
    with pytest.raises(ChannelRefused, match="holds MUG-7 × 1, PH11042 × 2"):
        await client.ready_to_ship(placed, [ChannelOrderLine("PH11042", 1)])
    with pytest.raises(ChannelRefused, match="holds"):
        await client.ready_to_ship(placed, [*LINES, ChannelOrderLine("OTHER", 1)])
    ozon.cancel_posting(placed)
    with pytest.raises(ChannelRefused, match="cancelled"):
        await client.ready_to_ship(placed, LINES)

    assert ozon.calls(SHIP_PATH) == []


async def test_an_unknown_posting_is_refused_in_ozons_words(ozon: OzonEmulator, client: OzonClient) -> None:
    with pytest.raises(ChannelRefused, match="POSTING_NOT_FOUND"):
        await client.ready_to_ship("1-0000-1", LINES)
    with pytest.raises(ChannelRefused, match="POSTING_NOT_FOUND"):
        await client.cancel_unfillable("1-0000-1")


# -- cancel unfillable -------------------------------------------------------------------------------------------


async def test_cancel_unfillable_cancels_as_out_of_stock_and_the_events_say_so(
    ozon: OzonEmulator, client: OzonClient, placed: str
) -> None:
    await client.cancel_unfillable(placed)

    [cancel] = ozon.calls(CANCEL_PATH)
    assert cancel.body == {"cancel_reason_id": 352, "posting_number": placed}
    assert status(ozon, placed) == "cancelled"
    assert await client.new_orders() == []
    [event] = (await client.order_events(None, [])).events
    assert (event.external_id, event.kind) == (placed, OrderEventKind.CANCELLED)
    assert event.reason == "Товар закончился на складе продавца (Продавец)"
    assert (ozon.reserved(WH, "PH11042"), ozon.stock(WH, "PH11042")) == (0, 5)  # the reserve is given back


async def test_cancel_unfillable_twice_cancels_once_without_an_error(
    ozon: OzonEmulator, client: OzonClient, placed: str
) -> None:
    await client.cancel_unfillable(placed)
    changed_at = ozon.seller.postings[placed].status_changed_at

    await client.cancel_unfillable(placed)

    assert [c.status for c in ozon.calls(CANCEL_PATH)] == [200, 400]  # Ozon refuses; the posting read says done
    assert status(ozon, placed) == "cancelled"
    assert ozon.seller.postings[placed].status_changed_at == changed_at
    assert ozon.reserved(WH, "PH11042") == 0


async def test_a_shipped_posting_can_still_be_cancelled(ozon: OzonEmulator, client: OzonClient, placed: str) -> None:
    await client.ready_to_ship(placed, LINES)

    await client.cancel_unfillable(placed)

    assert status(ozon, placed) == "cancelled"


async def test_a_delivered_posting_is_not_cancelled_and_the_refusal_says_why(
    ozon: OzonEmulator, client: OzonClient, placed: str
) -> None:
    ozon.deliver(placed)

    with pytest.raises(ChannelRefused, match="delivered and cannot be cancelled") as refused:
        await client.cancel_unfillable(placed)

    assert status(ozon, placed) == "delivered"
    assert API_KEY not in str(refused.value)


# -- the wire ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> VendorSpec:
    return VendorSpec(OZON_SPEC)


async def test_requests_and_answers_follow_the_vendor_spec(
    spec: VendorSpec, ozon: OzonEmulator, client: OzonClient, http: httpx.AsyncClient, placed: str
) -> None:
    ozon.add_posting("2-0001-1", [("MUG-7", 1)])
    await client.ready_to_ship(placed, LINES)
    await client.cancel_unfillable("2-0001-1")

    calls = ozon.calls(POSTING_GET_PATH) + ozon.calls(SHIP_PATH) + ozon.calls(CANCEL_PATH)
    assert [c.path for c in calls] == [POSTING_GET_PATH, SHIP_PATH, CANCEL_PATH]
    for call in calls:
        assert call.status == 200, call.path
        assert spec.request_problems(call.path, "post", call.body) == [], call.path
    headers = {"Client-Id": CLIENT_ID, "Api-Key": API_KEY}
    ozon.add_posting("3-0001-1", [("MUG-7", 1)])
    answers = {
        POSTING_GET_PATH: {"posting_number": placed},
        SHIP_PATH: {
            "packages": [{"products": [{"product_id": ozon.seller.products["MUG-7"].sku, "quantity": 1}]}],
            "posting_number": "3-0001-1",
            "with": {"additional_data": True},
        },
        CANCEL_PATH: {"cancel_reason_id": 352, "posting_number": "3-0001-1"},
    }
    for path, body in answers.items():
        assert spec.request_problems(path, "post", body) == [], path
        answer = await http.post(ozon.base_url.rstrip("/") + path, json=body, headers=headers)
        assert answer.status_code == 200, path
        assert spec.response_problems(path, "post", 200, answer.json()) == [], path


async def test_the_emulator_refuses_what_the_spec_forbids(
    ozon: OzonEmulator, http: httpx.AsyncClient, placed: str
) -> None:
    headers = {"Client-Id": CLIENT_ID, "Api-Key": API_KEY}
    sku = ozon.seller.products["MUG-7"].sku
    wrong = [
        (SHIP_PATH, {"posting_number": placed}),
        (SHIP_PATH, {"packages": [{"products": [{"product_id": sku}]}], "posting_number": placed}),
        (SHIP_PATH, {"packages": [{"products": [{"product_id": sku, "quantity": 1}]}], "posting_number": placed}),
        (CANCEL_PATH, {"posting_number": placed}),
        (CANCEL_PATH, {"cancel_reason_id": 402, "posting_number": placed}),
        (CANCEL_PATH, {"cancel_reason_id": 666, "posting_number": placed}),
        (POSTING_GET_PATH, {}),
    ]
    for path, body in wrong:
        answer = await http.post(ozon.base_url.rstrip("/") + path, json=body, headers=headers)
        assert answer.status_code == 400, (path, body)
    assert status(ozon, placed) == "awaiting_packaging"


async def _move(client: OzonClient, move: str, number: str) -> None:
    if move == "ship":
        await client.ready_to_ship(number, LINES)
    else:
        await client.cancel_unfillable(number)


@pytest.mark.parametrize("move", ["ship", "cancel"])
@pytest.mark.parametrize(
    "steer",
    [
        lambda ozon, path: ozon.force_rate_limit(path=path),
        lambda ozon, path: ozon.fail_with(503),
        lambda ozon, path: ozon.fail_with(400, "Circle is open"),
    ],
    ids=["429", "503", "circle-is-open"],
)
async def test_a_429_a_5xx_or_a_pause_is_unavailable_and_nothing_moves(
    ozon: OzonEmulator, client: OzonClient, placed: str, move: str, steer: Callable[[OzonEmulator, str], None]
) -> None:
    steer(ozon, SHIP_PATH if move == "ship" else CANCEL_PATH)

    with pytest.raises(ChannelUnavailable):
        await _move(client, move, placed)

    assert status(ozon, placed) == "awaiting_packaging"
    assert [c.status for c in ozon.calls()][-1] >= 400  # it was the move's own request that failed


async def test_a_wrong_key_is_refused_without_showing_it(
    make: Callable[..., OzonClient], ozon: OzonEmulator, placed: str
) -> None:
    wrong = make(api_key="wrong-key-123")

    for move in (wrong.ready_to_ship(placed, LINES), wrong.cancel_unfillable(placed)):
        with pytest.raises(ChannelRefused) as refused:
            await move
        assert "403" in str(refused.value)
        assert "wrong-key-123" not in str(refused.value)
    assert status(ozon, placed) == "awaiting_packaging"
