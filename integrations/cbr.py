"""The Central Bank of Russia's official daily exchange rates (``XML_daily.asp``), on an injected ``httpx.AsyncClient``.

What the bank serves (a captured real answer is in ``tests/unit/test_cbr_rates.py``): an XML document in
**windows-1251** (its XML declaration says so), numbers with a **decimal comma**, ``Value`` in roubles per
``Nominal`` units (``Nominal`` is 100 for JPY, KZT, DZD…), ``VunitRate`` in roubles per one unit, and the root
``Date`` attribute naming the day the rates are set *for* (asking for a Sunday gives Saturday's sheet).
``?date_req=DD/MM/YYYY`` asks for another day.

Errors form one small tree: :class:`CbrError`, with :class:`RatesUnavailable` (the bank could not give a usable
sheet; ``reason`` is a short sentence fit to show a person) and :class:`UnknownCurrency` (the sheet has no rate
for that code). :class:`RatesUnavailable` is also a ``workflows.outside.Unavailable``, the kind every outside
system's "try again later" is. A sheet is either parsed whole or refused: never half.

The parser is the standard library's ``xml.etree.ElementTree`` (``defusedxml`` is not a dependency). That is safe
here because a document with a ``DOCTYPE`` is refused before any of its declarations is read: without a DTD there
are no entities to expand and nothing external to fetch. A rate sheet never has one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from integrations.wire import Wire
from workflows.fx import FeedDown
from workflows.outside import Unavailable

RUB = "RUB"
MAX_SHEET_BYTES = 512 * 1024
"""A real sheet is about 10 KB; anything far larger is not one, and is not read to the end."""
DEFAULT_DEADLINE_S = 10.0
"""How long one whole fetch may take, body included (``CBR_TIMEOUT_S``)."""

_NUMBER = re.compile(r"[0-9]{1,12}(?:[,.][0-9]{1,12})?")
_CHAR_CODE = re.compile(r"[A-Z]{3}")
_NOMINAL = re.compile(r"[1-9][0-9]{0,8}")


class CbrError(Exception):
    """Base of the errors of this client."""


class RatesUnavailable(CbrError, Unavailable):
    """No usable rate sheet: the bank did not answer, answered an error, or sent something that is not a sheet.

    ``reason`` is short and human ("the Central Bank answered HTTP 503"), never a stack trace.
    """


_WIRE = Wire("the Central Bank", unavailable=RatesUnavailable)
"""Only for a request that got no answer: the bank's answers are XML, read here."""


class UnknownCurrency(CbrError, LookupError):
    """The sheet has no rate for ``currency``."""

    def __init__(self, currency: str, sheet_date: dt.date) -> None:
        super().__init__(f"the Central Bank's rates for {sheet_date:%d.%m.%Y} have no {currency}")
        self.currency = currency


@dataclass(frozen=True)
class RateSheet:
    """The official rates for one day: roubles per ONE unit of each currency, keyed by ISO code (``CharCode``).

    ``date`` is the day the bank set the rates for (its ``Date`` attribute), which may be earlier than the day
    asked for. ``names`` holds the bank's Russian names ("Китайский юань"), for messages to people.
    """

    date: dt.date
    rates: dict[str, Decimal]
    names: dict[str, str] = field(default_factory=dict)

    def rate(self, currency: str) -> Decimal:
        """Roubles per one unit of ``currency`` (1 for RUB); :class:`UnknownCurrency` if the sheet lacks it."""
        code = currency.strip().upper()
        if code == RUB:
            return Decimal(1)
        try:
            return self.rates[code]
        except KeyError:
            raise UnknownCurrency(code, self.date) from None


class CbrRates:
    """Fetches rate sheets from ``daily_url`` (``CBR_DAILY_URL``) through ``client``, which the caller owns.

    Proxies, redirects and the per-read timeouts are the client's configuration. A per-read timeout alone does
    not bound a fetch: a server that sends one byte just before each read would time out never, so the whole
    request, headers and body, must end within ``deadline_s`` (``CBR_TIMEOUT_S``) or it is given up as
    :class:`RatesUnavailable`. This makes one request per call and does not retry.
    """

    def __init__(
        self, client: httpx.AsyncClient, daily_url: str, *, max_bytes: int = MAX_SHEET_BYTES,
        deadline_s: float = DEFAULT_DEADLINE_S,
    ) -> None:  # fmt: skip
        if deadline_s <= 0:
            raise ValueError(f"the deadline must be positive, not {deadline_s}")
        self._client = client
        self._daily_url = daily_url
        self._max_bytes = max_bytes
        self._deadline_s = deadline_s

    async def fetch(self, on: dt.date | None = None) -> RateSheet:
        """The sheet in force on ``on`` (the latest one when ``None``); :class:`RatesUnavailable` if there is none,
        also when the bank has not sent all of it within the deadline."""
        params = {"date_req": on.strftime("%d/%m/%Y")} if on is not None else None
        try:
            async with asyncio.timeout(self._deadline_s):
                body = await self._download(params)
        except TimeoutError:
            raise RatesUnavailable(
                f"the Central Bank did not send the rate sheet within {self._deadline_s:g} s"
            ) from None
        return parse_daily(body)

    async def _download(self, params: dict[str, str] | None) -> bytes:
        with _WIRE.transport_errors():
            async with self._client.stream("GET", self._daily_url, params=params) as response:
                if response.status_code != httpx.codes.OK:  # any status: the FX watch falls back on the last sheet
                    raise RatesUnavailable(f"the Central Bank answered HTTP {response.status_code}")
                return await self._read_limited(response)

    async def _read_limited(self, response: httpx.Response) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_bytes:
                raise RatesUnavailable("the Central Bank's answer is far too large to be a rate sheet")
        return bytes(body)


class _NoDoctype(ET.TreeBuilder):
    """Stops the parse at a ``DOCTYPE``, before any entity it declares can be defined or expanded."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        if name.lower() == "html":  # an error or maintenance page, from the bank or a proxy on the way
            raise RatesUnavailable("the Central Bank sent a web page instead of the rate sheet")
        raise RatesUnavailable("the Central Bank's answer declares a DOCTYPE, which a rate sheet never does")


def parse_daily(xml_bytes: bytes) -> RateSheet:
    """A whole ``XML_daily.asp`` document, as bytes (the encoding comes from its XML declaration), as a sheet.

    Raises :class:`RatesUnavailable` for anything that is not a complete, consistent sheet: malformed XML, a
    DOCTYPE, another root element, a missing or bad ``Date``, a bad code, nominal or number, a duplicate
    currency, ``VunitRate`` disagreeing with ``Value / Nominal``, or no rates at all.
    """
    parser = ET.XMLParser(target=_NoDoctype())  # noqa: S314  # safe: a DOCTYPE is refused, see the module doc
    try:
        parser.feed(xml_bytes)
        root = parser.close()
    except ET.ParseError:
        raise RatesUnavailable("the Central Bank's answer is not well-formed XML") from None
    except (LookupError, ValueError):  # an unknown or multi-byte encoding in the XML declaration
        raise RatesUnavailable("the Central Bank's answer is in an encoding that cannot be read") from None
    if root.tag != "ValCurs":
        raise RatesUnavailable("the Central Bank's answer is not a rate sheet")
    sheet_date = _sheet_date(root.get("Date"))
    rates: dict[str, Decimal] = {}
    names: dict[str, str] = {}
    for valute in root.findall("Valute"):
        code, rate = _valute(valute)
        if code in rates:
            raise RatesUnavailable(f"the rate sheet lists {code} twice")
        rates[code] = rate
        names[code] = (valute.findtext("Name") or "").strip()
    if not rates:
        raise RatesUnavailable("the rate sheet has no rates")
    return RateSheet(date=sheet_date, rates=rates, names=names)


def _sheet_date(raw: str | None) -> dt.date:
    if raw is None or not raw.strip():
        raise RatesUnavailable("the rate sheet has no date")
    try:
        return dt.datetime.strptime(raw.strip(), "%d.%m.%Y").date()
    except ValueError:
        raise RatesUnavailable(f"the rate sheet's date {raw[:20]!r} is not DD.MM.YYYY") from None


def _valute(valute: ET.Element) -> tuple[str, Decimal]:
    """One ``<Valute>``: its code and roubles per one unit (``VunitRate``, checked against ``Value / Nominal``)."""
    code = (valute.findtext("CharCode") or "").strip()
    if not _CHAR_CODE.fullmatch(code):
        raise RatesUnavailable(f"the rate sheet has a bad currency code {code[:10]!r}")
    nominal_text = (valute.findtext("Nominal") or "").strip()
    if not _NOMINAL.fullmatch(nominal_text):
        raise RatesUnavailable(f"the rate sheet has a bad nominal for {code}")
    nominal = int(nominal_text)
    value = _number(valute.findtext("Value"), code)
    per_unit = value / nominal
    vunit_text = valute.findtext("VunitRate")
    if vunit_text is None:  # older sheets have no VunitRate
        return code, per_unit
    vunit = _number(vunit_text, code)
    # Value is rounded to its last decimal; VunitRate may carry more, so they agree to within that last place.
    tolerance = _last_place(value)
    if abs(vunit * nominal - value) > tolerance:
        raise RatesUnavailable(f"the rate sheet's VunitRate for {code} disagrees with Value / Nominal")
    return code, vunit


def _number(raw: str | None, code: str) -> Decimal:
    """A positive decimal written the bank's way (``60,4454``); no signs, exponents, NaN or thousands separators."""
    text = (raw or "").strip()
    if not _NUMBER.fullmatch(text):
        raise RatesUnavailable(f"the rate sheet has a bad number for {code}")
    number = Decimal(text.replace(",", "."))
    if number <= 0:
        raise RatesUnavailable(f"the rate sheet has a zero rate for {code}")
    return number


def _last_place(number: Decimal) -> Decimal:
    """One unit in the last written decimal place: ``0.0001`` for ``60.4454``."""
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int):  # NaN and infinities; _number never makes them
        raise RatesUnavailable("the rate sheet has a bad number")
    return Decimal(1).scaleb(exponent)


class CbrFeed:
    """The FX watch's rates feed (``workflows.fx.RatesFeed``) on the Central Bank's daily sheet."""

    def __init__(self, rates: CbrRates) -> None:
        self._rates = rates

    async def latest(self) -> tuple[dt.date, dict[str, Decimal]]:
        try:
            sheet = await self._rates.fetch()
        except RatesUnavailable as error:
            raise FeedDown(error.reason) from None
        return sheet.date, dict(sheet.rates)
