"""The CBR rates client, on the real ``httpx.AsyncClient``, against the Central Bank emulator over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from emulators.cbr import XML_CONTENT_TYPE, CbrEmulator, Quote, render_sheet
from integrations.cbr import CbrRates, RatesUnavailable, parse_daily
from workflows.fx import deviation

TODAY = dt.date(2025, 12, 31)  # a Wednesday
CLIENT_TIMEOUT = 0.2


@pytest.fixture
async def cbr() -> AsyncIterator[CbrEmulator]:
    async with CbrEmulator(today=TODAY) as emulator:
        yield emulator


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        yield http


@pytest.fixture
def rates(cbr: CbrEmulator, client: httpx.AsyncClient) -> CbrRates:
    return CbrRates(client, cbr.daily_url)


async def test_todays_sheet_has_per_unit_rates_for_nominal_100_currencies(cbr: CbrEmulator, rates: CbrRates) -> None:
    sheet = await rates.fetch()

    assert sheet.date == TODAY
    assert sheet.rate("USD") == Decimal("78.2267")
    assert sheet.rate("JPY") == Decimal("0.501287")  # 50,1287 per 100 yen
    assert sheet.rate("KZT") == Decimal("0.151632")  # 15,1632 per 100 tenge
    assert sheet.names["JPY"] == "Японских иен"
    assert [request.date_req for request in cbr.requests()] == [None]


async def test_the_wire_looks_like_the_banks(cbr: CbrEmulator, client: httpx.AsyncClient) -> None:
    response = await client.get(cbr.daily_url)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == XML_CONTENT_TYPE
    body = response.content
    assert body.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    assert b'<ValCurs Date="31.12.2025" name="Foreign Currency Market">' in body
    assert "<Name>Японских иен</Name>".encode("windows-1251") in body
    for valute_id, code, nominal in [
        ("R01235", "USD", "1"),
        ("R01239", "EUR", "1"),
        ("R01375", "CNY", "1"),
        ("R01820", "JPY", "100"),
        ("R01335", "KZT", "100"),
    ]:
        assert f'<Valute ID="{valute_id}">'.encode() in body
        assert f"<CharCode>{code}</CharCode>\r\n        <Nominal>{nominal}</Nominal>".encode() in body
    assert b"<Value>50,1287</Value>" in body
    assert b"<VunitRate>0,501287</VunitRate>" in body


async def test_a_given_day_is_asked_with_date_req_in_dd_mm_yyyy(cbr: CbrEmulator, rates: CbrRates) -> None:
    cbr.set_rate("CNY", Decimal("11.00"), on=dt.date(2025, 12, 24))

    sheet = await rates.fetch(dt.date(2025, 12, 24))

    assert sheet.date == dt.date(2025, 12, 24)
    assert sheet.rate("CNY") == Decimal("11.00")
    assert cbr.requests()[-1].date_req == "24/12/2025"
    assert (await rates.fetch()).rate("CNY") == Decimal("11.1457")  # a day's rate is that day's only


async def test_a_sunday_is_answered_with_saturdays_sheet(rates: CbrRates) -> None:
    sheet = await rates.fetch(dt.date(2025, 12, 28))

    assert sheet.date == dt.date(2025, 12, 27)


async def test_a_rate_change_is_seen_on_the_next_fetch(cbr: CbrEmulator, rates: CbrRates) -> None:
    cbr.set_rate("CNY", Decimal("12.00"), nominal=1)
    paid = (await rates.fetch()).rate("CNY")

    cbr.set_rate("CNY", Decimal("12.50"), nominal=1)
    current = (await rates.fetch()).rate("CNY")

    assert (paid, current) == (Decimal("12.00"), Decimal("12.50"))
    assert deviation(paid, current) > Decimal("0.02")


async def test_setting_a_value_keeps_the_currencys_nominal(cbr: CbrEmulator, rates: CbrRates) -> None:
    cbr.set_rate("JPY", Decimal("55.0000"))

    assert (await rates.fetch()).rate("JPY") == Decimal("0.55")


async def test_http_503_is_rates_unavailable_until_the_bank_recovers(cbr: CbrEmulator, rates: CbrRates) -> None:
    cbr.fail_with(503)

    with pytest.raises(RatesUnavailable) as caught:
        await rates.fetch()

    assert caught.value.reason == "the Central Bank answered HTTP 503"
    cbr.recover()
    assert (await rates.fetch()).date == TODAY
    assert [request.answer for request in cbr.requests()] == ["http error", "sheet"]


async def test_an_html_page_instead_of_xml_is_rates_unavailable(cbr: CbrEmulator, rates: CbrRates) -> None:
    cbr.serve_garbage()

    with pytest.raises(RatesUnavailable, match="web page instead of the rate sheet"):
        await rates.fetch()


async def test_a_hanging_bank_is_rates_unavailable_after_the_client_timeout(cbr: CbrEmulator, rates: CbrRates) -> None:
    cbr.hang()
    started = time.monotonic()

    with pytest.raises(RatesUnavailable) as caught:
        await rates.fetch()

    assert caught.value.reason == "the Central Bank did not answer in time"
    assert time.monotonic() - started < CLIENT_TIMEOUT + 2  # the client's timeout, not the emulator, ended it
    assert [request.answer for request in cbr.requests()] == ["hang"]
    cbr.recover()
    assert (await rates.fetch()).date == TODAY


async def test_stopping_lets_go_of_a_held_request_at_once(client: httpx.AsyncClient) -> None:
    async with asyncio.timeout(5):  # aiohttp would otherwise wait 60 s for the held handler
        async with CbrEmulator(today=TODAY) as cbr:
            cbr.hang()
            with pytest.raises(RatesUnavailable, match="in time"):
                await CbrRates(client, cbr.daily_url).fetch()


async def test_a_date_req_the_bank_cannot_read_is_rates_unavailable(
    cbr: CbrEmulator, client: httpx.AsyncClient
) -> None:
    rates = CbrRates(client, cbr.daily_url + "?date_req=2025-12-31")

    with pytest.raises(RatesUnavailable, match="no date"):
        await rates.fetch()

    assert cbr.requests()[-1].answer == "error in parameters"


async def test_a_stopped_bank_is_rates_unavailable(client: httpx.AsyncClient) -> None:
    async with CbrEmulator(today=TODAY) as stopped:
        daily_url = stopped.daily_url

    with pytest.raises(RatesUnavailable, match="could not be reached"):
        await CbrRates(client, daily_url).fetch()


def test_every_sheet_the_emulator_writes_parses_back() -> None:
    quotes = {
        "JPY": Quote(Decimal("50.1287"), 100),
        "CNY": Quote(Decimal("100.0000")),
        "KZT": Quote(Decimal("0.0001"), 100),
    }

    sheet = parse_daily(render_sheet(TODAY, quotes))

    assert sheet.rates == {"JPY": Decimal("0.501287"), "CNY": Decimal(100), "KZT": Decimal("0.000001")}


@pytest.mark.parametrize(
    ("value", "nominal", "problem"),
    [
        (Decimal("12.00001"), 1, "4 decimals"),
        (Decimal(0), 1, "positive"),
        (Decimal("-1"), 1, "positive"),
        (Decimal("NaN"), 1, "positive"),
        (Decimal("12"), 0, "nominal"),
    ],
)
def test_the_emulator_refuses_rates_the_bank_would_never_publish(value: Decimal, nominal: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        CbrEmulator().set_rate("CNY", value, nominal=nominal)


def test_the_emulator_lists_only_currencies_it_knows() -> None:
    with pytest.raises(KeyError, match="no 'XYZ'"):
        CbrEmulator().set_rate("XYZ", Decimal(1))
