"""An alert's detail is free-form (a channel's words, a bench's counters): a field that happens to be named like
a parameter of the text function ("key", "locale") must not break the message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.telegram.render import alert_text, alert_title, resolved_text
from bot.texts import Locale
from workflows.office_model import Alert


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_a_detail_field_named_key_or_locale_still_renders(locale: Locale) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    detail: dict[str, object] = {"channel": "wildberries", "failures": 5, "reason": "HTTP 503", "key": 7,
                                 "locale": "xx"}  # fmt: skip
    alert = Alert(None, "sync_failing:wildberries", "sync_failing", detail, "open", 1, 0, now, now)
    title = alert_title(alert, locale, "Europe/Moscow")
    assert (
        title
        == {
            "ru": "Выгрузка в канал «Wildberries» не проходит (5\xa0раз подряд): HTTP 503",
            "en": "Pushing to Wildberries keeps failing (5\xa0times in a row): HTTP 503",
        }[locale]
    )
    assert title in alert_text(alert, None, locale, "Europe/Moscow")


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_price_drift_says_how_many_and_shows_one(locale: Locale) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    detail: dict[str, object] = {"channel": "ozon", "count": 3, "sku": "KETTLE", "shown": "1999.00", "ours": "2500.40"}
    alert = Alert(None, "price_drift:ozon", "price_drift", detail, "open", 1, 0, now, now)
    title = alert_title(alert, locale, "Europe/Moscow")
    assert (
        title
        == {
            "ru": "В канале «Ozon» цены не совпадают с нашими: 3\xa0артикула. Например, KETTLE: там 1\xa0999,00\xa0₽, у нас "
            "2\xa0500,40\xa0₽. Наши цены отправлены снова, кроме ждущих решения менеджеров.",
            "en": "Prices on Ozon differ from ours: 3\xa0articles. For example KETTLE: 1,999.00\xa0RUB there, 2,500.40\xa0RUB "
            "here. Ours were sent again, except those waiting for the managers' decision.",
        }[locale]
    )


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("ru", "1С молчит 35 мин в рабочее время 08:00-22:00 (последнее обновление 07.12 21:50)"),
        ("en", "1C silent for 35 min of working time 08:00-22:00 (last update 07.12 21:50)"),
    ],
)
def test_1c_silence_in_working_time_says_so(locale: Locale, expected: str) -> None:
    heard = datetime(2026, 12, 7, 18, 50, tzinfo=UTC)  # 21:50 in Moscow
    detail: dict[str, object] = {"last_update": heard.isoformat(), "minutes": 35, "working_hours": "08:00-22:00"}
    alert = Alert(None, "onec_silent", "onec_silent", detail, "open", 1, 0, heard, heard)
    assert alert_title(alert, locale, "Europe/Moscow") == expected
    always = Alert(None, "onec_silent", "onec_silent", {"last_update": heard.isoformat(), "minutes": 31}, "open", 1,
                   0, heard, heard)  # fmt: skip
    assert "08:00" not in alert_title(always, locale, "Europe/Moscow")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "ru",
            "✅ Снова в порядке. Было: 1С молчит 1 ч 5 мин (последнее обновление 07.12 21:50)\n"
            "07.12 21:50–23:00, повторилось 2\xa0раза",
        ),
        (
            "en",
            "✅ Back to normal. It was: 1C has been silent for 1 hr 5 min (last update 07.12 21:50)\n"
            "07.12 21:50–23:00, repeated 2\xa0times",
        ),
    ],
)
def test_a_recovery_says_the_silence_as_a_duration_and_when_and_how_often_once_each(
    locale: Locale, expected: str
) -> None:
    heard = datetime(2026, 12, 7, 18, 50, tzinfo=UTC)
    back = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    detail: dict[str, object] = {"last_update": heard.isoformat(), "minutes": 65}
    alert = Alert(None, "onec_silent", "onec_silent", detail, "resolved", 2, 0, heard, back, resolved_at=back)
    assert resolved_text(alert, locale, "Europe/Moscow") == expected


@pytest.mark.parametrize(
    ("detail", "ru", "en"),
    [
        ({"task_kind": "fx_approval", "order_id": 12}, "Решать владельцу: решение по курсу валюты, заказ 12 — менеджеры не ответили вовремя",
         "The owner decides: a currency rate decision, order 12 — the managers did not answer in time"),
        ({"task_kind": "price_approval", "batch_id": 3, "why": "timeout"}, "Решать владельцу: снижение цен — менеджеры не ответили вовремя",
         "The owner decides: a price drop — the managers did not answer in time"),
        ({"task_kind": "fraud_check", "order_id": 5, "why": "no_answer"}, "Решать владельцу: проверка звонком, заказ 5 — клиент не ответил на звонки",
         "The owner decides: a call check, order 5 — the client did not answer the calls"),
    ],
)  # fmt: skip
def test_an_escalation_names_the_task_in_words(detail: dict[str, object], ru: str, en: str) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    alert = Alert(None, "task_escalated:1", "task_escalated", detail, "open", 1, 0, now, now)
    assert alert_title(alert, "ru", "Europe/Moscow") == ru
    assert alert_title(alert, "en", "Europe/Moscow") == en


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_the_1c_pull_failure_and_an_unknown_kind_are_said_in_words(locale: Locale) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    failing = Alert(None, "onec_pull_failing", "onec_pull_failing", {"reason": "HTTP 500"}, "open", 1, 0, now, now)
    assert (
        alert_title(failing, locale, "Europe/Moscow")
        == {
            "ru": "Не удаётся прочитать остатки и цены из 1С (OData): HTTP 500",
            "en": "Reading stock and prices from 1C (OData) fails: HTTP 500",
        }[locale]
    )
    odd = Alert(None, "brand_new_kind", "brand_new_kind", {"x": 1}, "open", 1, 0, now, now)
    assert "brand_new_kind" not in alert_title(odd, locale, "Europe/Moscow")


def test_a_span_of_time_names_each_part_once() -> None:
    from bot.wording import time_span

    at = datetime(2026, 12, 7, 18, 50, 10, tzinfo=UTC)  # 21:50 in Moscow
    assert time_span(at, at.replace(second=50), "Europe/Moscow") == "07.12 21:50"
    assert time_span(at, at.replace(hour=20), "Europe/Moscow") == "07.12 21:50–23:50"
    assert time_span(at, at.replace(hour=21, minute=5), "Europe/Moscow") == "07.12 21:50 – 08.12 00:05"


@pytest.mark.parametrize(
    ("kind", "reason", "ru", "en"),
    [
        ("onec_pull_failing", "1C answered HTTP 500: Internal error", "HTTP 500", "HTTP 500"),
        ("onec_pull_failing", "wrong 1C login or password", "неверный логин или пароль", "wrong login or password"),
        ("fx_feed_down", "the Central Bank's answer is not well-formed XML", "непонятный ответ",
         "an answer that cannot be read"),
        ("fx_feed_down", "the rate sheet has no date", "непонятный ответ", "an answer that cannot be read"),
        ("carrier_failing", "CDEK did not answer in time", "не ответил вовремя", "no answer in time"),
        ("sync_failing", "Ozon could not be reached (ConnectError)", "нет связи", "cannot connect"),
    ],
)  # fmt: skip
def test_a_failing_systems_reason_is_said_as_its_kind_never_in_the_integrations_english(
    kind: str, reason: str, ru: str, en: str
) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    alert = Alert(None, kind, kind, {"reason": reason, "channel": "ozon", "failures": 3}, "open", 1, 0, now, now)
    assert f": {ru}" in alert_title(alert, "ru", "Europe/Moscow")
    assert f": {en}" in alert_title(alert, "en", "Europe/Moscow")
    assert "answered" not in alert_title(alert, "ru", "Europe/Moscow")


def test_a_refusal_keeps_the_systems_own_words_without_our_frame() -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    detail: dict[str, object] = {"channel": "wildberries", "sku": "KR-7",
                                 "reason": "Wildberries refused the stock update (HTTP 409): Карточка не найдена"}  # fmt: skip
    alert = Alert(None, "sku_rejected:wildberries:KR-7", "sku_rejected", detail, "open", 1, 0, now, now)
    assert (
        alert_title(alert, "ru", "Europe/Moscow")
        == "Wildberries не принимает остаток артикула KR-7: Карточка не найдена"
    )
