"""Every text people read, rendered in both languages: every office task kind in each of its states, every store
question, every alert kind the workflows raise and every order-history event kind. None may lack a text in either
language or show the program's own codes (tests/people_words.py) where a person expects words."""

from __future__ import annotations

import ast
import importlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from app.http.dashboard import snapshot_view
from app.http.report_page import report_page_view
from app.http.task_titles import TaskTitles
from bot.order_history import history_line, kinds
from bot.report_chart import caption, chart
from bot.slack import blocks
from bot.telegram import render
from bot.telegram.texts import keys
from bot.texts import _TEXTS as SLACK_TEXTS
from bot.texts import Locale
from bot.wording import Names
from tests.people_words import raw_codes, topology_codes
from workflows.daily_report import ChannelUptime, DailyReport, StoreFigures
from workflows.dashboard import ChannelHealth, Snapshot
from workflows.model import OrderEvent
from workflows.office_model import Alert
from workflows.order_lifecycle import OrderCounters
from workflows.payloads import (
    ChecklistItem,
    CustomsChecklist,
    CustomsPayment,
    EarmarkShortfall,
    FraudCall,
    FxApproval,
    PaymentUnknown,
    PriceQuestion,
    PriceSample,
    PurchaseNotStarted,
    RefundShortfall,
    ReturnReceipt,
    StoreQuestion,
    UnfillableLine,
    UnfillableOrder,
)
from workflows.ports import SeenOrderEvent
from workflows.task_model import Task, TaskState
from workflows.topology import Topology
from workflows.vocabulary import TaskKind

TZ = "Europe/Moscow"
NOW = datetime(2026, 12, 3, 11, 21, 52, 284396, tzinfo=UTC)
LOCALES: tuple[Locale, ...] = ("ru", "en")
# codes are not titles here, and channels are keyed apart from their kinds, so a code shown instead of a title shows
SHOP = Topology.model_validate({
    "warehouses": [
        {"code": "online", "kind": "online", "title": "Интернет-склад"},
        {"code": "arbat", "kind": "store", "title": "Арбат", "slack_channel": "C1", "staff": ["U1"]},
        {"code": "tverskaya", "kind": "store", "title": "Тверская", "slack_channel": "C2", "staff": ["U2"]},
    ],
    "channels": {
        "site": {"kind": "site", "serves": ["online", "arbat", "tverskaya"]},
        "wb": {"kind": "wildberries", "serves": ["online"]},
        "oz": {"kind": "ozon", "serves": ["online"]},
        "ym": {"kind": "yandex_market", "serves": ["online"]},
        "crm": {"kind": "retailcrm", "serves": ["online"]},
    },
})  # fmt: skip
CODES = topology_codes(SHOP)
NAMES = {locale: Names.of(SHOP, locale) for locale in LOCALES}
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"

ESCALATIONS: list[dict[str, object]] = [
    {"task_kind": kind.value, "order_id": 8, "why": why} for kind in TaskKind for why in ("timeout", "no_answer")
]
ESCALATIONS += [
    {"task_kind": "unfillable_order", "order_id": 8, "why": "ship_by"},
    {"task_kind": "price_approval", "batch_id": 3, "why": "timeout"},
    {"task_kind": "fx_approval", "order_id": 8},
]
# one alert of each kind, with the details its workflow writes
ALERTS: dict[str, list[dict[str, object]]] = {
    "store_cascade_exhausted": [{"order_id": 8, "external_id": "S-8", "line": 1, "sku": "LAMP", "qty": 2,
                                 "asked": ["arbat", "tverskaya"]}],
    "onec_silent": [{"last_update": NOW.isoformat(), "minutes": 43},
                    {"last_update": NOW.isoformat(), "minutes": 65, "working_hours": "08:00-22:00"}],
    "fx_feed_down": [{"reason": "HTTP 503"}],
    "task_escalated": ESCALATIONS,
    "sync_failing": [{"channel": "ym", "reason": "HTTP 503", "failures": 2}],
    "sku_rejected": [{"channel": "oz", "sku": "LAMP", "reason": "Товар не найден"}],
    "price_sync_failing": [{"channel": "wb", "reason": "HTTP 429", "failures": 22}],
    "price_rejected": [{"channel": "site", "sku": "LAMP", "reason": "Цена ниже минимальной"}],
    "onec_pull_failing": [{"reason": "HTTP 500"}],
    "price_drift": [{"channel": "oz", "count": 22, "sku": "KETTLE", "shown": "12.0000", "ours": "2500.40"}],
    "shipment_refused": [{"carrier": "cdek", "order_id": 8, "order": "S-8", "reason": "Адрес не найден"}],
    "carrier_failing": [{"carrier": "cdek", "reason": "HTTP 502", "failures": 1}],
    "stock_negative": [{"sku": "LAMP", "warehouse": "tverskaya", "on_hand": 1, "reserved": 2}],
    "onec_totals_unplaced": [{"offers": 22, "example": "LAMP", "source": "CommerceML"}],
    "unfillable_ship_by_near": [{"order_id": 8, "order": "OZ-8", "channel": "oz", "ship_by": NOW.isoformat(),
                                 "task_id": 4}],
    "order_action_refused": [{"channel": "ym", "action": action, "order_id": 8, "order": "YM-8",
                              "reason": "Заказ уже отменён"}
                             for action in ("ready_to_ship", "cancel_unfillable", "ask_unfillable")],
    "return_defective": [{"order": "S-8", "order_id": 8, "sku": "LAMP", "qty": 1, "warehouse": "arbat",
                          "outcome": "defective", "task_id": 5, "by": "Анна"}],
    "return_not_received": [{"order": "S-8", "order_id": 8, "sku": "LAMP", "qty": 1, "warehouse": "online",
                             "outcome": "not_received", "task_id": 5, "by": "Анна"}],
}  # fmt: skip


def _raised_kinds() -> set[str]:
    """The alert kinds ``workflows/`` raises: the third argument of every ``raise_alert`` call, resolved to its
    module's constant; one held in a variable must be one of the kinds listed for that module."""
    by_variable = {
        "sync.py": {"sku_rejected", "sync_failing", "price_rejected", "price_sync_failing"},
        "returns.py": {"return_defective", "return_not_received"},
    }
    found: set[str] = set()
    for path in sorted(WORKFLOWS.glob("*.py")):
        module = importlib.import_module(f"workflows.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "raise_alert" and len(node.args) >= 3:
                kind = node.args[2]
                value = getattr(module, kind.id, None) if isinstance(kind, ast.Name) else None
                if isinstance(value, str):
                    found.add(value)
                else:
                    assert path.name in by_variable, f"{path.name}: an alert kind held in a variable; list it here"
                    found |= by_variable[path.name]
    return found


def test_every_alert_kind_raised_has_a_sample_here() -> None:
    raised = _raised_kinds()
    assert {"onec_pull_failing", "task_escalated", "price_drift"} <= raised  # the scan works
    assert raised - set(ALERTS) == set()


def _check(text: str) -> None:
    assert text.strip()
    assert raw_codes(text, CODES) == [], text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("kind", "detail"), [(k, d) for k, ds in ALERTS.items() for d in ds])
def test_every_alert_reads_as_words(locale: Locale, kind: str, detail: dict[str, object]) -> None:
    alert = Alert(7, f"{kind}:x", kind, detail, "open", 2, 1, NOW, NOW + timedelta(minutes=5))
    ack = Task(9, TaskKind.ALERT, "alert:7", "role:owner", ("ack", "mute"), NOW, NOW, TaskState.ANSWERED,
               answer="ack", answered_by="Олег", closed_at=NOW)  # fmt: skip
    names = NAMES[locale]
    title = render.alert_title(alert, locale, TZ, names)
    assert title != render.alert_title(Alert(7, "x", "brand_new", {}, "open", 1, 0, NOW, NOW), locale, TZ)
    _check(render.alert_text(alert, ack, locale, TZ, names))
    resolved = Alert(7, f"{kind}:x", kind, detail, "resolved", 2, 1, NOW, NOW, resolved_at=NOW + timedelta(hours=1))
    _check(render.resolved_text(resolved, locale, TZ, names))


def _office_tasks() -> list[Task]:
    payloads: dict[TaskKind, tuple[tuple[str, ...], list[dict[str, object]]]] = {
        TaskKind.FRAUD_CHECK: (("verified", "no_answer", "fraud"), [
            FraudCall(8, "S-8", "+79161234567", "Иван", "i@example.com", "Пётр", Decimal("150000"), "RUB",
                      ("new_client_large_order", "payer_is_not_recipient", "ip_country_differs_from_card",
                       "repeated_failed_attempts"), 2, attempt=2, call_after=NOW, escalated=why).to_payload()
            for why in (None, "no_answer", "timeout")]),
        TaskKind.FX_APPROVAL: (("absorb", "topup", "postpone"), [
            FxApproval(8, "S-8", 1, "Поставщик", "CNY", Decimal("1200.5"), Decimal("12.3456"), Decimal("12.9"),
                       Decimal("0.04"), Decimal("12.0000"), escalated=escalated).to_payload()
            for escalated in (False, True)]),
        TaskKind.UNFILLABLE_ORDER: (("cancel", "wait"), [
            UnfillableOrder(8, "YM-8", "ym", (UnfillableLine(1, "LAMP", 2),), attempt, why,
                            NOW + timedelta(hours=2)).to_payload()
            for attempt, why in ((1, None), (2, "timeout"), (3, "ship_by"))]),
        TaskKind.PRICE_APPROVAL: (("approve", "reject"), [
            PriceQuestion(3, "Розничная", lines, skus, (PriceSample("oz", "LAMP", 150000, 120000, 125000),
                          PriceSample("ym", "KETTLE", None, 9900)), why).to_payload()
            for lines, skus, why in ((1, 1, None), (4, 3, "timeout"), (15, 22, None))]),
        TaskKind.EARMARK_SHORTFALL: (("request_topup", "absorb", "postpone"), [
            EarmarkShortfall(8, "S-8", 3, purpose, "TIR carrier", "EUR", Decimal("12000"), Decimal("1200000"),
                             Decimal("400000"), Decimal("800000"), NOW + timedelta(days=3), escalated).to_payload()
            for purpose, escalated in (("logistics", False), ("customs", True), ("goods", False))]),
        TaskKind.CUSTOMS_DOCUMENTS: (("doc1", "doc2", "doc3"), [
            CustomsChecklist(8, "S-8", (ChecklistItem("doc1", "invoice", "Анна", NOW),
                                        ChecklistItem("doc2", "Сертификат происхождения"),
                                        ChecklistItem("doc3", "conformity")), escalated, reminded).to_payload()
            for escalated, reminded in ((False, False), (False, True), (True, False))]),
        TaskKind.CUSTOMS_PAYMENT: ((), [
            CustomsPayment(8, "S-8", "ФТС России", Decimal("222000"), NOW + timedelta(days=10), escalated,
                           reminded).to_payload()
            for escalated, reminded in ((False, False), (False, True), (True, False))]),
        TaskKind.RETURN_RECEIPT: (("sellable", "defective", "not_received"), [
            ReturnReceipt(8, "S-8", "site", "LAMP", 1, "online", "manager:42").to_payload()]),
        TaskKind.PAYMENT_UNKNOWN: (("checked",), [
            PaymentUnknown(8, "S-8", "2f1c-0001", phase, NOW, Decimal("4990"), "RUB", said, error).to_payload()
            for phase, said, error in (("initiated", "pending", ""), ("authorized", "", "YooKassa did not answer"),
                                       ("3ds", "waiting_for_capture", ""), ("initiated", "", ""))]),
        TaskKind.PURCHASE_NOT_STARTED: (("started", "postpone", "refund"), [
            PurchaseNotStarted(8, "S-8", Decimal("600000"), NOW - timedelta(days=1), escalated).to_payload()
            for escalated in (False, True)]),
        TaskKind.REFUND_SHORTFALL: (("checked",), [
            RefundShortfall(8, "S-8", "pay-8", Decimal("700000"), Decimal("100000"), Decimal("600000")).to_payload()]),
    }  # fmt: skip
    tasks = []
    for kind, (options, variants) in payloads.items():
        for payload in variants:
            base = Task(4, kind, "order:8", "role:managers", options, NOW + timedelta(minutes=20), NOW,
                        payload=payload)  # fmt: skip
            tasks.append(base)
            tasks += [Task(4, kind, "order:8", "role:managers", options, base.deadline, NOW, TaskState.ANSWERED,
                           payload, option, "Анна", NOW) for option in options]  # fmt: skip
            tasks.append(Task(4, kind, "order:8", "role:managers", options, base.deadline, NOW, TaskState.EXPIRED,
                              payload, closed_at=NOW))  # fmt: skip
            tasks += [Task(4, kind, "order:8", "role:managers", options, base.deadline, NOW, TaskState.CANCELLED,
                           payload, closed_at=NOW, end_reason=why)
                      for why in ("resolved", "order_cancelled", "covered", "customs_paid", "purchase_started")]  # fmt: skip
    return tasks


def test_every_office_task_kind_is_rendered_here() -> None:
    rendered = {task.kind for task in _office_tasks()} | {TaskKind.ALERT, TaskKind.STORE_CONFIRMATION}
    assert rendered == set(TaskKind)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_office_task_reads_as_words(locale: Locale) -> None:
    for task in _office_tasks():
        _check(render.task_text(task, locale, TZ, NAMES[locale]))
        markup = render.keyboard(task, locale)
        for row in markup.inline_keyboard if markup else []:
            for button in row:
                _check(button.text)


def _store_tasks() -> list[Task]:
    question = StoreQuestion(8, "S-8", "site", 1, "LAMP", 2, "arbat", name="Лампа", size="M").to_payload()
    receipt = ReturnReceipt(8, "S-8", "site", "LAMP", 1, "arbat", "site").to_payload()
    tasks = []
    for kind, options, payload in (
        (TaskKind.STORE_CONFIRMATION, ("available", "missing", "defective"), question),
        (TaskKind.RETURN_RECEIPT, ("sellable", "defective", "not_received"), receipt),
    ):
        deadline = NOW + timedelta(minutes=20)
        tasks.append(Task(4, kind, "order:8", "store:arbat", options, deadline, NOW, payload=payload))
        tasks += [Task(4, kind, "order:8", "store:arbat", options, deadline, NOW, TaskState.ANSWERED, payload,
                       option, "U1", NOW) for option in options]  # fmt: skip
        tasks.append(Task(4, kind, "order:8", "store:arbat", options, deadline, NOW, TaskState.EXPIRED, payload,
                          closed_at=NOW))  # fmt: skip
        tasks.append(Task(4, kind, "order:8", "store:arbat", options, deadline, NOW, TaskState.CANCELLED, payload,
                          closed_at=NOW, end_reason="order_cancelled"))  # fmt: skip
    return tasks


def _block_texts(value: object) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in ([v] if k == "text" and isinstance(v, str) else _block_texts(v))]
    if isinstance(value, list):
        return [t for item in value for t in _block_texts(item)]
    return []


@pytest.mark.parametrize("locale", LOCALES)
def test_every_store_question_reads_as_words(locale: Locale) -> None:
    for task in _store_tasks():
        fallback, shown = (
            blocks.closed(task, locale, TZ) if task.state != TaskState.OPEN else blocks.question(task, locale, TZ)
        )
        for text in [fallback, *_block_texts(shown)]:
            _check(text.replace("<@U1>", "Анна"))
    _check(blocks.reminder(_store_tasks()[0], locale, TZ))


# every field an order event's detail may hold, as the workflows write them
EVENT_DETAIL: dict[str, object] = {
    "channel": "ym", "lines": 22, "line": 1, "sku": "LAMP", "qty": 2, "warehouse": "tverskaya",
    "store": "arbat", "outcome": "available", "by": "Анна", "answer_by": NOW.isoformat(), "task_id": 4,
    "asked": ["arbat", "tverskaya"], "number": "0001", "at": NOW.isoformat(), "decision": "verified",
    "amount": "1200.5", "currency": "CNY", "payee": "Поставщик", "rate": "12.3456", "rate_now": "12.9",
    "rate_at_payment": "12.3456", "deviation": "0.04", "tracking_number": "1001", "released": 2,
    "note": "Менеджер поставил в CRM статус «Собран»", "note_en": "The manager set the CRM status “Packed”",
    "source": "oz", "ask_again_at": NOW.isoformat(), "components": {"LAMP": 1}, "obligation_id": 1,
    "payment_id": "p-1", "reason": "Покупатель передумал", "since": NOW.isoformat(),
    "documents": 5, "document": "packing_list", "due_at": NOW.isoformat(), "task_kind": "customs_payment",
    "amount_rub": "222000.00", "payout": "fts-1",
}  # fmt: skip


@pytest.mark.parametrize("locale", LOCALES)
def test_every_order_event_reads_as_words(locale: Locale) -> None:
    assert kinds("ru") == kinds("en")
    for kind in sorted(kinds(locale)):
        for detail in (EVENT_DETAIL, {}, {**EVENT_DETAIL, "reason": "unfillable: Анна", "decision": "wait"}):
            _check(history_line(locale, kind, detail, NAMES[locale], TZ))


def _dashboard() -> Snapshot:
    """What the dashboard reads: every channel, every task, an alert of each kind and every history event kind."""
    channels = [ChannelHealth(name, False, False, 0, 0, None, "checked=3 corrected=1", NOW) for name in SHOP.channels]
    alerts = [Alert(n, f"{kind}:{n}", kind, detail, "open", 2, 1, NOW, NOW)
              for n, (kind, detail) in enumerate((k, d) for k, ds in ALERTS.items() for d in ds)]  # fmt: skip
    events = [SeenOrderEvent(8, channel, "YM-8", OrderEvent(NOW, kind, detail))
              for channel in SHOP.channels for kind in sorted(kinds("ru")) for detail in (EVENT_DETAIL, {})]  # fmt: skip
    tasks = _office_tasks() + _store_tasks()
    return Snapshot(NOW, channels, tasks, alerts, NOW, events, OrderCounters(1, 1, 1, 1, 1))


@pytest.mark.parametrize("locale", LOCALES)
def test_the_dashboard_reads_as_words(locale: Locale) -> None:
    view = snapshot_view(_dashboard(), NAMES[locale], TZ, TaskTitles(SHOP, locale, TZ))
    shown = [card["title"] for card in view["channels"]] + [row["title"] for row in view["drift"]]
    shown += [text for task in view["tasks"] for text in (task["title"], task["who"])]
    shown += [alert["text"] for alert in view["alerts"]]
    shown += [text for step in view["order_events"] for text in (step["text"], step["channel_title"])]
    assert len(shown) > 2 * len(kinds(locale)) * len(SHOP.channels)
    for text in shown:
        _check(text)


def _report() -> DailyReport:
    start = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)
    hours: dict[str, tuple[int, ...]] = {"site": (0,) * 10 + (2,) + (0,) * 13, "wb": (1,) + (0,) * 23,
                                         "oz": (0,) * 24, "ym": (0,) * 23 + (3,), "crm": (1,) * 24}  # fmt: skip
    stores = (StoreFigures("arbat", "Арбат", 3, 2, 1, 1, 0, 75.0), StoreFigures("tverskaya", "Тверская", 0, 0, 0, 0, 0,
              None))  # fmt: skip
    uptime = tuple(ChannelUptime(name, 600.0 if name == "ym" else 0.0, 0.99 if name == "ym" else 1.0)
                   for name in SHOP.channels)  # fmt: skip
    return DailyReport(date(2026, 12, 3), TZ, start, start + timedelta(days=1), start + timedelta(days=1), hours, 4,
                       95.0, 1, 1, 1, stores, uptime)  # fmt: skip


def _drawn_texts(figure: Figure) -> list[Text]:
    """Every text the chart shows: titles, labels, legends, notes, and the ticks of the axes that are drawn."""
    texts = [t for t in figure.texts if t.get_visible()]
    for ax in figure.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        legend = ax.get_legend()
        texts += legend.get_texts() if legend is not None else []
        texts += [*ax.get_xticklabels(), *ax.get_yticklabels()] if ax.axison else []
    return texts


@pytest.mark.parametrize("locale", LOCALES)
def test_the_daily_report_reads_as_words_in_telegram_on_its_page_and_in_its_chart(locale: Locale) -> None:
    report, names = _report(), NAMES[locale]
    page = report_page_view(report, report.day, names)
    shown = [page["title"], *page["lines"], *page["words"].values(), caption(report, names)]
    shown += [cell for table in (page["orders"], page["stores"], page["channels"]) for row in table for cell in row]
    figure = chart(report, names)
    figure.canvas.draw()  # ticks and legends get their texts when drawn
    drawn = [text.get_text() for text in _drawn_texts(figure) if text.get_text().strip()]
    assert {"Арбат", "Яндекс Маркет" if locale == "ru" else "Yandex Market"} <= set(drawn)  # the bars' labels
    assert any(text.startswith("Wildberries (") for text in drawn)  # the legend
    for text in shown + drawn:
        _check(text)


@pytest.mark.parametrize(
    "text",
    ["Строка 1: магазин arbat ответил", "Выгрузка в канал «wb» не проходит", "Меньше всех доступен: crm — 97\xa0%"],
)
def test_the_check_catches_a_store_code_or_channel_key_shown_for_its_title(text: str) -> None:
    assert raw_codes(text, CODES) != []
    titled = text.replace("arbat", "Арбат").replace("wb", "Wildberries").replace("crm", "RetailCRM")
    assert raw_codes(titled, CODES) == []


def test_both_languages_have_every_text() -> None:
    assert keys("ru") == keys("en")
    assert set(SLACK_TEXTS["ru"]) == set(SLACK_TEXTS["en"])


@pytest.mark.parametrize(
    ("text", "raw"),
    [("Заказ получен из site, строк: 2", "site"), ("answer_by: 2026-12-03T11:21:52", "answer_by"),
     ("спросили: ['arbat']", "['"), ("было 4.0 %", "4.0"), ("12.0000 ₽", "0000 ₽"),
     ("Задача передана владельцу: fx_approval", "fx_approval")],
)  # fmt: skip
def test_the_check_catches_the_codes_people_saw(text: str, raw: str) -> None:
    assert any(raw in found for found in raw_codes(text))
