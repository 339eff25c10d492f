"""The wire helper under the HTTP clients (``integrations.wire``), against ``httpx.MockTransport``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from integrations.http_hints import retry_after
from integrations.rate_gate import RateGate
from integrations.wire import REASON_CHARS, Wire, json_object
from tests.fakes import FakeTime
from workflows.outside import OutsideSystemError, Refused, Unavailable

URL = "http://vendor.test/api"
Handler = Callable[[httpx.Request], httpx.Response]


class VendorDown(Unavailable):
    pass


class VendorSaidNo(Refused):
    pass


class NeverLeft(VendorDown):
    pass


def vendor_reason(response: httpx.Response) -> str:
    """A vendor whose errors are ``{"fault": {"text": …}}``."""
    fault = (json_object(response) or {}).get("fault")
    return str(fault.get("text", "")) if isinstance(fault, dict) else ""


VENDOR = Wire("Vendor", unavailable=VendorDown, refused=VendorSaidNo, words=vendor_reason)


async def send(wire: Wire, handler: Handler, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await wire.send(client, "POST", URL, json={"a": 1}, **kwargs)  # type: ignore[arg-type]


def answer(status: int, **kwargs: object) -> Handler:
    return lambda request: httpx.Response(status, **kwargs)  # type: ignore[arg-type]


def failing(error: type[httpx.HTTPError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("no", request=request)  # type: ignore[call-arg]

    return handler


# -- no answer -------------------------------------------------------------------------------------------------


async def test_a_refused_connection_is_unavailable() -> None:
    with pytest.raises(VendorDown) as caught:
        await send(VENDOR, failing(httpx.ConnectError))

    assert caught.value.reason == "Vendor could not be reached (ConnectError)"
    assert caught.value.retry_after is None


async def test_a_timeout_is_unavailable() -> None:
    with pytest.raises(VendorDown) as caught:
        await send(VENDOR, failing(httpx.ReadTimeout))

    assert caught.value.reason == "Vendor did not answer in time"


async def test_a_request_that_never_left_is_not_sent_when_the_client_tells_it_apart() -> None:
    wire = Wire("Vendor", unavailable=VendorDown, not_sent=NeverLeft)

    for error in (httpx.ConnectError, httpx.ConnectTimeout):
        with pytest.raises(NeverLeft, match=r"could not be reached \(Connect"):
            await send(wire, failing(error))
    with pytest.raises(VendorDown) as caught:
        await send(wire, failing(httpx.ReadTimeout))  # it may have arrived
    assert not isinstance(caught.value, NeverLeft)


async def test_transport_errors_covers_a_streamed_read() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("cut", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with (
            pytest.raises(VendorDown, match=r"could not be reached \(RemoteProtocolError\)"),
            VENDOR.transport_errors(),
        ):
            async with client.stream("GET", URL) as response:
                await response.aread()


# -- limited ---------------------------------------------------------------------------------------------------


async def test_a_429_with_seconds_is_unavailable_and_holds_the_gate_off() -> None:
    time = FakeTime()
    gate = RateGate(per_minute=600, burst=5, clock=time.clock, sleep=time.sleep)
    body = {"fault": {"text": "slow down"}}

    with pytest.raises(VendorDown) as caught:
        await send(VENDOR, answer(429, json=body, headers={"Retry-After": "7"}), gate=gate)

    assert caught.value.retry_after == 7
    assert caught.value.reason == "Vendor limited the request: HTTP 429: slow down; retry in 7 s"
    await gate.wait()
    assert time.now == pytest.approx(7.1)  # held off 7 s, then one token at 10 a second


async def test_a_429_with_an_http_date_counts_from_the_answers_own_date() -> None:
    sent = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    headers = {
        "Date": format_datetime(sent, usegmt=True),
        "Retry-After": format_datetime(sent + timedelta(seconds=90), usegmt=True),
    }

    with pytest.raises(VendorDown) as caught:
        await send(VENDOR, answer(429, headers=headers))

    assert caught.value.retry_after == 90


def test_an_http_date_without_a_date_header_counts_from_now_and_a_past_one_is_zero() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    later = httpx.Response(429, headers={"Retry-After": "Mon, 02 Mar 2026 12:02:00 GMT"})
    past = httpx.Response(429, headers={"Retry-After": "Mon, 02 Mar 2026 11:00:00 GMT"})

    assert retry_after(later, now=lambda: now) == 120
    assert retry_after(past, now=lambda: now) == 0


@pytest.mark.parametrize("raw", ["soon", "-3", "86400", "Tue, 03 Mar 2026 12:00:01 GMT", "nan", ""])
def test_a_wait_that_is_no_hint_to_trust_is_none(raw: str) -> None:
    response = httpx.Response(429, headers={"Retry-After": raw, "Date": "Mon, 02 Mar 2026 12:00:00 GMT"})

    assert retry_after(response) is None


async def test_a_420_is_limited_only_where_the_vendor_says_so() -> None:
    market = Wire("Market", unavailable=VendorDown, limited=frozenset({420, 429}), retry_headers=("X-Wait",))

    with pytest.raises(VendorDown) as caught:
        await send(market, answer(420, headers={"X-Wait": "3", "Retry-After": "9"}))
    assert caught.value.retry_after == 3
    assert caught.value.reason.startswith("Market limited the request: HTTP 420")
    with pytest.raises(Refused):
        await send(Wire("Other"), answer(420))


async def test_a_limited_answer_without_a_hint_takes_the_vendors_usual_wait() -> None:
    time = FakeTime()
    gate = RateGate(per_minute=600, burst=1, clock=time.clock, sleep=time.sleep)
    crm = Wire("CRM", limited=frozenset({429, 503}), limited_wait=1.0)

    with pytest.raises(Unavailable) as caught:
        await send(crm, answer(503), gate=gate)

    assert caught.value.retry_after == 1.0
    with pytest.raises(Unavailable) as plain:
        await send(VENDOR, answer(429))
    assert plain.value.retry_after is None and "retry in" not in plain.value.reason


# -- failed and refused ----------------------------------------------------------------------------------------


async def test_a_503_is_unavailable_with_the_vendors_words_and_its_hint() -> None:
    with pytest.raises(VendorDown) as caught:
        await send(VENDOR, answer(503, json={"fault": {"text": "maintenance"}}, headers={"Retry-After": "30"}))

    assert caught.value.reason == "Vendor failed: HTTP 503: maintenance"
    assert caught.value.retry_after == 30


async def test_a_400_is_refused_in_the_vendors_words() -> None:
    with pytest.raises(VendorSaidNo) as caught:
        await send(VENDOR, answer(400, json={"fault": {"text": "field 'qty' must be >= 0"}}))

    assert caught.value.reason == "Vendor refused the request: HTTP 400: field 'qty' must be >= 0"
    assert not isinstance(caught.value, Unavailable)


async def test_a_body_that_is_not_json_still_gives_a_reason() -> None:
    page = "<html><body>Bad gateway</body></html>"

    with pytest.raises(VendorDown, match=r"^Vendor failed: HTTP 502: no reason given$"):
        await send(VENDOR, answer(502, text=page))
    with pytest.raises(Refused, match=r"^Other refused the request: HTTP 403: Forbidden$"):
        await send(Wire("Other"), answer(403, text=page))  # the default words fall back on the reason phrase
    response = await send(VENDOR, answer(200, text=page))
    with pytest.raises(VendorDown, match="answered HTTP 200 with something other than its JSON"):
        VENDOR.json_body(response)


def test_the_default_words_read_the_common_error_shapes() -> None:
    wire = Wire("Other")

    for body, words in [({"message": "Invalid Api-Key"}, "Invalid Api-Key"), ({"error": "bad sku"}, "bad sku"),
                        ({"title": "unauthorized", "detail": "token expired"}, "token expired"), ([1, 2], "Not Found")]:  # fmt: skip
        assert wire.refuse(httpx.Response(404, json=body)).reason == f"Other refused the request: HTTP 404: {words}"


async def test_a_long_reason_is_cut() -> None:
    with pytest.raises(VendorSaidNo) as caught:
        await send(VENDOR, answer(400, json={"fault": {"text": "x" * 1000}}))

    assert len(caught.value.reason) == REASON_CHARS


async def test_the_refusal_hook_chooses_the_error() -> None:
    def refusal(response: httpx.Response, reason: str) -> OutsideSystemError | None:
        if "paused" in response.text:
            return VendorDown(f"Vendor paused the method: HTTP {response.status_code}")
        if "banned" in response.text:
            return VendorSaidNo(f"{reason} (the account)")
        return None

    wire = Wire("Vendor", refusal=refusal)

    with pytest.raises(VendorDown, match="paused the method: HTTP 403"):
        await send(wire, answer(403, json={"message": "paused"}))
    with pytest.raises(VendorSaidNo, match=r"refused the request: HTTP 403: banned \(the account\)"):
        await send(wire, answer(403, json={"message": "banned"}))
    with pytest.raises(Refused, match="refused the request: HTTP 403: no such offer") as ordinary:
        await send(wire, answer(403, json={"message": "no such offer"}))
    assert type(ordinary.value) is Refused


# -- what the client reads itself ------------------------------------------------------------------------------


async def test_success_and_passing_statuses_come_back_to_the_client() -> None:
    assert (await send(VENDOR, answer(204))).status_code == 204
    conflict = await send(VENDOR, answer(409, json=[{"code": "NotFound"}]), passing=(409,))
    assert conflict.status_code == 409
    with pytest.raises(VendorSaidNo, match="HTTP 409"):
        await send(VENDOR, answer(409))


async def test_the_request_reaches_the_vendor_as_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    response = await send(VENDOR, handler, headers={"Api-Key": "k"}, params={"page": 2})

    assert VENDOR.json_body(response) == {"ok": True}
    assert seen[0].method == "POST" and seen[0].url.params["page"] == "2" and seen[0].headers["Api-Key"] == "k"
    assert seen[0].content == b'{"a":1}'
