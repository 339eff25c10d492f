"""Why an order waits: the first reason that holds, in the order an order moves, and its sentence in both
languages, times in the shop's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.order_waiting import waiting_line
from bot.texts import Locale
from workflows.model import (
    Customer,
    Delivery,
    LineStatus,
    Order,
    OrderEvent,
    OrderLine,
    Shipment,
    ShipmentState,
)
from workflows.office_model import Phase
from workflows.order_waiting import Waiting, WaitingReason, order_task_id, waiting_for
from workflows.payments import MoneyState
from workflows.task_model import Task
from workflows.vocabulary import Assignee, TaskKind, store_assignee

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
PAID = MoneyState(Phase.AUTHORIZED, Phase.AUTHORIZED, may_spend=True, shipping_hold=None)
UNPAID = MoneyState(Phase.CLEARED, Phase.AUTHORIZED, may_spend=False, shipping_hold=None)
TZ = "Europe/Moscow"


def _order(*statuses: LineStatus, history: tuple[OrderEvent, ...] = (), **fields: object) -> Order:
    lines = [OrderLine(n, f"SKU-{n}", 1, status) for n, status in enumerate(statuses or (LineStatus.RESERVED,), 1)]
    order = Order(7, "ozon", "0123-1", Customer(), Decimal("990"), "RUB", AT, lines, history=list(history))
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def _task(kind: TaskKind, assignee: str, minutes: int) -> Task:
    return Task(1, kind, f"order:7:{kind}", assignee, ("a",), AT + timedelta(minutes=minutes), AT)


def test_a_call_check_outranks_everything_but_a_cancellation() -> None:
    check = _task(TaskKind.FRAUD_CHECK, Assignee.MANAGERS, 30)
    store = _task(TaskKind.STORE_CONFIRMATION, store_assignee("tverskaya"), 20)
    held = _order(LineStatus.AWAITING_STORE_CONFIRMATION, shipping_hold="fraud_check")
    assert waiting_for(held, [store, check], UNPAID, None) == Waiting(WaitingReason.FRAUD_CHECK, check.deadline)
    assert waiting_for(held, [], UNPAID, None).reason == WaitingReason.FRAUD_CHECK  # the hold alone says it
    assert waiting_for(_order(cancelled_at=AT), [check], UNPAID, None) == Waiting(WaitingReason.CANCELLED)


def test_the_store_asked_first_is_named_with_its_deadline() -> None:
    later = _task(TaskKind.STORE_CONFIRMATION, store_assignee("arbat"), 40)
    sooner = _task(TaskKind.STORE_CONFIRMATION, store_assignee("tverskaya"), 20)
    found = waiting_for(_order(LineStatus.AWAITING_STORE_CONFIRMATION), [later, sooner], PAID, None)
    assert found == Waiting(WaitingReason.STORE_ANSWER, sooner.deadline, "tverskaya")


def test_missing_goods_the_managers_question_then_the_wait_they_chose() -> None:
    missing = _order(LineStatus.RESERVED, LineStatus.OUT_OF_STOCK)
    question = _task(TaskKind.UNFILLABLE_ORDER, Assignee.MANAGERS, 240)
    assert waiting_for(missing, [question], PAID, None) == Waiting(WaitingReason.MISSING_GOODS, question.deadline)
    assert waiting_for(missing, [], PAID, None) == Waiting(WaitingReason.OUT_OF_STOCK)
    again = AT + timedelta(days=2)
    decided = OrderEvent(AT, "unfillable_decided", {"decision": "wait", "ask_again_at": again.isoformat()})
    waited = _order(LineStatus.OUT_OF_STOCK, history=(decided,))
    assert waiting_for(waited, [], PAID, None) == Waiting(WaitingReason.DELIVERY_AWAITED, again)


def test_money_then_the_shipping_side() -> None:
    assert waiting_for(_order(), [], UNPAID, None) == Waiting(WaitingReason.PAYMENT, note="cleared")
    ship_by = AT + timedelta(hours=5)
    assert waiting_for(_order(ship_by=ship_by), [], PAID, None) == Waiting(WaitingReason.READY_TO_SHIP, ship_by)
    told = OrderEvent(AT, "marketplace_ready_to_ship", {"channel": "ozon"})
    assert waiting_for(_order(history=(told,)), [], PAID, None).reason == WaitingReason.MARKETPLACE_TOLD
    delivery = Delivery(136, "RU", "Москва", "ул. Тверская, 1")
    shipment = Shipment(7, delivery, ShipmentState.WAITING, AT, AT)
    assert waiting_for(_order(), [], PAID, shipment) == Waiting(WaitingReason.CARRIER)
    shipment.state, shipment.tracking_number = ShipmentState.REGISTERED, "1234567890"
    assert waiting_for(_order(), [], PAID, shipment) == Waiting(WaitingReason.SHIPPED, note="1234567890")
    delivered = OrderEvent(AT, "delivered_to_buyer", {"channel": "ozon"})
    assert waiting_for(_order(history=(told, delivered)), [], PAID, shipment) == Waiting(WaitingReason.DELIVERED)


def test_a_tasks_order_is_read_from_its_subject() -> None:
    assert order_task_id("order:12:line:1") == 12
    assert order_task_id("order:12:fraud_check:2") == 12
    assert order_task_id("price_batch:3") is None
    assert order_task_id("order:x:line:1") is None


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_reason_has_a_sentence(locale: Locale) -> None:
    for reason in WaitingReason:
        said = waiting_line(locale, Waiting(reason, AT, "tverskaya", "cleared"), TZ, {"tverskaya": "Тверская"})
        assert said and said != reason.value and "{" not in said, (reason, said)


def test_the_sentences_in_russian_say_the_shops_time_and_the_stores_title() -> None:
    store = Waiting(WaitingReason.STORE_ANSWER, AT + timedelta(minutes=20), "tverskaya")
    assert waiting_line("ru", store, TZ, {"tverskaya": "Тверская"}).startswith("Спросили магазин Тверская до 15:20")
    check = waiting_line("ru", Waiting(WaitingReason.FRAUD_CHECK, AT), TZ)
    assert check == ("Задержан до проверки звонком: менеджеры звонят клиенту (ответ до 15:00); до подтверждения "
                     "не отгружаем, деньги тратить нельзя")  # fmt: skip
    assert waiting_line("ru", Waiting(WaitingReason.PAYMENT, note="cleared"), TZ).startswith(
        "Ждём, пока оплата будет списана"
    )
    ready = waiting_line("ru", Waiting(WaitingReason.READY_TO_SHIP, AT), TZ)
    assert ready == "Готов к отгрузке; отгрузить до 21.11 15:00 (срок площадки)"
    assert waiting_line("ru", Waiting(WaitingReason.READY_TO_SHIP), TZ) == "Готов к отгрузке"
