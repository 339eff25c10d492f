"""The Central Bank's rate sheets as data, and as the bytes ``XML_daily.asp`` puts on the wire.

Nothing here speaks HTTP. A :class:`RateBook` holds standing quotes (served for any day) and quotes set for one
day only; :func:`render_sheet` writes a sheet the way the bank does: windows-1251, decimal commas,
``Value`` with 4 decimals for ``Nominal`` units, ``VunitRate`` for one unit, the ``Date`` the rates are set for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

_VALUE_PLACE = Decimal("0.0001")


@dataclass(frozen=True)
class Currency:
    """A currency as the bank lists it: its ``Valute ID``, ISO numeric and letter codes, usual nominal, name."""

    valute_id: str
    num_code: str
    char_code: str
    usual_nominal: int
    name: str


CATALOGUE: Mapping[str, Currency] = {
    currency.char_code: currency
    for currency in (
        Currency("R01010", "036", "AUD", 1, "Австралийский доллар"),
        Currency("R01030", "012", "DZD", 100, "Алжирских динаров"),
        Currency("R01200", "344", "HKD", 1, "Гонконгский доллар"),
        Currency("R01235", "840", "USD", 1, "Доллар США"),
        Currency("R01239", "978", "EUR", 1, "Евро"),
        Currency("R01335", "398", "KZT", 100, "Казахстанских тенге"),
        Currency("R01375", "156", "CNY", 1, "Китайский юань"),
        Currency("R01820", "392", "JPY", 100, "Японских иен"),
    )
}
"""The currencies the emulator can list (IDs and codes as the bank publishes them)."""


@dataclass(frozen=True)
class Quote:
    """``value`` roubles for ``nominal`` units, as in ``<Value>`` and ``<Nominal>``."""

    value: Decimal
    nominal: int = 1

    def __post_init__(self) -> None:
        if not self.value.is_finite() or self.value <= 0:
            raise ValueError(f"a rate must be a positive number, not {self.value}")
        if self.value != self.value.quantize(_VALUE_PLACE):
            raise ValueError(f"the bank publishes Value with 4 decimals; {self.value} has more")
        if self.nominal < 1:
            raise ValueError(f"the nominal must be at least 1, not {self.nominal}")

    @property
    def per_unit(self) -> Decimal:
        """Roubles for one unit: what ``<VunitRate>`` says."""
        return self.value / self.nominal


DEFAULT_QUOTES: Mapping[str, Quote] = {
    "AUD": Quote(Decimal("52.4979")),
    "DZD": Quote(Decimal("60.4454"), 100),
    "HKD": Quote(Decimal("10.0512")),
    "USD": Quote(Decimal("78.2267")),
    "EUR": Quote(Decimal("91.7440")),
    "KZT": Quote(Decimal("15.1632"), 100),
    "CNY": Quote(Decimal("11.1457")),
    "JPY": Quote(Decimal("50.1287"), 100),
}
"""Plausible rates to start from; tests set the ones they rely on."""


def rates_date(asked: dt.date) -> dt.date:
    """The ``Date`` of the sheet in force on ``asked``: Friday's rates are set for Saturday and stand until Tuesday,
    so a Sunday or a Monday is answered with Saturday's sheet (holidays are not modelled)."""
    weekday = asked.weekday()
    if weekday == 6:  # Sunday
        return asked - dt.timedelta(days=1)
    if weekday == 0:  # Monday
        return asked - dt.timedelta(days=2)
    return asked


class RateBook:
    """Standing quotes, plus quotes set for single days that override them on those days only."""

    def __init__(self, standing: Mapping[str, Quote]) -> None:
        for code in standing:
            _currency(code)
        self._standing = dict(standing)
        self._by_day: dict[dt.date, dict[str, Quote]] = {}

    def set(self, code: str, value: Decimal, *, nominal: int | None = None, on: dt.date | None = None) -> Quote:
        """Quote ``value`` roubles per ``nominal`` units of ``code`` from now on (``on=None``) or for day ``on``.

        Without ``nominal`` the currency keeps the nominal it has (JPY stays per 100 yen).
        """
        currency = _currency(code)
        if nominal is None:
            current = self.quotes(on).get(code)
            nominal = current.nominal if current is not None else currency.usual_nominal
        quote = Quote(value, nominal)
        target = self._standing if on is None else self._by_day.setdefault(on, {})
        target[code] = quote
        return quote

    def remove(self, code: str, *, on: dt.date | None = None) -> None:
        """Stop listing ``code`` (standing, or on day ``on``: then the standing quote shows again)."""
        target = self._standing if on is None else self._by_day.get(on, {})
        target.pop(code, None)

    def quotes(self, on: dt.date | None = None) -> dict[str, Quote]:
        """What a sheet for day ``on`` lists (standing quotes when ``None``), in the bank's order (by ``ID``)."""
        merged = {**self._standing, **(self._by_day.get(on, {}) if on is not None else {})}
        return dict(sorted(merged.items(), key=lambda item: CATALOGUE[item[0]].valute_id))


def render_sheet(sheet_date: dt.date, quotes: Mapping[str, Quote]) -> bytes:
    """An ``XML_daily.asp`` document for ``sheet_date``, encoded in windows-1251 as the bank serves it."""
    lines = [
        '<?xml version="1.0" encoding="windows-1251"?>',
        f'<ValCurs Date="{sheet_date:%d.%m.%Y}" name="Foreign Currency Market">',
    ]
    for code, quote in quotes.items():
        currency = CATALOGUE[code]
        lines += [
            f"    <Valute ID={quoteattr(currency.valute_id)}>",
            f"        <NumCode>{currency.num_code}</NumCode>",
            f"        <CharCode>{currency.char_code}</CharCode>",
            f"        <Nominal>{quote.nominal}</Nominal>",
            f"        <Name>{escape(currency.name)}</Name>",
            f"        <Value>{_comma(quote.value.quantize(_VALUE_PLACE))}</Value>",
            f"        <VunitRate>{_comma(quote.per_unit.normalize())}</VunitRate>",
            "    </Valute>",
        ]
    lines.append("</ValCurs>")
    return ("\r\n".join(lines) + "\r\n").encode("windows-1251")


ERROR_IN_PARAMETERS = b'<?xml version="1.0" encoding="windows-1251"?>\r\n<ValCurs>Error in parameters</ValCurs>\r\n'
"""What the bank answers (HTTP 200) to a ``date_req`` it cannot read: a sheet with no ``Date`` and no rates."""


def _currency(code: str) -> Currency:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise KeyError(f"the CBR emulator lists no {code!r}; known: {', '.join(sorted(CATALOGUE))}") from None


def _comma(number: Decimal) -> str:
    """Plain notation (never ``1E+2``) with the decimal comma."""
    return f"{number:f}".replace(".", ",")
