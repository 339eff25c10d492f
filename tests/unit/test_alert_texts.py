"""An alert's detail is free-form (a channel's words, a bench's counters): a field that happens to be named like
a parameter of the text function ("key", "locale") must not break the message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.telegram.render import alert_text, alert_title
from bot.texts import Locale
from workflows.office_model import Alert


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_a_detail_field_named_key_or_locale_still_renders(locale: Locale) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    detail: dict[str, object] = {"channel": "wildberries", "failures": 5, "reason": "HTTP 503", "key": 7,
                                 "locale": "xx"}  # fmt: skip
    alert = Alert(None, "sync_failing:wildberries", "sync_failing", detail, "open", 1, 0, now, now)
    title = alert_title(alert, locale, "Europe/Moscow")
    assert "wildberries" in title
    assert "wildberries" in alert_text(alert, None, locale, "Europe/Moscow")


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_price_drift_says_how_many_and_shows_one(locale: Locale) -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    detail: dict[str, object] = {"channel": "ozon", "count": 3, "sku": "KETTLE", "shown": "1999.00", "ours": "2500.40"}
    alert = Alert(None, "price_drift:ozon", "price_drift", detail, "open", 1, 0, now, now)
    title = alert_title(alert, locale, "Europe/Moscow")
    assert all(part in title for part in ("ozon", "3", "KETTLE", "1999.00", "2500.40")) and "price_drift" not in title


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
