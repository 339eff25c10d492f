"""The managers' question about a marketplace order nobody can fill shows the marketplace's own shipping deadline in
the shop's time when the marketplace told one, when ``wait`` asks again and whether that is past it; the owner's alert for an
order whose deadline is already near names that deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.telegram.render import alert_title, task_text
from bot.texts import Locale
from workflows.office_model import Alert
from workflows.payloads import UnfillableLine, UnfillableOrder
from workflows.tasks import Task
from workflows.unfillable import OPTIONS, SHIP_BY_NEAR
from workflows.vocabulary import Assignee, TaskKind

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
SHOP_TIME = "Europe/Moscow"


def question(ship_by: datetime | None, escalated: str | None = None) -> Task:
    asked = UnfillableOrder(7, "OZ-2", "ozon", (UnfillableLine(2, "VASE", 1),), 1, escalated, ship_by)
    subject = "order:7:unfillable:1"
    deadline = NOW + timedelta(hours=4)
    return Task(1, TaskKind.UNFILLABLE_ORDER, subject, Assignee.MANAGERS, OPTIONS, deadline, NOW,
                payload=asked.to_payload())  # fmt: skip


def test_the_ship_by_is_shown_in_the_shops_time_and_the_wait_with_how_to_name_a_day() -> None:
    text = task_text(question(NOW + timedelta(days=2)), "ru", SHOP_TIME)  # 23.11 12:00 Moscow

    assert "Маркетплейс ждёт отгрузку до 23.11 12:00" in text
    assert "«Ждать» — спросим снова 22.11 12:00; знаете день поставки — /wait OZ-2 ДД.ММ" in text
    assert "⚠️" not in text  # a day's wait ends before the marketplace's deadline


def test_a_wait_past_the_ship_by_is_warned_of() -> None:
    text = task_text(question(NOW + timedelta(hours=20)), "en", SHOP_TIME)

    assert "The marketplace wants it shipped by 22.11 08:00" in text
    assert "“Wait” asks again 22.11 12:00; if you know the delivery day: /wait OZ-2 DD.MM" in text
    assert "⚠️ That is past the marketplace's deadline" in text


def test_without_a_ship_by_the_question_is_as_before() -> None:
    text = task_text(question(None), "ru", SHOP_TIME)

    assert "Ответьте до 21.11 16:00" in text
    assert "отгрузку до" not in text and "⚠️" not in text and "/wait OZ-2" in text


@pytest.mark.parametrize(("locale", "words"), [("ru", "срок отгрузки маркетплейса уже близко"),
                                               ("en", "the marketplace's shipping deadline is near")])  # fmt: skip
def test_the_owners_copy_says_why_it_came_to_them(locale: Locale, words: str) -> None:
    assert words in task_text(question(NOW + timedelta(hours=1), "ship_by"), locale, SHOP_TIME)


def test_the_ship_by_alert_names_the_order_and_the_deadline_in_the_shops_time() -> None:
    detail: dict[str, object] = {"order_id": 7, "order": "OZ-2", "channel": "ozon",
                                 "ship_by": (NOW + timedelta(hours=1)).isoformat(), "task_id": 1}  # fmt: skip
    alert = Alert(None, f"{SHIP_BY_NEAR}:order:7:1", SHIP_BY_NEAR, detail, "open", 1, 0, NOW, NOW)

    assert alert_title(alert, "ru", SHOP_TIME) == (
        "Заказ OZ-2 (Ozon): товара нет нигде, а отгрузить его нужно до 21.11 13:00 — решать владельцу"
    )
    assert "must ship by 21.11 13:00" in alert_title(alert, "en", SHOP_TIME)
