"""What people read in chat, in Russian (default) and English. Short, with what they need to act."""

from __future__ import annotations

from typing import Literal

Locale = Literal["ru", "en"]

_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "question.title": "Проверьте товар для заказа {order}",
        "question.item": "*{item}*\nАртикул: `{sku}`{size} · Количество: *{qty}*",
        "question.size": " · Размер: {size}",
        "question.deadline": "Ответьте до *{deadline}*. Без ответа спросим следующий магазин.",
        "option.available": "Есть, в порядке",
        "option.missing": "Нет на месте",
        "option.defective": "Есть, но брак",
        "closed.available": "✅ Есть, в порядке — <@{by}>, {at}",
        "closed.missing": "❌ Нет на месте — <@{by}>, {at}",
        "closed.defective": "⚠️ Брак — <@{by}>, {at}",
        "closed.timeout": "⌛ Ответа не было до {at} — спросили следующий магазин",
        "closed.cancelled": "Заказ отменён, ответ не нужен ({at})",
        "reminder": "Напоминание: заказ {order} ждёт ответа до {deadline}.",
        "refused.not_staff": "Отвечать за магазин «{store}» могут только его сотрудники.",
        "refused.answered": "Вопрос уже закрыт: ответил(а) <@{by}>.",
        "refused.expired": "Вопрос уже закрыт: время на ответ вышло, спросили другой магазин.",
        "refused.cancelled": "Вопрос уже закрыт: заказ отменён.",
        "refused.unknown_task": "Этот вопрос не найден — возможно, он устарел.",
        "return.title": "Возврат по заказу {order} едет в магазин",
        "return.item": "Артикул: `{sku}` · Количество: *{qty}*",
        "return.when": "Когда посылка придёт, отметьте, в каком виде товар.",
        "return.sellable": "Пришёл, можно продавать",
        "return.defective": "Пришёл, брак",
        "return.not_received": "Не пришёл",
        "return.closed.sellable": "✅ Пришёл, можно продавать — <@{by}>, {at}",
        "return.closed.defective": "⚠️ Пришёл с браком — <@{by}>, {at}",
        "return.closed.not_received": "❌ Не пришёл — <@{by}>, {at}",
    },
    "en": {
        "question.title": "Please check an item for order {order}",
        "question.item": "*{item}*\nArticle: `{sku}`{size} · Quantity: *{qty}*",
        "question.size": " · Size: {size}",
        "question.deadline": "Answer by *{deadline}*. With no answer we ask the next store.",
        "option.available": "Here, good condition",
        "option.missing": "Not here",
        "option.defective": "Here, but defective",
        "closed.available": "✅ Here, good condition — <@{by}>, {at}",
        "closed.missing": "❌ Not here — <@{by}>, {at}",
        "closed.defective": "⚠️ Defective — <@{by}>, {at}",
        "closed.timeout": "⌛ No answer by {at} — the next store was asked",
        "closed.cancelled": "The order was cancelled; no answer needed ({at})",
        "reminder": "Reminder: order {order} needs an answer by {deadline}.",
        "refused.not_staff": "Only the staff of {store} may answer for it.",
        "refused.answered": "This question is closed: <@{by}> answered it.",
        "refused.expired": "This question is closed: time ran out and another store was asked.",
        "refused.cancelled": "This question is closed: the order was cancelled.",
        "refused.unknown_task": "This question was not found; it may be out of date.",
        "return.title": "A return for order {order} is on its way to the store",
        "return.item": "Article: `{sku}` · Quantity: *{qty}*",
        "return.when": "When the parcel arrives, say what state the goods are in.",
        "return.sellable": "Arrived, sellable",
        "return.defective": "Arrived, defective",
        "return.not_received": "Did not arrive",
        "return.closed.sellable": "✅ Arrived, sellable — <@{by}>, {at}",
        "return.closed.defective": "⚠️ Arrived defective — <@{by}>, {at}",
        "return.closed.not_received": "❌ Did not arrive — <@{by}>, {at}",
    },
}


def text(locale: Locale, key: str, /, **values: object) -> str:
    return _TEXTS[locale][key].format(**values)
