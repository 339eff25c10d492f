"""Why an order waits, in one sentence a manager reads (Russian by default, and English): what it waits for and
what happens next. The facts come from :func:`workflows.order_waiting.waiting_for`; times are the shop's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.texts import Locale
from workflows.order_waiting import Waiting, WaitingReason

_R = WaitingReason
_WORDS: dict[Locale, dict[WaitingReason, str]] = {
    "ru": {
        _R.CANCELLED: "Отменён — больше ничего не ждёт",
        _R.DELIVERED: "Доставлен покупателю — больше ничего не ждёт",
        _R.RETURNED: "Покупатель вернул заказ",
        _R.FRAUD_CHECK: "Задержан до проверки звонком: менеджеры звонят клиенту{until}; до подтверждения не "
        "отгружаем, деньги тратить нельзя",
        _R.STORE_ANSWER: "Спросили магазин {store} до {until_time}: ответит «есть» — резервируем, не ответит — "
        "спросим следующий",
        _R.MISSING_GOODS: "Товара нет: менеджеров спросили, отменить или ждать поставку (ответ до {until_time}, "
        "потом решает владелец)",
        _R.DELIVERY_AWAITED: "Ждём поставку: наличие проверим снова {until_day}",
        _R.OUT_OF_STOCK: "Товара нет на складах: ждём поставку или решение об отмене",
        _R.PAYMENT: "Ждём, пока оплата будет {phase}: до этого не отгружаем и деньги не тратим",
        _R.CARRIER: "Собран, регистрируем в СДЭК — ждём трек-номер",
        _R.CARRIER_REFUSED: "СДЭК отказал ({note}): поправьте данные доставки",
        _R.SHIPPED: "Передан в СДЭК, трек {note}",
        _R.MARKETPLACE_TOLD: "Площадке сообщено, что заказ собран: ждём отгрузки{ship_by}",
        _R.READY_TO_SHIP: "Готов к отгрузке{ship_by}",
    },
    "en": {
        _R.CANCELLED: "Cancelled — nothing more to wait for",
        _R.DELIVERED: "Delivered to the buyer — nothing more to wait for",
        _R.RETURNED: "The buyer returned it",
        _R.FRAUD_CHECK: "Held for the call check: the managers phone the client{until}; nothing ships and the "
        "money may not be spent until they confirm",
        _R.STORE_ANSWER: "Store {store} asked until {until_time}: if it has the item it is reserved, if it does "
        "not answer the next store is asked",
        _R.MISSING_GOODS: "Out of stock: the managers are asked to cancel or wait for a delivery (answer by "
        "{until_time}, then the owner decides)",
        _R.DELIVERY_AWAITED: "Waiting for a delivery: stock is looked for again on {until_day}",
        _R.OUT_OF_STOCK: "Out of stock in every warehouse: waiting for a delivery or a decision to cancel",
        _R.PAYMENT: "Waiting for the payment to be {phase}: nothing ships and no money is spent until then",
        _R.CARRIER: "Packed, being registered with CDEK — waiting for the tracking number",
        _R.CARRIER_REFUSED: "CDEK refused ({note}): fix the delivery details",
        _R.SHIPPED: "Handed to CDEK, tracking {note}",
        _R.MARKETPLACE_TOLD: "The marketplace is told it is packed: waiting for the pick-up{ship_by}",
        _R.READY_TO_SHIP: "Ready to ship{ship_by}",
    },
}
_PHASES: dict[Locale, dict[str, str]] = {
    "ru": {"cleared": "списана", "authorized": "авторизована"},
    "en": {"cleared": "cleared", "authorized": "authorised"},
}
_EXTRA: dict[Locale, dict[str, str]] = {
    "ru": {"until": " (ответ до {time})", "ship_by": "; отгрузить до {day} (срок площадки)"},
    "en": {"until": " (answer by {time})", "ship_by": "; ship by {day} (the marketplace's deadline)"},
}


def waiting_line(locale: Locale, waiting: Waiting, timezone: str, titles: Mapping[str, str] | None = None) -> str:
    """The sentence, a store named by its title in ``titles`` (else its code)."""
    template = _WORDS[locale].get(waiting.reason)
    if template is None:
        return waiting.reason.value
    until, extra = waiting.until, _EXTRA[locale]
    note = waiting.note or "—"
    return template.format(
        store=(titles or {}).get(waiting.store or "") or waiting.store or "—",
        until=extra["until"].format(time=_time(until, timezone)) if until else "",
        until_time=_time(until, timezone) if until else "—",
        until_day=_day(until, timezone) if until else "—",
        ship_by=extra["ship_by"].format(day=_day(until, timezone)) if until else "",
        phase=_PHASES[locale].get(note, note),
        note=note,
    )


def _time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def _day(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d.%m %H:%M")
