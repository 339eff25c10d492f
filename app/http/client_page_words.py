"""The client's order page's words (``app/http/client_page.py``), in Russian (default) and English: the client reads
them, so they say what the shop does with the client's money in the client's words — never the office's codes.
``{name}`` in a text is filled in by the page."""

from __future__ import annotations

from bot.texts import Locale

WORDS: dict[Locale, dict[str, str]] = {
    "ru": {
        "title": "Заказ {number}", "heading": "Ваш заказ {number}", "created": "Оформлен {at}",
        "total": "Сумма заказа: {total}", "stage": "Статус",
        "stage.cancelled": "Заказ отменён", "stage.awaiting_payment": "Ждём оплату",
        "stage.payment_processing": "Оплата проходит", "stage.awaiting_topup": "Нужна доплата",
        "stage.partly_paid": "Оплачен частично", "stage.paid": "Оплачен, заказ в работе",
        "stage.at_moscow_warehouse": "Товар на складе в Москве",
        "stage.on_the_way_to_marketplace": "Товар едет на маркетплейс",
        "stage.accepted_at_fulfilment": "Товар принят на складе маркетплейса",
        "payments": "Платежи", "payments_none": "Платежей пока нет.",
        "phase.initiated": "ждёт оплаты", "phase.3ds": "проверка банка", "phase.authorized": "подтверждён банком",
        "phase.cleared": "оплачен", "phase.failed": "не прошёл", "phase.refunded": "возвращён",
        "topup_for": "доплата: {purpose}",
        "pay_topup": "Оплатить доплату",
        "money": "На что идут ваши деньги", "money_none": "Смету по заказу ещё составляют.",
        "received": "Получено от вас", "left_to_pay": "Осталось оплатить по смете",
        "unallocated": "Ещё не распределено",
        "purpose": "Назначение", "planned": "По смете", "reserved": "Отложено", "spent": "Потрачено",
        "purpose.goods": "Товар", "purpose.logistics": "Доставка из Китая", "purpose.customs": "Таможня",
        "purpose.warehouse": "Склад в Москве", "purpose.marketplace": "Доставка на маркетплейс",
        "money_note": "Отложенные деньги тратятся только на то, для чего отложены.",
        "expires": "Ссылка действует до {at}.", "other_language": "English",
        "refused": "Ссылка не работает",
        "link_signature_missing": "В ссылке не хватает части. Попросите менеджера прислать её ещё раз.",
        "link_signature_invalid": "Ссылка неполная или в ней ошибка. Попросите менеджера прислать её ещё раз.",
        "link_expired": "Срок действия ссылки истёк. Попросите менеджера прислать новую.",
        "not_found": "Заказ не найден. Попросите менеджера прислать ссылку ещё раз.",
    },
    "en": {
        "title": "Order {number}", "heading": "Your order {number}", "created": "Placed {at}",
        "total": "Order total: {total}", "stage": "Status",
        "stage.cancelled": "Order cancelled", "stage.awaiting_payment": "Awaiting payment",
        "stage.payment_processing": "Payment in progress", "stage.awaiting_topup": "A top-up is needed",
        "stage.partly_paid": "Partly paid", "stage.paid": "Paid, the order is in progress",
        "stage.at_moscow_warehouse": "The goods are at our Moscow warehouse",
        "stage.on_the_way_to_marketplace": "The goods are on their way to the marketplace",
        "stage.accepted_at_fulfilment": "The goods were accepted at the marketplace's warehouse",
        "payments": "Payments", "payments_none": "No payments yet.",
        "phase.initiated": "awaiting payment", "phase.3ds": "bank check", "phase.authorized": "approved by the bank",
        "phase.cleared": "paid", "phase.failed": "did not go through", "phase.refunded": "refunded",
        "topup_for": "top-up: {purpose}",
        "pay_topup": "Pay the top-up",
        "money": "What your money is for", "money_none": "The estimate for the order is being made.",
        "received": "Received from you", "left_to_pay": "Still to pay by the estimate",
        "unallocated": "Not assigned yet",
        "purpose": "For", "planned": "Estimate", "reserved": "Set aside", "spent": "Spent",
        "purpose.goods": "Goods", "purpose.logistics": "Delivery from China", "purpose.customs": "Customs",
        "purpose.warehouse": "Moscow warehouse", "purpose.marketplace": "Delivery to the marketplace",
        "money_note": "Money set aside is spent only on what it was set aside for.",
        "expires": "This link works until {at}.", "other_language": "Русский",
        "refused": "This link does not work",
        "link_signature_missing": "Part of the link is missing. Ask your manager to send it again.",
        "link_signature_invalid": "The link is incomplete or mistyped. Ask your manager to send it again.",
        "link_expired": "The link has expired. Ask your manager for a new one.",
        "not_found": "The order was not found. Ask your manager to send the link again.",
    },
}  # fmt: skip


def word(locale: Locale, key: str, **values: object) -> str:
    return WORDS[locale][key].format(**values)
