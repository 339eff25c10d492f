"""Numbers, sums, plurals and durations by CLDR (Babel): the forms the shop's people write."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.texts import Locale
from bot.wording import Names, channel_title, count, duration, money, number, percent, rate


@pytest.mark.parametrize(
    ("n", "word", "ru", "en"),
    [(1, "price", "1\xa0цена", "1\xa0price"), (4, "price", "4\xa0цены", "4\xa0prices"), (15, "price", "15\xa0цен", "15\xa0prices"),
     (2, "time", "2\xa0раза", "2\xa0times"), (22, "line", "22\xa0строки", "22\xa0lines"), (21, "line", "21\xa0строка", "21\xa0lines"),
     (11, "article", "11\xa0артикулов", "11\xa0articles"), (1000, "time", "1\xa0000\xa0раз", "1,000\xa0times")],
)  # fmt: skip
def test_plurals_follow_cldr(n: int, word: str, ru: str, en: str) -> None:
    assert count("ru", n, word) == ru
    assert count("en", n, word) == en


@pytest.mark.parametrize(
    ("locale", "shown"),
    [("ru", ["4", "4\xa0%", "99,5\xa0%", "12,00\xa0₽", "150\xa0000,00\xa0₽", "1\xa0200,50\xa0CN¥", "12,3456"]),
     ("en", ["4", "4%", "99.5%", "12.00\xa0RUB", "150,000.00\xa0RUB", "1,200.50\xa0CNY", "12.3456"])],
)  # fmt: skip
def test_numbers_shares_sums_and_rates(locale: Locale, shown: list[str]) -> None:
    assert [
        number(locale, 4.0), percent(locale, 4.0), percent(locale, 99.54), money(locale, "12.0000"),
        money(locale, 150000), money(locale, "1200.5", "CNY"), rate(locale, "12.3456"),
    ] == shown  # fmt: skip


@pytest.mark.parametrize(
    ("span", "ru", "en"),
    [(timedelta(seconds=0), "меньше минуты", "under a minute"), (timedelta(minutes=43), "43 мин", "43 min"),
     (timedelta(minutes=65), "1 ч 5 мин", "1 hr 5 min"), (timedelta(days=2, hours=3, minutes=4), "2 дн. 3 ч", "2 days 3 hr")],
)  # fmt: skip
def test_durations_in_the_two_largest_units(span: timedelta, ru: str, en: str) -> None:
    assert duration("ru", span) == ru
    assert duration("en", span) == en


def test_channels_by_the_title_of_their_kind_and_stores_by_the_topologys_title() -> None:
    assert [channel_title("ru", k) for k in ("site", "wildberries", "ozon", "yandex_market", "retailcrm")] == [
        "Сайт", "Wildberries", "Ozon", "Яндекс Маркет", "RetailCRM"]  # fmt: skip
    assert [channel_title("en", k) for k in ("site", "yandex_market")] == ["Site", "Yandex Market"]
    names = Names("ru", {"ym": "yandex_market"}, {"tverskaya": "Тверская"})
    assert (names.channel("ym"), names.place("tverskaya"), names.place("nowhere")) == (
        "Яндекс Маркет",
        "Тверская",
        "nowhere",
    )
