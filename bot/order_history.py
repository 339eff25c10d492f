"""An order's history as a manager reads it: one short line per event, in Russian (default) and English.

This is the one table of wordings for every kind of history event the workflows write (``OrderEvent(…, kind,
detail)``). The Telegram ``/order`` command, the sandbox console and the operator's dashboard read it. A kind
missing here is still shown, as its raw name with its details, so a new event is never hidden — but give it a
wording here (a test checks that every kind written by ``workflows/`` has one in both languages)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.texts import Locale

_HISTORY: dict[str, dict[str, str]] = {
    "ru": {
        "received": "Заказ получен из {channel}, строк: {lines}",
        "reserved": "Строка {line}: {sku} × {qty} зарезервирован на складе {warehouse}",
        "held_for_store_confirmation": "Строка {line}: {sku} × {qty} придержан в магазине {warehouse}, ждём ответа",
        "out_of_stock": "Строка {line}: {sku} × {qty} — нет в наличии",
        "store_skipped": "Строка {line}: магазин {store} пропущен ({reason})",
        "store_asked": "Строка {line}: спросили магазин {store}",
        "store_confirmed": "Строка {line}: магазин {store} ответил — {outcome}{by_who}",
        "store_declined": "Строка {line}: магазин {store} не подтвердил — {outcome}{by_who}",
        "unfulfillable": "Строка {line}: {sku} × {qty} — ни один магазин не подтвердил",
        "exported_to_1c": "Передан в 1С",
        "paid_in_1c": "1С: оплачен, документ оплаты {number} от {at}",
        "shipped_in_1c": "1С: отгружен, документ отгрузки {number} от {at}",
        "fraud_check_opened": "Открыта проверка звонком",
        "fraud_check_answered": "Проверка звонком: {decision}{by_who}",
        "client_blocked": "Клиент заблокирован после проверки",
        "payment_initiated": "Оплата начата: {amount} {currency}",
        "payment_3ds": "Оплата: проверка 3-D Secure, {amount} {currency}",
        "payment_authorized": "Оплата авторизована: {amount} {currency}",
        "payment_cleared": "Оплата списана: {amount} {currency}",
        "payment_failed": "Оплата не прошла: {amount} {currency}",
        "payment_refunded": "Деньги возвращены: {amount} {currency}",
        "fx_rate_awaited": "Платёж {payee} в {currency}: ждём курс ЦБ",
        "fx_rate_recorded": "Платёж {payee} в {currency}: курс при оплате {rate}",
        "obligation_released": "Платёж {payee}: {amount} {currency} отпущен (курс {rate_now})",
        "obligation_held": "Платёж {payee}: {amount} {currency} задержан — курс сдвинулся на {deviation}",
        "fx_decision": "Решение по курсу: {decision}{by_who}",
        "shipment_accepted": "СДЭК принял заявку",
        "shipment_registered": "СДЭК зарегистрировал отправление, трек {tracking_number}",
        "shipment_refused": "СДЭК отказал: {reason}",
        "shipment_dropped": "Отправление снято: {reason}",
        "cancelled": "Заказ отменён{because}; снято резервов: {released}",
        "cancelled_by_channel": "Отменён покупателем или площадкой {channel}{because}",
        "delivered_to_buyer": "{channel}: доставлен покупателю",
        "returned_by_buyer": "{channel}: покупатель вернул заказ{because}",
        "marketplace_ready_to_ship": "{channel}: сообщено, что заказ собран и готов к отгрузке",
        "marketplace_cancelled": "{channel}: заказ отменён на маркетплейсе (нет товара)",
        "marketplace_refused_ready": "{channel} не принял «готов к отгрузке»{because}",
        "marketplace_refused_cancel": "{channel} не принял отмену{because}",
        "unfillable_asked": "Менеджеров спросили: отменить или ждать поставку",
        "unfillable_decided": "Товара нет — решение: {decision_words}{by_who}",
        "unfillable_wait_moved": "Товара нет — ждём поставку до {until}{by_who}",
        "unfillable_rerouted": "После ожидания товар нашёлся: строки распределены снова, менеджеров не спрашиваем",
        "crm_status": "RetailCRM: {note}",
        "return_announced": "возврат {sku} × {qty} заявлен ({source}), спросили склад {warehouse}",
        "return_sellable": "возврат {sku} × {qty} пришёл на {warehouse}, годен ({by}); ждём в остатке 1С",
        "return_restocked": "возврат {sku} × {qty} пришёл на {warehouse} и добавлен в остаток ({by})",
        "return_defective": "возврат {sku} × {qty} пришёл на {warehouse} с браком ({by}); владелец спишет в 1С",
        "return_not_received": "возврат {sku} × {qty} на склад {warehouse} не пришёл ({by})",
    },
    "en": {
        "received": "Order received from {channel}, lines: {lines}",
        "reserved": "Line {line}: {sku} × {qty} reserved at {warehouse}",
        "held_for_store_confirmation": "Line {line}: {sku} × {qty} held at store {warehouse}, awaiting its answer",
        "out_of_stock": "Line {line}: {sku} × {qty} — out of stock",
        "store_skipped": "Line {line}: store {store} skipped ({reason})",
        "store_asked": "Line {line}: store {store} asked",
        "store_confirmed": "Line {line}: store {store} answered — {outcome}{by_who}",
        "store_declined": "Line {line}: store {store} did not confirm — {outcome}{by_who}",
        "unfulfillable": "Line {line}: {sku} × {qty} — no store confirmed it",
        "exported_to_1c": "Handed to 1C",
        "paid_in_1c": "1C: paid, payment document {number} of {at}",
        "shipped_in_1c": "1C: shipped, shipment document {number} of {at}",
        "fraud_check_opened": "Call check opened",
        "fraud_check_answered": "Call check: {decision}{by_who}",
        "client_blocked": "Client blocked after the check",
        "payment_initiated": "Payment started: {amount} {currency}",
        "payment_3ds": "Payment: 3-D Secure check, {amount} {currency}",
        "payment_authorized": "Payment authorised: {amount} {currency}",
        "payment_cleared": "Payment cleared: {amount} {currency}",
        "payment_failed": "Payment failed: {amount} {currency}",
        "payment_refunded": "Money refunded: {amount} {currency}",
        "fx_rate_awaited": "Payment to {payee} in {currency}: waiting for the CBR rate",
        "fx_rate_recorded": "Payment to {payee} in {currency}: rate at payment {rate}",
        "obligation_released": "Payment to {payee}: {amount} {currency} released (rate {rate_now})",
        "obligation_held": "Payment to {payee}: {amount} {currency} held — the rate moved {deviation}",
        "fx_decision": "Rate decision: {decision}{by_who}",
        "shipment_accepted": "CDEK accepted the request",
        "shipment_registered": "CDEK registered the shipment, tracking {tracking_number}",
        "shipment_refused": "CDEK refused: {reason}",
        "shipment_dropped": "Shipment dropped: {reason}",
        "cancelled": "Order cancelled{because}; reservations released: {released}",
        "cancelled_by_channel": "Cancelled by the buyer or by {channel}{because}",
        "delivered_to_buyer": "{channel}: delivered to the buyer",
        "returned_by_buyer": "{channel}: the buyer returned it{because}",
        "marketplace_ready_to_ship": "{channel} told: order packed and ready to ship",
        "marketplace_cancelled": "{channel}: order cancelled on the marketplace (out of stock)",
        "marketplace_refused_ready": '{channel} refused "ready to ship"{because}',
        "marketplace_refused_cancel": "{channel} refused the cancellation{because}",
        "unfillable_asked": "Managers asked: cancel or wait for a delivery",
        "unfillable_decided": "Out of stock — decided: {decision_words}{by_who}",
        "unfillable_wait_moved": "Out of stock — waiting for the delivery until {until}{by_who}",
        "unfillable_rerouted": "Stock found after the wait: the lines are routed again, the managers are not asked",
        "crm_status": "RetailCRM: {note_en}",
        "return_announced": "return of {sku} × {qty} announced ({source}), warehouse {warehouse} asked",
        "return_sellable": "return of {sku} × {qty} arrived at {warehouse}, sellable ({by}); awaiting 1C's stock",
        "return_restocked": "return of {sku} × {qty} arrived at {warehouse}, added to stock ({by})",
        "return_defective": "return of {sku} × {qty} arrived at {warehouse} defective ({by}); to write off in 1C",
        "return_not_received": "return of {sku} × {qty} did not arrive at {warehouse} ({by})",
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

_DECISIONS: dict[Locale, dict[str, str]] = {
    "ru": {"cancel": "отменить заказ", "wait": "ждать поставку до {until}"},
    "en": {"cancel": "cancel the order", "wait": "wait for the delivery until {until}"},
}


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


def history_line(locale: Locale, kind: str, detail: Mapping[str, object]) -> str:
    """One history event as a short line; an unknown kind is shown as its name with its details."""
    template = _HISTORY[locale].get(kind)
    if template is None:
        said = ", ".join(f"{key}: {value}" for key, value in detail.items() if value not in (None, ""))
        return f"{kind} ({said})" if said else kind
    values = _Detail(detail)
    reason = str(detail.get("reason") or "").strip()
    if kind == "cancelled" and reason.startswith(CHANNEL_CANCEL_PREFIX):
        reason = ""  # the channel's cancellation has its own line, with the channel's words
    values["because"] = f": {_reason_words(locale, reason)}" if reason else ""
    by = detail.get("by")
    values["by_who"] = f" ({by})" if by else ""
    values["until"] = str(detail.get("ask_again_at") or "—")[:10]  # the day; the time is the shop's morning
    outcome = str(detail.get("outcome") or "—")
    values["outcome"] = _STORE_OUTCOMES[locale].get(outcome, outcome)
    decision = str(detail.get("decision") or "")
    values["decision_words"] = _DECISIONS[locale].get(decision, decision).format(until=values["until"])
    return template.format_map(values)
