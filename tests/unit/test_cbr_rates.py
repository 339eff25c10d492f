"""The Central Bank rate-sheet parser, the per-unit arithmetic and ``deviation``, without a network."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import httpx
import pytest

from integrations.cbr import (
    CbrError,
    CbrRates,
    RateSheet,
    RatesUnavailable,
    UnknownCurrency,
    parse_daily,
)
from workflows.fx import deviation

# The captured real response of 31.12.2025, as the bank sends it: windows-1251 bytes.
CAPTURED = """<?xml version="1.0" encoding="windows-1251"?>
<ValCurs Date="31.12.2025" name="Foreign Currency Market">
    <Valute ID="R01010">
        <NumCode>036</NumCode>
        <CharCode>AUD</CharCode>
        <Nominal>1</Nominal>
        <Name>Австралийский доллар</Name>
        <Value>52,4979</Value>
        <VunitRate>52,4979</VunitRate>
    </Valute>
    <Valute ID="R01030">
        <NumCode>012</NumCode>
        <CharCode>DZD</CharCode>
        <Nominal>100</Nominal>
        <Name>Алжирских динаров</Name>
        <Value>60,4454</Value>
        <VunitRate>0,604454</VunitRate>
    </Valute>
</ValCurs>
""".encode("windows-1251")


def sheet(*valutes: str, date: str = ' Date="31.12.2025"', encoding: str = "windows-1251") -> bytes:
    body = "".join(valutes)
    return (
        f'<?xml version="1.0" encoding="{encoding}"?><ValCurs{date} name="Foreign Currency Market">{body}</ValCurs>'
    ).encode(encoding)


def valute(code: str = "DZD", nominal: str = "100", value: str = "60,4454", vunit: str | None = "0,604454") -> str:
    vunit_element = f"<VunitRate>{vunit}</VunitRate>" if vunit is not None else ""
    return (
        f'<Valute ID="R01030"><NumCode>012</NumCode><CharCode>{code}</CharCode><Nominal>{nominal}</Nominal>'
        f"<Name>Алжирских динаров</Name><Value>{value}</Value>{vunit_element}</Valute>"
    )


def test_the_captured_sheet_parses_to_roubles_per_one_unit() -> None:
    parsed = parse_daily(CAPTURED)

    assert parsed.date == dt.date(2025, 12, 31)
    assert parsed.rates == {"AUD": Decimal("52.4979"), "DZD": Decimal("0.604454")}
    assert all(isinstance(rate, Decimal) for rate in parsed.rates.values())


def test_windows_1251_names_are_decoded_from_the_xml_declaration() -> None:
    assert "Алжирских динаров".encode("windows-1251") in CAPTURED  # really single-byte Cyrillic, not UTF-8

    assert parse_daily(CAPTURED).names == {"AUD": "Австралийский доллар", "DZD": "Алжирских динаров"}


def test_decimal_comma_is_read_exactly() -> None:
    parsed = parse_daily(sheet(valute("AUD", "1", "52,4979", None)))

    assert parsed.rate("AUD") == Decimal("52.4979")
    assert str(parsed.rate("AUD")) == "52.4979"  # no float on the way


def test_nominal_100_without_vunit_rate_divides_value_by_nominal() -> None:
    assert parse_daily(sheet(valute(vunit=None))).rate("DZD") == Decimal("0.604454")


def test_vunit_rate_is_preferred_when_it_is_more_precise_than_value() -> None:
    # Value is rounded to 4 decimals for 100 units; VunitRate may carry the unrounded per-unit rate.
    parsed = parse_daily(sheet(valute(value="60,4454", vunit="0,60445412")))

    assert parsed.rate("DZD") == Decimal("0.60445412")


def test_vunit_rate_that_disagrees_with_value_over_nominal_is_refused() -> None:
    with pytest.raises(RatesUnavailable, match="VunitRate for DZD"):
        parse_daily(sheet(valute(value="60,4454", vunit="60,4454")))  # per 100 units, not per one


def test_rouble_is_one_and_codes_are_case_insensitive() -> None:
    parsed = parse_daily(CAPTURED)

    assert parsed.rate("RUB") == Decimal(1)
    assert parsed.rate(" aud ") == Decimal("52.4979")


def test_unknown_currency_is_a_clear_error() -> None:
    with pytest.raises(UnknownCurrency, match=r"31\.12\.2025 have no CNY") as caught:
        parse_daily(CAPTURED).rate("CNY")

    assert caught.value.currency == "CNY"
    assert isinstance(caught.value, LookupError)
    assert isinstance(caught.value, CbrError)


def test_a_rate_sheet_can_be_built_directly() -> None:
    built = RateSheet(date=dt.date(2025, 12, 31), rates={"CNY": Decimal("12.00")})

    assert built.rate("CNY") == Decimal("12.00")
    assert built.names == {}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        pytest.param(sheet(valute(), date=""), "no date", id="missing Date"),
        pytest.param(sheet(valute(), date=' Date=""'), "no date", id="empty Date"),
        pytest.param(sheet(valute(), date=' Date="2025-12-31"'), "not DD.MM.YYYY", id="ISO Date"),
        pytest.param(sheet(valute(), date=' Date="31.02.2025"'), "not DD.MM.YYYY", id="impossible Date"),
        pytest.param(sheet(valute(value="")), "bad number for DZD", id="empty Value"),
        pytest.param(sheet(valute(value="шестьдесят")), "bad number for DZD", id="words"),
        pytest.param(sheet(valute(value="1.060,4454")), "bad number for DZD", id="thousands separator"),
        pytest.param(sheet(valute(value="-60,4454", vunit=None)), "bad number for DZD", id="negative"),
        pytest.param(sheet(valute(value="NaN", vunit=None)), "bad number for DZD", id="NaN"),
        pytest.param(sheet(valute(value="6E1", vunit=None)), "bad number for DZD", id="exponent"),
        pytest.param(sheet(valute(value="٦٠,٤٤٥٤", vunit=None), encoding="utf-8"), "bad number", id="Arabic digits"),
        pytest.param(sheet(valute(value="0,0000", vunit=None)), "zero rate for DZD", id="zero"),
        pytest.param(sheet(valute(vunit="0,60x")), "bad number for DZD", id="garbled VunitRate"),
        pytest.param(sheet(valute(nominal="0")), "bad nominal for DZD", id="nominal 0"),
        pytest.param(sheet(valute(nominal="сто")), "bad nominal for DZD", id="nominal in words"),
        pytest.param(sheet(valute(nominal="")), "bad nominal for DZD", id="nominal missing"),
        pytest.param(sheet(valute(code="")), "bad currency code", id="code missing"),
        pytest.param(sheet(valute(code="Dollar")), "bad currency code", id="code garbled"),
        pytest.param(sheet(valute(), valute()), "lists DZD twice", id="duplicate"),
        pytest.param(sheet(), "no rates", id="no rates"),
        pytest.param(b'<?xml version="1.0"?><ValCurs>Error in parameters</ValCurs>', "no date", id="bank's error"),
        pytest.param(b"<html><body><h1>Maintenance</h1></body></html>", "not a rate sheet", id="XHTML"),
        pytest.param(b"<html><body>Maintenance<br></body></html>", "not well-formed", id="HTML"),
        pytest.param(b"<!DOCTYPE html><html><body>Maintenance</body></html>", "web page", id="HTML5 page"),
        pytest.param(CAPTURED[: len(CAPTURED) // 2], "not well-formed", id="truncated"),
        pytest.param(b"", "not well-formed", id="empty"),
        pytest.param(b'{"Valute": {}}', "not well-formed", id="JSON"),
        pytest.param(b'<?xml version="1.0" encoding="x-nonsense"?><ValCurs/>', "encoding", id="unknown encoding"),
        pytest.param(b'<?xml version="1.0" encoding="big5"?><ValCurs/>', "encoding", id="multi-byte encoding"),
    ],
)
def test_anything_but_a_whole_sheet_is_refused_with_a_short_reason(document: bytes, reason: str) -> None:
    with pytest.raises(RatesUnavailable, match=reason) as caught:
        parse_daily(document)

    assert caught.value.reason == str(caught.value)
    assert len(caught.value.reason) < 100
    assert "Traceback" not in caught.value.reason
    # The parser's own exception is not chained on: a log of this error shows the reason, not expat's insides.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_one_bad_valute_refuses_the_whole_sheet() -> None:
    with pytest.raises(RatesUnavailable):
        parse_daily(sheet(valute("AUD", "1", "52,4979", None), valute("DZD", value="oops")))


_BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE ValCurs [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    + ']><ValCurs Date="31.12.2025"><Valute><CharCode>USD</CharCode><Nominal>1</Nominal>'
    "<Name>&i;</Name><Value>1,0</Value></Valute></ValCurs>"
)
_EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE ValCurs [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    '<ValCurs Date="31.12.2025"><Valute><CharCode>USD</CharCode><Nominal>1</Nominal>'
    "<Name>&x;</Name><Value>1,0</Value></Valute></ValCurs>"
)


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_BILLION_LAUGHS.encode(), id="billion laughs"),
        pytest.param(_EXTERNAL_ENTITY.encode(), id="external entity"),
        pytest.param(_BILLION_LAUGHS.replace('"1.0"?', '"1.0" encoding="utf-16"?', 1).encode("utf-16"), id="utf-16"),
        pytest.param(b'<?xml version="1.0"?><!DOCTYPE ValCurs><ValCurs Date="31.12.2025"/>', id="bare DOCTYPE"),
    ],
)
def test_a_doctype_is_refused_before_anything_it_declares_is_used(document: bytes) -> None:
    with pytest.raises(RatesUnavailable, match="DOCTYPE"):
        parse_daily(document)


def test_deviation_is_the_move_relative_to_the_paid_rate() -> None:
    moved = deviation(Decimal("12.00"), Decimal("12.50"))

    assert moved == Decimal("0.5") / Decimal("12")
    assert str(moved).startswith("0.041666")
    assert moved > Decimal("0.02")


def test_a_small_move_stays_under_the_threshold() -> None:
    moved = deviation(Decimal("12.00"), Decimal("12.10"))

    assert str(moved).startswith("0.00833")
    assert moved < Decimal("0.02")


def test_deviation_counts_either_direction_and_zero_for_no_move() -> None:
    assert deviation(Decimal("12.00"), Decimal("11.50")) == deviation(Decimal("12.00"), Decimal("12.50"))
    assert deviation(Decimal("12.00"), Decimal("12.00")) == 0


@pytest.mark.parametrize("paid", [Decimal(0), Decimal("-1")])
def test_deviation_needs_a_positive_paid_rate(paid: Decimal) -> None:
    with pytest.raises(ValueError, match="positive"):
        deviation(paid, Decimal("12.00"))


# -- the client on httpx's MockTransport (the emulator tests drive it over real HTTP) ---------------------------


async def fetch_with(handler: httpx.MockTransport, on: dt.date | None = None, max_bytes: int = 512 * 1024) -> RateSheet:
    async with httpx.AsyncClient(transport=handler) as client:
        return await CbrRates(client, "https://cbr.test/scripts/XML_daily.asp", max_bytes=max_bytes).fetch(on)


async def test_fetch_sends_date_req_and_reads_the_bytes() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # A wrong charset in the header must not matter: the XML declaration decides.
        return httpx.Response(200, content=CAPTURED, headers={"Content-Type": "text/xml; charset=utf-8"})

    parsed = await fetch_with(httpx.MockTransport(answer), on=dt.date(2025, 12, 31))

    assert parsed.names["DZD"] == "Алжирских динаров"
    assert seen[0].url.params["date_req"] == "31/12/2025"
    assert seen[0].url.path == "/scripts/XML_daily.asp"


async def test_an_unreachable_bank_is_rates_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RatesUnavailable, match="could not be reached"):
        await fetch_with(httpx.MockTransport(refuse))


async def test_an_oversized_answer_is_not_read_to_the_end() -> None:
    def flood(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<ValCurs>" + b" " * 10_000)

    with pytest.raises(RatesUnavailable, match="too large"):
        await fetch_with(httpx.MockTransport(flood), max_bytes=1_000)
