"""The dashboard's tasks table words each task for people: what it asks and who answers, never a key."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.http.task_titles import TaskTitles
from workflows.payloads import (
    AlertTask,
    FraudCall,
    PriceQuestion,
    PriceSample,
    StoreQuestion,
    UnfillableLine,
    UnfillableOrder,
)
from workflows.task_model import Task
from workflows.topology import Topology
from workflows.vocabulary import Assignee, TaskKind

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _task(kind: str, payload: dict[str, object], assignee: str = Assignee.MANAGERS, subject: str = "x") -> Task:
    return Task(id=1, kind=kind, subject=subject, assignee=assignee, options=(), deadline=AT, created_at=AT,
                payload=payload)  # fmt: skip


@pytest.fixture
def titles(topology: Topology) -> TaskTitles:
    return TaskTitles(topology, "ru", "Europe/Moscow")


def test_a_stores_question_names_the_store_the_item_its_size_and_the_order(titles: TaskTitles) -> None:
    question = StoreQuestion(order_id=1, external_id="WB-1", channel="wildberries", line=1, sku="КР-7/2", qty=1,
                             store="tverskaya", size="42")  # fmt: skip
    task = _task(TaskKind.STORE_CONFIRMATION, question.to_payload(), "store:tverskaya", "order:1:line:1")

    assert titles.title(task) == "Магазин Тверская: есть ли КР-7/2 размер 42 для заказа WB-1?"
    assert titles.assignee(task.assignee) == "магазин Тверская"


def test_office_tasks_say_what_to_do_and_who_answers(titles: TaskTitles) -> None:
    call = FraudCall(order_id=3, external_id="SITE-3", phone="+7", name="Ива", email="", payer="", total=Decimal(5),
                     currency="RUB", reasons=("new_client",), failed_attempts=0)  # fmt: skip
    prices = PriceQuestion(
        batch_id=1,
        price_type="Розничная",
        lines=4,
        skus=2,
        samples=(PriceSample("ozon", "A", 100_000, 40_000), PriceSample("site", "B", None, 5)),
    )
    unfillable = UnfillableOrder(order_id=5, external_id="OZ-5", channel="ozon", lines=(UnfillableLine(1, "A", 1),))

    assert titles.title(_task(TaskKind.FRAUD_CHECK, call.to_payload())) == "Звонок клиенту по заказу SITE-3"
    assert (
        titles.title(_task(TaskKind.PRICE_APPROVAL, prices.to_payload())) == "Цены «Розничная» упали на 60\xa0%: решить"
    )
    assert titles.title(_task(TaskKind.UNFILLABLE_ORDER, unfillable.to_payload())) == (
        "Заказ OZ-5 (Ozon) нечем собрать: отменить или ждать"
    )
    assert titles.assignee(Assignee.MANAGERS) == "менеджеры"
    assert titles.assignee(Assignee.OWNER) == "владелец"


def test_an_alert_task_is_titled_as_the_owners_alert_and_no_key_shows(titles: TaskTitles) -> None:
    key = "store_cascade_exhausted:order:6:line:1"
    alert = AlertTask(key, "store_cascade_exhausted", {"sku": "КР-7/2", "qty": 1, "external_id": "WB-6"})
    task = _task(TaskKind.ALERT, alert.to_payload(), Assignee.OWNER, f"alert:{key}")

    title = titles.title(task)

    assert title == "Сбой: Ни один магазин не подтвердил товар КР-7/2 × 1 для заказа WB-6"
    assert "alert:" not in title and "role:" not in titles.assignee(task.assignee)


def test_a_payload_it_cannot_read_still_gets_a_title_not_a_key(titles: TaskTitles) -> None:
    task = _task(TaskKind.FRAUD_CHECK, {"order_id": "not a number"}, subject="order:3")

    assert titles.title(task) == "Проверка заказа звонком"
