"""An order's history as a manager reads it: one short line per event, in Russian (default) and English.

This is the one table of wordings for every kind of history event the workflows write (``OrderEvent(…, kind,
detail)``). The Telegram ``/order`` command, the sandbox console and the operator's dashboard read it. A kind
missing here is still shown, as its raw name with its details, so a new event is never hidden — but give it a
wording here (a test checks that every kind written by ``workflows/`` has one in both languages)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from bot.customs_words import document_title
from bot.texts import Locale
from bot.wording import Names, clock_time, count, money, percent, rate

_HISTORY: dict[str, dict[str, str]] = {
    "ru": {
        "received": "Заказ получен: {channel}, {lines_words}",
        "reserved": "Строка {line}: {sku} × {qty} зарезервирован на складе {warehouse}",
        "held_for_store_confirmation": "Строка {line}: {sku} × {qty} придержан в магазине {warehouse}, ждём ответа",
        "out_of_stock": "Строка {line}: {sku} × {qty} — нет в наличии",
        "store_skipped": "Строка {line}: магазин {store} пропущен ({reason})",
        "store_asked": "Строка {line}: спросили магазин {store}, ответ до {answer_by}",
        "store_confirmed": "Строка {line}: магазин {store} ответил — {outcome}{by_who}",
        "store_declined": "Строка {line}: магазин {store} не подтвердил — {outcome}{by_who}",
        "unfulfillable": "Строка {line}: {sku} × {qty} — ни один магазин не подтвердил (спросили: {asked})",
        "exported_to_1c": "Передан в 1С",
        "paid_in_1c": "1С: оплачен, документ оплаты {number} от {at}",
        "shipped_in_1c": "1С: отгружен, документ отгрузки {number} от {at}",
        "fraud_check_opened": "Открыта проверка звонком",
        "fraud_check_answered": "Проверка звонком: {decision}{by_who}",
        "client_blocked": "Клиент заблокирован после проверки",
        "payment_initiated": "Оплата начата: {money}",
        "payment_3ds": "Оплата: проверка 3-D Secure, {money}",
        "payment_authorized": "Оплата авторизована: {money}",
        "payment_cleared": "Оплата списана: {money}",
        "payment_failed": "Оплата не прошла: {money}",
        "payment_refunded": "Деньги возвращены: {money}",
        "payment_unknown_asked": "Оплата не подтверждена шлюзом с {since}: менеджеров попросили проверить",
        "payment_unknown_checked": "Неподтверждённую оплату проверили{by_who}",
        "fx_rate_awaited": "Платёж {payee} в {currency}: ждём курс ЦБ",
        "fx_rate_recorded": "Платёж {payee} в {currency}: курс при оплате {rate} ₽",
        "obligation_released": "Платёж {payee}: {money} отпущен (курс {rate_now} ₽)",
        "obligation_held": "Платёж {payee}: {money} задержан — курс сдвинулся на {deviation}",
        "fx_decision": "Решение по курсу: {decision}{by_who}",
        "money_planned": "Резервы по смете: товар {goods_rub}, логистика {logistics_rub}, таможня {customs_rub}, "
        "склад {warehouse_rub}, маркетплейс {marketplace_rub}",
        "money_credited": "Зачислено на счёт заказа: {rub}",
        "money_credit_without_rate": "Оплата в {currency} не зачислена: нет курса ЦБ",
        "payout_drawn": "Платёж {payee}: {paid_words} взят из резерва «{purpose_words}»",
        "earmark_short": "Платёж {payee}: {money} — в резерве «{purpose_words}» не хватает {shortfall}",
        "earmark_decision": "Решение по нехватке резерва: {decision}{by_who}",
        "topup_requested": "Клиенту выставлена доплата {rub} на «{purpose_words}»",
        "topup_link_sent": "Клиенту отправлена ссылка на оплату доплаты {rub} (ЮKassa): она на странице заказа",
        "customs_planned": "Полное оформление: менеджерам собрать документы ({documents}) до {answer_by}; "
        "оплата таможни {payee} {rub} до {due_at}",
        "customs_document_ticked": "Документ для таможни собран: {document_words} ({by})",
        "customs_documents_done": "Все документы для таможни собраны",
        "customs_payment_made": "Оплата таможни проведена: {payee}, {rub}",
        "customs_escalated": "{customs_task_words}: срок пропущен, решает владелец",
        "boxes_registered": "Закупка у {payee}: {boxes_words}, {units_words}; из резерва «{purpose_words}» "
        "израсходовано {rub}",
        "box_scanned": "Коробка {box} из {boxes} ({contents}): {status_words}{skipped_words}{stock_words}"
        "{released_words}",
        "box_scan_undone": "Коробка {box} из {boxes} ({contents}): скан отменён, снова {status_words} (отменено: "
        "{undone_words}){stock_words}{released_words}; {by}: {reason}",
        "boxes_released_late": "Счёт {payee} оплачен после того, как коробки прошли этап «{status_words}»: "
        "из резерва «{purpose_words}» израсходовано {rub} за {boxes_words}",
        "topup_failed": "Доплата {rub} на «{purpose_words}» не прошла",
        "money_refunded": "Возврат клиенту {refunded}: со счёта заказа снято {rub}",
        "refund_short": "Возврат не покрыт резервами на {shortfall}: деньги уже выплачены, менеджеров известили",
        "refund_short_checked": "Непокрытый возврат проверен{by_who}",
        "purchase_watch_asked": "Деньги клиента ({rub}) пришли {since}, закупки нет: менеджеров спросили",
        "purchase_watch_decision": "Оплата без закупки — решение: {decision}{by_who}",
        "money_route_changed": "Маршрут изменён, смета: {changes}",
        "money_given_back": "Из резерва «{purpose_words}» в свободные деньги заказа: {rub}",
        "shipment_accepted": "СДЭК принял заявку",
        "shipment_registered": "СДЭК зарегистрировал отправление, трек {tracking_number}",
        "shipment_refused": "СДЭК отказал: {reason}",
        "shipment_dropped": "Отправление снято: {reason}",
        "cancelled": "Заказ отменён{because}; снято: {released}",
        "cancelled_by_channel": "Отменён покупателем или площадкой {channel}{because}",
        "delivered_to_buyer": "{channel}: доставлен покупателю",
        "returned_by_buyer": "{channel}: покупатель вернул заказ{because}",
        "marketplace_ready_to_ship": "{channel}: сообщено, что заказ собран и готов к отгрузке",
        "marketplace_cancelled": "{channel}: заказ отменён на маркетплейсе (нет товара)",
        "marketplace_refused_ready": "{channel}: не принял «готов к отгрузке»{because}",
        "marketplace_refused_cancel": "{channel}: не принял отмену{because}",
        "unfillable_asked": "Менеджеров спросили: отменить или ждать поставку",
        "unfillable_decided": "Товара нет — решение: {decision_words}{by_who}",
        "unfillable_wait_moved": "Товара нет — ждём поставку до {until}{by_who}",
        "unfillable_rerouted": "После ожидания товар нашёлся: строки распределены снова, менеджеров не спрашиваем",
        "crm_status": "RetailCRM: {note}",
        "return_announced": "Возврат {sku} × {qty} заявлен, спросили склад {warehouse}",
        "return_sellable": "Возврат {sku} × {qty} пришёл на склад {warehouse}, годен ({by}); ждём в остатке 1С",
        "return_restocked": "Возврат {sku} × {qty} пришёл на склад {warehouse} и добавлен в остаток ({by})",
        "return_defective": "Возврат {sku} × {qty} пришёл на склад {warehouse} с браком ({by}); владелец спишет в 1С",
        "return_not_received": "Возврат {sku} × {qty} на склад {warehouse} не пришёл ({by})",
    },
    "en": {
        "received": "Order received: {channel}, {lines_words}",
        "reserved": "Line {line}: {sku} × {qty} reserved at {warehouse}",
        "held_for_store_confirmation": "Line {line}: {sku} × {qty} held at store {warehouse}, awaiting its answer",
        "out_of_stock": "Line {line}: {sku} × {qty} — out of stock",
        "store_skipped": "Line {line}: store {store} skipped ({reason})",
        "store_asked": "Line {line}: store {store} asked, answer by {answer_by}",
        "store_confirmed": "Line {line}: store {store} answered — {outcome}{by_who}",
        "store_declined": "Line {line}: store {store} did not confirm — {outcome}{by_who}",
        "unfulfillable": "Line {line}: {sku} × {qty} — no store confirmed it (asked: {asked})",
        "exported_to_1c": "Handed to 1C",
        "paid_in_1c": "1C: paid, payment document {number} of {at}",
        "shipped_in_1c": "1C: shipped, shipment document {number} of {at}",
        "fraud_check_opened": "Call check opened",
        "fraud_check_answered": "Call check: {decision}{by_who}",
        "client_blocked": "Client blocked after the check",
        "payment_initiated": "Payment started: {money}",
        "payment_3ds": "Payment: 3-D Secure check, {money}",
        "payment_authorized": "Payment authorised: {money}",
        "payment_cleared": "Payment cleared: {money}",
        "payment_failed": "Payment failed: {money}",
        "payment_refunded": "Money refunded: {money}",
        "payment_unknown_asked": "Payment not confirmed by the gateway since {since}: the managers were asked to check",
        "payment_unknown_checked": "The unconfirmed payment was checked{by_who}",
        "fx_rate_awaited": "Payment to {payee} in {currency}: waiting for the CBR rate",
        "fx_rate_recorded": "Payment to {payee} in {currency}: rate at payment {rate} RUB",
        "obligation_released": "Payment to {payee}: {money} released (rate {rate_now} RUB)",
        "obligation_held": "Payment to {payee}: {money} held — the rate moved {deviation}",
        "fx_decision": "Rate decision: {decision}{by_who}",
        "money_planned": "Reserves by the estimate: goods {goods_rub}, logistics {logistics_rub}, "
        "customs {customs_rub}, warehouse {warehouse_rub}, marketplace {marketplace_rub}",
        "money_credited": "Credited to the order's account: {rub}",
        "money_credit_without_rate": "A payment in {currency} not credited: no CBR rate",
        "payout_drawn": "Payment to {payee}: {paid_words} drawn from the {purpose_words} reserve",
        "earmark_short": "Payment to {payee}: {money} — the {purpose_words} reserve is short by {shortfall}",
        "earmark_decision": "Reserve shortfall decision: {decision}{by_who}",
        "topup_requested": "The client is asked to top up {rub} for {purpose_words}",
        "topup_link_sent": "The client was sent the link to pay the top-up of {rub} (YooKassa), on their order's page",
        "customs_planned": "Full clearance: the managers collect the documents ({documents}) by {answer_by}; "
        "customs payment to {payee} {rub} due {due_at}",
        "customs_document_ticked": "Customs document collected: {document_words} ({by})",
        "customs_documents_done": "Every customs document collected",
        "customs_payment_made": "Customs payment made: {payee}, {rub}",
        "customs_escalated": "{customs_task_words}: the date was missed, the owner decides",
        "boxes_registered": "Purchase from {payee}: {boxes_words}, {units_words}; {rub} of the {purpose_words} "
        "reserve materialised",
        "box_scanned": "Box {box} of {boxes} ({contents}): {status_words}{skipped_words}{stock_words}{released_words}",
        "box_scan_undone": "Box {box} of {boxes} ({contents}): scan undone, {status_words} again (undone: "
        "{undone_words}){stock_words}{released_words}; {by}: {reason}",
        "boxes_released_late": "The invoice of {payee} paid after boxes were {status_words}: {rub} of the "
        "{purpose_words} reserve materialised for {boxes_words}",
        "topup_failed": "The top-up of {rub} for {purpose_words} failed",
        "money_refunded": "Refunded to the client {refunded}: {rub} taken from the order's account",
        "refund_short": "A refund not covered by the reserves by {shortfall}: money already paid out, managers told",
        "refund_short_checked": "The uncovered refund was checked{by_who}",
        "purchase_watch_asked": "The client's money ({rub}) came in {since}, no purchase: the managers were asked",
        "purchase_watch_decision": "Money with no purchase — decided: {decision}{by_who}",
        "money_route_changed": "Route changed, estimate: {changes}",
        "money_given_back": "From the {purpose_words} reserve back to the order's free money: {rub}",
        "shipment_accepted": "CDEK accepted the request",
        "shipment_registered": "CDEK registered the shipment, tracking {tracking_number}",
        "shipment_refused": "CDEK refused: {reason}",
        "shipment_dropped": "Shipment dropped: {reason}",
        "cancelled": "Order cancelled{because}; released: {released}",
        "cancelled_by_channel": "Cancelled by the buyer or by {channel}{because}",
        "delivered_to_buyer": "{channel}: delivered to the buyer",
        "returned_by_buyer": "{channel}: the buyer returned it{because}",
        "marketplace_ready_to_ship": "{channel}: told the order is packed and ready to ship",
        "marketplace_cancelled": "{channel}: order cancelled on the marketplace (out of stock)",
        "marketplace_refused_ready": '{channel} refused "ready to ship"{because}',
        "marketplace_refused_cancel": "{channel} refused the cancellation{because}",
        "unfillable_asked": "Managers asked: cancel or wait for a delivery",
        "unfillable_decided": "Out of stock — decided: {decision_words}{by_who}",
        "unfillable_wait_moved": "Out of stock — waiting for the delivery until {until}{by_who}",
        "unfillable_rerouted": "Stock found after the wait: the lines are routed again, the managers are not asked",
        "crm_status": "RetailCRM: {note_en}",
        "return_announced": "Return of {sku} × {qty} announced, warehouse {warehouse} asked",
        "return_sellable": "Return of {sku} × {qty} arrived at {warehouse}, sellable ({by}); awaiting 1C's stock",
        "return_restocked": "Return of {sku} × {qty} arrived at {warehouse}, added to stock ({by})",
        "return_defective": "Return of {sku} × {qty} arrived at {warehouse} defective ({by}); to write off in 1C",
        "return_not_received": "Return of {sku} × {qty} did not arrive at {warehouse} ({by})",
    },
}


# how a cancellation the channel asked for is recorded (workflows.channel_verdicts.cancel_reason)
CHANNEL_CANCEL_PREFIX = "cancelled on "

# cancellations stored as codes: the office's as "<code>: <who>" (workflows.fraud_check, workflows.unfillable),
# 1C's as the bare code (workflows.onec_order_status)
_OFFICE_REASONS: dict[Locale, dict[str, str]] = {
    "ru": {
        "fraud_confirmed": "мошенничество подтвердил(а) {who}",
        "unfillable": "товара нет, отменил(а) {who}",
        "cancelled_in_1c": "отменён или помечен на удаление в 1С",
    },
    "en": {
        "fraud_confirmed": "fraud confirmed by {who}",
        "unfillable": "nobody can fill it, cancelled by {who}",
        "cancelled_in_1c": "cancelled or marked for deletion in 1C",
    },
}


_STORE_OUTCOMES: dict[Locale, dict[str, str]] = {  # a store's answer (workflows.store_confirmation)
    "ru": {"available": "есть, в порядке", "missing": "нет на месте", "defective": "брак",
           "timeout": "не ответил вовремя"},
    "en": {"available": "there, in good condition", "missing": "not there", "defective": "defective",
           "timeout": "no answer in time"},
}  # fmt: skip

_DECISIONS: dict[Locale, dict[str, str]] = {  # the office's answers (workflows.unfillable, fraud_check, fx)
    "ru": {"cancel": "отменить заказ", "wait": "ждать поставку до {until}", "verified": "подтверждено",
           "no_answer": "клиент не ответил", "fraud": "мошенничество", "absorb": "берём разницу на себя",
           "topup": "доплата клиента", "postpone": "отложить", "request_topup": "запросить доплату у клиента",
           "started": "закупка идёт", "refund": "вернуть деньги клиенту"},
    "en": {"cancel": "cancel the order", "wait": "wait for the delivery until {until}", "verified": "verified",
           "no_answer": "the client did not answer", "fraud": "fraud", "absorb": "we absorb the difference",
           "topup": "the client tops up", "postpone": "postpone", "request_topup": "ask the client to top up",
           "started": "the purchase is under way", "refund": "refund the client"},
}  # fmt: skip

_PURPOSES: dict[Locale, dict[str, str]] = {  # an earmark's purpose (workflows.money_model.Purpose)
    "ru": {"goods": "товар", "logistics": "логистика", "customs": "таможня", "warehouse": "склад",
           "marketplace": "доставка на маркетплейс"},
    "en": {"goods": "goods", "logistics": "logistics", "customs": "customs", "warehouse": "warehouse",
           "marketplace": "marketplace delivery"},
}  # fmt: skip

_CUSTOMS_TASKS: dict[Locale, dict[str, str]] = {  # workflows.customs's tasks, in the order's history
    "ru": {"customs_documents": "Документы для таможни", "customs_payment": "Оплата таможни"},
    "en": {"customs_documents": "Customs documents", "customs_payment": "Customs payment"},
}
_BOX_STATUSES: dict[Locale, dict[str, str]] = {  # a box's status (workflows.box_model.BoxStatus)
    "ru": {"purchased": "выкуплена", "at_supplier_warehouse": "на складе поставщика", "in_transit": "в пути",
           "at_moscow_warehouse": "на складе в Москве", "sent_to_marketplace": "отправлена на маркетплейс",
           "accepted_at_fulfilment": "принята на фулфилменте"},
    "en": {"purchased": "purchased", "at_supplier_warehouse": "at the supplier's warehouse",
           "in_transit": "in transit", "at_moscow_warehouse": "at the Moscow warehouse",
           "sent_to_marketplace": "sent to the marketplace", "accepted_at_fulfilment": "accepted at fulfilment"},
}  # fmt: skip

_BOX_WORDS: dict[Locale, dict[str, str]] = {
    "ru": {"skipped": " (пройдено по пути: {statuses})", "received": "; принята на склад {warehouse}",
           "written_off": "; списана со склада {warehouse}", "released": "; из резервов израсходовано: {sums}",
           "taken_back": "; в резервы возвращено: {sums}",
           "sum": "{purpose} {rub}"},
    "en": {"skipped": " (passed on the way: {statuses})", "received": "; received at {warehouse}",
           "written_off": "; written off at {warehouse}", "released": "; materialised from the reserves: {sums}",
           "taken_back": "; back in the reserves: {sums}",
           "sum": "{purpose} {rub}"},
}  # fmt: skip

_UNKNOWN: dict[Locale, str] = {"ru": "Событие заказа без описания", "en": "An order event with no wording"}


def _reason_words(locale: Locale, reason: str) -> str:
    """A cancellation's reason in the reader's language when it is one of the office's codes, else as stored."""
    code, _, who = reason.partition(": ")
    template = _OFFICE_REASONS[locale].get(code)
    return template.format(who=who) if template is not None else reason


class _Detail(dict[str, object]):
    """An event's detail for formatting: a field an older event lacks reads as a dash, never an error."""

    def __missing__(self, key: str) -> object:
        return "—"


def kinds(locale: Locale) -> set[str]:
    """The event kinds that have a wording."""
    return set(_HISTORY[locale])


def history_line(
    locale: Locale, kind: str, detail: Mapping[str, object], names: Names | None = None, timezone: str = "UTC"
) -> str:
    """One history event as a short line: channels and stores by their titles, times in the shop's zone, sums
    and counts in the reader's language. A kind with no wording yet is said to be one, never shown as its code."""
    template = _HISTORY[locale].get(kind)
    if template is None:
        return _UNKNOWN[locale]
    names = names or Names.of(None, locale)
    values = _Detail(detail)
    reason = str(detail.get("reason") or "").strip()
    if kind == "cancelled" and reason.startswith(CHANNEL_CANCEL_PREFIX):
        reason = ""  # the channel's cancellation has its own line, with the channel's words
    values["because"] = f": {_reason_words(locale, reason)}" if reason else ""
    by = detail.get("by_name") or detail.get("by")  # the name the chat showed; an older event, the id alone
    values["by"] = by or "—"
    values["by_who"] = f" ({by})" if by else ""
    ask_again = detail.get("ask_again_at")
    values["until"] = _day(ask_again, timezone) if ask_again else "—"  # the day; the time is the shop's morning
    outcome = str(detail.get("outcome") or "—")
    values["outcome"] = _STORE_OUTCOMES[locale].get(outcome, outcome)
    decision = str(detail.get("decision") or "")
    values["decision_words"] = _DECISIONS[locale].get(decision, decision).format(until=values["until"])
    values["decision"] = values["decision_words"]
    _put_names(values, detail, names, timezone)
    if kind in ("box_scanned", "box_scan_undone", "boxes_released_late"):
        _put_box_words(values, detail, names)
    return template.format_map(values)


def _put_box_words(values: _Detail, detail: Mapping[str, object], names: Names) -> None:
    """A box's status, the statuses it passed, the stock it moved and what it released, in the reader's words."""
    locale, words = names.locale, _BOX_WORDS[names.locale]
    statuses = _BOX_STATUSES[locale]
    status = str(detail.get("status") or "—")
    values["status_words"] = statuses.get(status, status)
    skipped = detail.get("skipped")
    passed = [statuses.get(str(s), str(s)) for s in skipped] if isinstance(skipped, list) else []
    values["skipped_words"] = words["skipped"].format(statuses=", ".join(passed)) if passed else ""
    undone = detail.get("undone")
    values["undone_words"] = (
        ", ".join(statuses.get(str(s), str(s)) for s in undone) if isinstance(undone, list) else "—"
    )
    stock = str(detail.get("stock") or "")
    values["stock_words"] = words[stock].format(warehouse=values["warehouse"]) if stock in words else ""
    released = detail.get("released")
    figures = [(str(p), Decimal(str(v))) for p, v in (released.items() if isinstance(released, dict) else [])]
    said = []
    for wording, sign in (("released", 1), ("taken_back", -1)):  # a scan undone gives back what it released
        sums = [
            words["sum"].format(purpose=_PURPOSES[locale].get(p, p), rub=money(locale, str(sign * v), "RUB"))
            for p, v in figures
            if sign * v > 0
        ]
        if sums:
            said.append(words[wording].format(sums=", ".join(sums)))
    values["released_words"] = "".join(said)


def _put_names(values: _Detail, detail: Mapping[str, object], names: Names, timezone: str) -> None:
    locale = names.locale
    for key in ("channel", "carrier"):
        if detail.get(key):
            values[key] = names.channel(detail[key])
    for key in ("warehouse", "store"):
        if detail.get(key):
            values[key] = names.place(detail[key])
    asked = detail.get("asked")
    if isinstance(asked, list | tuple):
        values["asked"] = ", ".join(names.place(code) for code in asked) or "—"
    for key in ("answer_by", "at", "since", "due_at"):
        moment = detail.get(key)
        if isinstance(moment, str) and "T" in moment:
            values[key] = clock_time(datetime.fromisoformat(moment), timezone)
    if detail.get("lines") is not None:
        values["lines_words"] = count(locale, int(str(detail["lines"])), "line")
    if detail.get("released") is not None and not isinstance(detail["released"], dict):  # a box's is by purpose
        values["released"] = count(locale, int(str(detail["released"])), "reservation")
    if detail.get("units") is not None:
        values["units_words"] = count(locale, int(str(detail["units"])), "piece")
    if detail.get("boxes") is not None:
        values["boxes_words"] = count(locale, int(str(detail["boxes"])), "box")
    if detail.get("amount") is not None:
        currency = str(detail.get("currency") or "RUB")
        values["money"] = money(locale, str(detail["amount"]), currency)
        if detail.get("amount_rub") is not None:  # a payment out: its roubles beside a foreign sum, not twice
            rub = money(locale, str(detail["amount_rub"]), "RUB")
            values["paid_words"] = values["money"] if currency.upper() == "RUB" else f"{values['money']} ({rub})"
    for key in ("rate", "rate_now"):
        if detail.get(key) is not None:
            values[key] = rate(locale, str(detail[key]))
    if detail.get("deviation") is not None:
        values["deviation"] = percent(locale, Decimal(str(detail["deviation"])) * 100)
    purposes = [(f"{p}_rub", f"{p}_rub") for p in _PURPOSES[locale]]
    for key, name in [("amount_rub", "rub"), ("shortfall_rub", "shortfall"), ("refunded_rub", "refunded"), *purposes]:
        if detail.get(key) is not None:
            values[name] = money(locale, str(detail[key]), "RUB")
    if detail.get("purpose"):
        values["purpose_words"] = _PURPOSES[locale].get(str(detail["purpose"]), str(detail["purpose"]))
    if detail.get("document"):
        values["document_words"] = document_title(locale, str(detail["document"]))
    if detail.get("task_kind"):
        values["customs_task_words"] = _CUSTOMS_TASKS[locale].get(str(detail["task_kind"]), str(detail["task_kind"]))
    changed = detail.get("changed")
    if isinstance(changed, Mapping):  # a route change: each earmark's estimate before and after
        values["changes"] = ", ".join(_change(locale, str(p), x) for p, x in changed.items()) or "—"


def _change(locale: Locale, purpose: str, figures: object) -> str:
    """One earmark of a route change: "логистика 1 150 000,00 ₽ → 95 000,00 ₽"."""
    words = _PURPOSES[locale].get(purpose, purpose)
    if not isinstance(figures, list | tuple) or len(figures) != 2:
        return words
    return f"{words} {money(locale, str(figures[0]), 'RUB')} → {money(locale, str(figures[1]), 'RUB')}"


def _day(moment: object, timezone: str) -> str:
    return clock_time(datetime.fromisoformat(str(moment)), timezone)[:5]
