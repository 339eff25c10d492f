"""Numbers, money, counts, durations and names in the reader's language, by CLDR's rules (Babel), never by hand.

Every chat text and every page that shows a count ("2 раза", "22 строки"), a sum ("12,00 ₽"), a share ("4 %"),
a duration ("1 ч 5 мин") or a channel's or store's name goes through here, so a person reads their own words:
«Яндекс Маркет», «Тверская» — not ``yandex_market``, ``tverskaya``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale as BabelLocale
from babel.numbers import format_currency, format_decimal
from babel.units import format_unit

from bot.texts import Locale
from workflows.topology import Topology

_BABEL: dict[Locale, str] = {"ru": "ru_RU", "en": "en_US"}

# a channel's title by its kind (the topology's ``kind``): what the shop calls it
CHANNEL_TITLES: dict[Locale, dict[str, str]] = {
    "ru": {"site": "Сайт", "wildberries": "Wildberries", "ozon": "Ozon", "yandex_market": "Яндекс Маркет",
           "retailcrm": "RetailCRM"},
    "en": {"site": "Site", "wildberries": "Wildberries", "ozon": "Ozon", "yandex_market": "Yandex Market",
           "retailcrm": "RetailCRM"},
}  # fmt: skip

# the nouns counted in texts, in CLDR's plural categories (ru: one, few, many; en: one, other)
_NOUNS: dict[Locale, dict[str, dict[str, str]]] = {
    "ru": {
        "time": {"one": "раз", "few": "раза", "many": "раз", "other": "раза"},
        "line": {"one": "строка", "few": "строки", "many": "строк", "other": "строки"},
        "price": {"one": "цена", "few": "цены", "many": "цен", "other": "цены"},
        "article": {"one": "артикул", "few": "артикула", "many": "артикулов", "other": "артикула"},
        "event": {"one": "событие", "few": "события", "many": "событий", "other": "события"},
        "offer": {"one": "предложение", "few": "предложения", "many": "предложений", "other": "предложения"},
        "failure": {"one": "сбой", "few": "сбоя", "many": "сбоев", "other": "сбоя"},
        "piece": {"one": "штука", "few": "штуки", "many": "штук", "other": "штуки"},
        "reservation": {"one": "резерв", "few": "резерва", "many": "резервов", "other": "резерва"},
        "message": {"one": "сообщение", "few": "сообщения", "many": "сообщений", "other": "сообщения"},
        "box": {"one": "коробка", "few": "коробки", "many": "коробок", "other": "коробки"},
    },
    "en": {
        "time": {"one": "time", "other": "times"},
        "line": {"one": "line", "other": "lines"},
        "price": {"one": "price", "other": "prices"},
        "article": {"one": "article", "other": "articles"},
        "event": {"one": "event", "other": "events"},
        "offer": {"one": "offer", "other": "offers"},
        "failure": {"one": "failure", "other": "failures"},
        "piece": {"one": "piece", "other": "pieces"},
        "reservation": {"one": "reservation", "other": "reservations"},
        "message": {"one": "message", "other": "messages"},
        "box": {"one": "box", "other": "boxes"},
    },
}

_UNDER_A_MINUTE: dict[Locale, str] = {"ru": "меньше минуты", "en": "under a minute"}
_PERCENT_SIGN: dict[Locale, str] = {"ru": "\xa0%", "en": "%"}


def _babel(locale: Locale) -> str:
    return _BABEL[locale]


def _plural_category(locale: Locale, n: int) -> str:
    return str(BabelLocale.parse(_babel(locale)).plural_form(abs(n)))


def noun(locale: Locale, n: int, word: str) -> str:
    """``word`` (a key of the nouns above) in the form that goes with ``n``: 1 цена, 4 цены, 15 цен."""
    forms = _NOUNS[locale][word]
    return forms.get(_plural_category(locale, n), forms["other"])


def count(locale: Locale, n: int, word: str) -> str:
    """A number with its noun: «2 раза», «22 строки», «15 цен»."""
    return f"{number(locale, n)}\xa0{noun(locale, n, word)}"


def number(locale: Locale, value: int | float | Decimal | str, *, places: int = 2) -> str:
    """A number as the reader writes it: no ``.0`` for whole numbers, at most ``places`` decimals."""
    pattern = "#,##0." + "#" * places if places else "#,##0"
    return format_decimal(Decimal(str(value)), format=pattern, locale=_babel(locale))


def rate(locale: Locale, value: Decimal | str) -> str:
    """An exchange rate as the central bank states it, to four places: «12,5000»."""
    return format_decimal(Decimal(str(value)), format="#,##0.0000", locale=_babel(locale))


def percent(locale: Locale, share_percent: float | Decimal | str) -> str:
    """A share given in percent (``4.0`` → «4 %», ``99.5`` → «99,5 %»), to one decimal at most."""
    return number(locale, share_percent, places=1) + _PERCENT_SIGN[locale]


def money(locale: Locale, amount: Decimal | int | float | str, currency: str = "RUB") -> str:
    """A sum with its currency: «12,00 ₽», «1 200,50 CN¥» in Russian; «12.00 RUB» in English."""
    value = Decimal(str(amount))
    if locale == "en":  # en's own symbol for RUB is the bare code glued to the number ("RUB12.00")
        return format_currency(value, currency.upper(), format="#,##0.00\xa0¤¤", locale=_babel(locale))
    return format_currency(value, currency.upper(), locale=_babel(locale))


def duration(locale: Locale, span: timedelta | float | int) -> str:
    """How long, in the largest two units: «43 мин», «1 ч 5 мин», «2 дн. 3 ч»; under a minute said so."""
    seconds = span.total_seconds() if isinstance(span, timedelta) else float(span)
    minutes = int(seconds // 60)
    if minutes < 1:
        return _UNDER_A_MINUTE[locale]
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "duration-day"), (hours, "duration-hour"), (minutes, "duration-minute")]
    shown = [(n, unit) for n, unit in parts if n][:2]
    return " ".join(format_unit(n, unit, length="short", locale=_babel(locale)) for n, unit in shown)


def clock_time(moment: datetime, timezone: str) -> str:
    """A moment in the shop's zone as people write it: ``03.12 14:21``."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d.%m %H:%M")


def time_span(first: datetime, last: datetime, timezone: str) -> str:
    """From ``first`` to ``last`` in the shop's zone, each part once: ``03.12 14:21`` within a minute,
    ``03.12 14:21–14:40`` within a day, else ``03.12 14:21 – 04.12 09:00``."""
    zone = ZoneInfo(timezone)
    start, end = first.astimezone(zone), last.astimezone(zone)
    if start.strftime("%d.%m %H:%M") == end.strftime("%d.%m %H:%M"):
        return start.strftime("%d.%m %H:%M")
    if start.date() == end.date():
        return f"{start:%d.%m %H:%M}–{end:%H:%M}"
    return f"{start:%d.%m %H:%M} – {end:%d.%m %H:%M}"


def channel_title(locale: Locale, kind: str) -> str:
    """A channel's title by its kind: «Яндекс Маркет» for ``yandex_market``; an unknown kind as it is."""
    return CHANNEL_TITLES[locale].get(kind, kind)


class Names:
    """The shop's own names for its channels and warehouses (from the topology), in the reader's language."""

    def __init__(self, locale: Locale, channel_kinds: Mapping[str, str], places: Mapping[str, str]) -> None:
        self.locale = locale
        self._kinds = dict(channel_kinds)
        self._places = dict(places)

    @classmethod
    def of(cls, topology: Topology | None, locale: Locale) -> Names:
        if topology is None:
            return cls(locale, {}, {})
        kinds = {name: channel.kind for name, channel in topology.channels.items()}
        places = {w.code: w.display_name for w in topology.warehouses}
        return cls(locale, kinds, places)

    def channel(self, name: object) -> str:
        """A channel's title: by its kind when the topology knows it, else by the name taken as a kind."""
        shown = str(name)
        return channel_title(self.locale, self._kinds.get(shown, shown))

    def place(self, code: object) -> str:
        """A warehouse's or store's title («Тверская»); a code the topology does not know, as it is."""
        shown = str(code)
        return self._places.get(shown, shown)
