"""What a person's task asks, in one line, and who answers it, in words: the dashboard's tasks table shows these
instead of the task's kind, subject and assignee keys (``alert:…``, ``role:owner``). Worded from the task's kind and
payload in the service's language; a payload this module cannot read still gets a title (the kind's name), never a
key."""

from __future__ import annotations

from bot.telegram.alert_texts import alert_title
from bot.texts import Locale
from bot.wording import Names, money, percent
from workflows.office_model import Alert
from workflows.payloads import (
    AlertTask,
    CustomsChecklist,
    CustomsPayment,
    EarmarkShortfall,
    FraudCall,
    FxApproval,
    PayloadError,
    PaymentUnknown,
    PriceQuestion,
    PurchaseNotStarted,
    RefundShortfall,
    ReturnReceipt,
    StoreQuestion,
    UnfillableOrder,
)
from workflows.task_model import Task
from workflows.topology import Topology, WarehouseKind
from workflows.vocabulary import Assignee, TaskKind, assigned_store

_TEXTS: dict[Locale, dict[str, str]] = {
    "ru": {
        "store_confirmation": "{store}: есть ли {item}{size} для заказа {order}?",
        "size": " размер {size}",
        "fraud_check": "Звонок клиенту по заказу {order}",
        "fx_approval": "Курс {currency} сдвинулся на {deviation} по заказу {order}: решить",
        "unfillable_order": "Заказ {order} ({channel}) нечем собрать: отменить или ждать",
        "return_receipt": "Возврат по заказу {order}: что пришло ({sku} × {qty})",
        "price_approval": "Цены «{price_type}» упали на {drop}: решить",
        "price_approval.floor": "Цены «{price_type}» ниже минимальных: решить",
        "alert": "Сбой: {title}",
        "other": "Задача «{kind}»",
        "kind.store_confirmation": "Вопрос магазину о товаре",
        "kind.fraud_check": "Проверка заказа звонком",
        "kind.fx_approval": "Курс валюты по заказу: решить",
        "kind.alert": "Сбой: принять или заглушить",
        "kind.unfillable_order": "Заказ нечем собрать: решить",
        "kind.return_receipt": "Приём возврата",
        "kind.price_approval": "Снижение цен: решить",
        "payment_unknown": "Оплата заказа {order} не подтверждена шлюзом: проверить",
        "kind.payment_unknown": "Неподтверждённая оплата: проверить",
        "earmark_shortfall": "Не хватает резерва по заказу {order}: {amount}, решить",
        "kind.earmark_shortfall": "Нехватка резерва по заказу: решить",
        "customs_documents": "Документы для таможни по заказу {order}: отмечено {ticked} из {total}",
        "kind.customs_documents": "Документы для таможни по заказу: собрать",
        "customs_payment": "Оплатить таможню по заказу {order}: {amount}",
        "kind.customs_payment": "Оплата таможни по заказу",
        "purchase_not_started": "Деньги по заказу {order} пришли, закупки нет: {amount}, решить",
        "kind.purchase_not_started": "Оплата без закупки: решить",
        "refund_shortfall": "Возврат по заказу {order} не покрыт резервами: {amount}",
        "kind.refund_shortfall": "Возврат не покрыт резервами: проверить",
        "owner": "владелец",
        "managers": "менеджеры",
        "store": "магазин {title}",
        "warehouse": "склад {title}",
        "store.question": "Магазин {title}",
        "warehouse.question": "Склад {title}",
    },
    "en": {
        "store_confirmation": "{store}: is {item}{size} there for order {order}?",
        "size": " size {size}",
        "fraud_check": "Call the client about order {order}",
        "fx_approval": "{currency} moved {deviation} for order {order}: decide",
        "unfillable_order": "Order {order} ({channel}) cannot be filled: cancel or wait",
        "return_receipt": "Return for order {order}: what arrived ({sku} × {qty})",
        "price_approval": "“{price_type}” prices fell {drop}: decide",
        "price_approval.floor": "“{price_type}” prices below their floors: decide",
        "alert": "Failure: {title}",
        "other": "Task “{kind}”",
        "kind.store_confirmation": "Question to a store about an item",
        "kind.fraud_check": "Call check of an order",
        "kind.fx_approval": "Exchange rate for an order: decide",
        "kind.alert": "Failure: acknowledge or mute",
        "kind.unfillable_order": "Order nobody can fill: decide",
        "kind.return_receipt": "Return receipt",
        "kind.price_approval": "Price drops: decide",
        "payment_unknown": "Order {order}: payment not confirmed by the gateway, check it",
        "kind.payment_unknown": "An unconfirmed payment: check it",
        "earmark_shortfall": "A reserve is short for order {order}: {amount}, decide",
        "kind.earmark_shortfall": "A reserve is short for an order: decide",
        "customs_documents": "Customs documents for order {order}: {ticked} of {total} ticked",
        "kind.customs_documents": "Customs documents for an order: collect",
        "customs_payment": "Pay customs for order {order}: {amount}",
        "kind.customs_payment": "A customs payment for an order",
        "purchase_not_started": "Order {order}: the client's money is in, no purchase: {amount}, decide",
        "kind.purchase_not_started": "Money with no purchase: decide",
        "refund_shortfall": "Order {order}: a refund the reserves did not cover: {amount}",
        "kind.refund_shortfall": "A refund the reserves did not cover: check",
        "owner": "the owner",
        "managers": "the managers",
        "store": "store {title}",
        "warehouse": "warehouse {title}",
        "store.question": "Store {title}",
        "warehouse.question": "Warehouse {title}",
    },
}


class TaskTitles:
    """Words tasks for people, naming stores and warehouses by their titles in the topology."""

    def __init__(self, topology: Topology, locale: Locale, timezone: str) -> None:
        self._topology, self._locale, self._timezone = topology, locale, timezone
        self._names = Names.of(topology, locale)

    def title(self, task: Task) -> str:
        try:
            return self._title(task)
        except (PayloadError, KeyError, TypeError, ValueError, ArithmeticError):
            return self._kind(task.kind)

    def assignee(self, assignee: str) -> str:
        if assignee == Assignee.OWNER:
            return self._t("owner")
        if assignee == Assignee.MANAGERS:
            return self._t("managers")
        code = assigned_store(assignee)
        return self._place(code, "store", "warehouse") if code is not None else assignee

    def _title(self, task: Task) -> str:
        payload = task.payload
        match task.kind:
            case TaskKind.STORE_CONFIRMATION:
                q = StoreQuestion.from_payload(payload)
                size = self._t("size", size=q.size) if q.size else ""
                store = self._place(q.store, "store.question", "warehouse.question")
                return self._t(task.kind, store=store, item=q.name or q.sku, size=size, order=_order(q))
            case TaskKind.FRAUD_CHECK:
                return self._t(task.kind, order=_order(FraudCall.from_payload(payload)))
            case TaskKind.FX_APPROVAL:
                fx = FxApproval.from_payload(payload)
                return self._t(
                    task.kind,
                    currency=fx.currency,
                    deviation=percent(self._locale, fx.deviation * 100),
                    order=_order(fx),
                )
            case TaskKind.UNFILLABLE_ORDER:
                u = UnfillableOrder.from_payload(payload)
                return self._t(task.kind, order=_order(u), channel=self._names.channel(u.channel))
            case TaskKind.RETURN_RECEIPT:
                r = ReturnReceipt.from_payload(payload)
                return self._t(task.kind, order=_order(r), sku=r.sku, qty=r.qty)
            case TaskKind.PRICE_APPROVAL:
                return self._price(PriceQuestion.from_payload(payload))
            case TaskKind.PAYMENT_UNKNOWN:
                return self._t(task.kind, order=_order(PaymentUnknown.from_payload(payload)))
            case TaskKind.EARMARK_SHORTFALL:
                short = EarmarkShortfall.from_payload(payload)
                return self._t(task.kind, order=_order(short), amount=money(self._locale, str(short.shortfall_rub)))
            case TaskKind.CUSTOMS_DOCUMENTS:
                docs = CustomsChecklist.from_payload(payload)
                ticked = sum(1 for item in docs.items if item.ticked_at is not None)
                return self._t(task.kind, order=_order(docs), ticked=ticked, total=len(docs.items))
            case TaskKind.CUSTOMS_PAYMENT:
                fts = CustomsPayment.from_payload(payload)
                return self._t(task.kind, order=_order(fts), amount=money(self._locale, str(fts.amount_rub)))
            case TaskKind.PURCHASE_NOT_STARTED:
                bought = PurchaseNotStarted.from_payload(payload)
                return self._t(task.kind, order=_order(bought), amount=money(self._locale, str(bought.credited_rub)))
            case TaskKind.REFUND_SHORTFALL:
                back = RefundShortfall.from_payload(payload)
                return self._t(task.kind, order=_order(back), amount=money(self._locale, str(back.shortfall_rub)))
            case TaskKind.ALERT:
                return self._t(task.kind, title=self._alert(AlertTask.from_payload(payload), task))
        return self._kind(task.kind)

    def _kind(self, kind: str) -> str:
        key = f"kind.{kind}"
        return self._t(key) if key in _TEXTS[self._locale] else self._t("other", kind=kind)

    def _alert(self, alert: AlertTask, task: Task) -> str:
        """Worded as the owner's alert message words it; the task's own copy of the alert is enough for that."""
        episode = Alert(id=None, key=alert.key, kind=alert.kind, detail=dict(alert.detail), state="open", count=1,
                        shown_count=1, first_at=task.created_at, last_at=task.created_at)  # fmt: skip
        return alert_title(episode, self._locale, self._timezone, self._names)

    def _price(self, question: PriceQuestion) -> str:
        drops = [(x.shown - x.new) / x.shown for x in question.samples if x.shown]
        if not drops or max(drops) <= 0:
            return self._t("price_approval.floor", price_type=question.price_type)
        return self._t(
            "price_approval", price_type=question.price_type, drop=percent(self._locale, round(100 * max(drops)))
        )

    def _place(self, code: str, store_key: str, warehouse_key: str) -> str:
        warehouse = self._topology.warehouse(code)
        if warehouse is None:
            return self._t(store_key, title=code)
        key = warehouse_key if warehouse.kind == WarehouseKind.ONLINE else store_key
        return self._t(key, title=warehouse.display_name)

    def _t(self, key: str, /, **values: object) -> str:
        return _TEXTS[self._locale][key].format(**values)


def _order(
    payload: StoreQuestion
    | FraudCall
    | FxApproval
    | UnfillableOrder
    | ReturnReceipt
    | PaymentUnknown
    | EarmarkShortfall
    | CustomsChecklist
    | CustomsPayment
    | PurchaseNotStarted
    | RefundShortfall,
) -> str:
    return payload.external_id or str(payload.order_id)
