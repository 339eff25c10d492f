"""What the owner and managers read in Telegram, in Russian (default) and English. Plain text
(no parse_mode), so an article like ``КР-7/2`` or ``<USB-C>`` needs no escaping."""

from __future__ import annotations

from bot.texts import Locale

_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "refused": "Нет доступа.",
        "help": (
            "Команды:\n/status — состояние каналов, 1С, очереди, задач\n/stock <артикул> — остатки\n"
            "/order <номер> — заказ и его история\n/tasks — открытые задачи с кнопками\n"
            "/pause <канал>, /resume <канал> — остановить/возобновить выгрузку\n/sync [канал] — полная сверка\n"
            "/help — эта справка"
        ),
        "cmd.status": "Состояние",
        "cmd.stock": "Остатки по артикулу",
        "cmd.order": "Заказ и история",
        "cmd.tasks": "Открытые задачи",
        "cmd.pause": "Остановить выгрузку в канал",
        "cmd.resume": "Возобновить выгрузку",
        "cmd.sync": "Полная сверка",
        "cmd.help": "Справка",
        "usage.stock": "Укажите артикул: /stock КР-7/2",
        "usage.order": "Укажите номер заказа: /order 12",
        "usage.channel": "Укажите канал: /{command} {example}. Каналы: {known}",
        "unknown.channel": "Канала «{name}» нет. Каналы: {known}",
        "unknown.order": "Заказа {order} нет.",
        "unknown.sku": "Артикул {sku} не найден в остатках 1С.",
        "status": ("Каналы: {channels}\n1С: {onec}\nНе доставлено сообщений: {undelivered}\nОткрытых задач: {tasks}"),
        "status.paused": "⏸ {name}",
        "status.running": "▶️ {name}",
        "status.onec_never": "данных ещё не было",
        "status.onec_at": "последнее обновление {at}",
        "stock": "{sku}: доступно {available}, на складах {on_hand}, в резерве {reserved}\n{warehouses}\n{channels}",
        "stock.warehouse": "• {code}: {on_hand} шт., резерв {reserved}{suspect}",
        "stock.suspect": " (под сомнением)",
        "stock.channel": "• {name}: {qty}",
        "order": "Заказ {order} ({channel}), статус: {status}\n{lines}\nИстория:\n{history}",
        "order.line": "• {sku} × {qty}: {status}{warehouse}",
        "order.event": "• {at} {kind}",
        "tasks.none": "Открытых задач нет.",
        "tasks.more": "…и ещё {more}.",
        "paused": "Выгрузка в {name} остановлена. Изменения копятся и уйдут после /resume {name}.",
        "resumed": "Выгрузка в {name} возобновлена.",
        "sync": "Полная сверка запрошена: {names}.",
        "alert.title": "⚠️ {title}",
        "alert.count": "Повторов: {count} (с {first} по {last})",
        "alert.resolved": "✅ Восстановлено: {title} (было {count} раз, {first}–{at})",
        "alert.store_cascade_exhausted": "Ни один магазин не подтвердил товар {sku} × {qty} для заказа {order}",
        "alert.onec_silent": "1С молчит {minutes} мин (последнее обновление {last_update})",
        "alert.fx_feed_down": "Курсы ЦБ недоступны: {reason}. Используем последний известный курс.",
        "alert.task_escalated": "Задача передана владельцу: {task_kind}, заказ {order_id}",
        "alert.sync_failing": "Выгрузка в {channel} не проходит ({failures} раз подряд): {reason}",
        "alert.sku_rejected": "{channel} не принимает остаток артикула {sku}: {reason}",
        "alert.stock_negative": "1С показывает {sku} на складе {warehouse}: {on_hand} шт., а обещано {reserved}",
        "alert.other": "{kind}: {detail}",
        "option.ack": "Принято",
        "option.mute": "Не беспокоить 4 ч",
        "closed.ack": "Принято — {by}, {at}",
        "closed.mute": "Заглушено — {by}, {at}",
        "fraud.title": "📞 Проверка звонком: заказ {order} на {total}",
        "fraud.body": (
            "Клиент: {name}\nТелефон: {phone}\nПлательщик: {payer}\nПричины: {reasons}\nОтветьте до {deadline}"
        ),
        "fraud.again": "Попытка {attempt}: позвоните после {call_after}",
        "fraud.escalated": "Передано владельцу ({why})",
        "fraud.reason.new_client_large_order": "новый клиент, крупный заказ",
        "fraud.reason.payer_is_not_recipient": "плательщик не получатель",
        "fraud.reason.ip_country_differs_from_card": "страна IP не совпадает со страной карты",
        "fraud.reason.repeated_failed_attempts": "несколько неудачных попыток оплаты",
        "option.verified": "Подтверждено",
        "option.no_answer": "Не ответил",
        "option.fraud": "Мошенничество",
        "fx.title": "💱 Курс {currency} сдвинулся на {deviation}: заказ {order}",
        "fx.body": (
            "Платёж {payee}: {amount}\nКурс ЦБ при оплате {paid} ₽, сейчас {now} ₽\n"
            "Разница {difference}\nОтветьте до {deadline}"
        ),
        "option.absorb": "Берём на себя",
        "option.topup": "Доплата клиента",
        "option.postpone": "Отложить",
        "closed.answered": "Решение: {option} — {by}, {at}",
        "closed.expired": "Время вышло ({at})",
        "closed.cancelled": "Не нужно: {reason} ({at})",
        "reason.resolved": "восстановилось",
        "reason.order_cancelled": "заказ отменён",
        "refused.answered": "Уже решено: {option}, {by}.",
        "refused.expired": "Время на ответ вышло.",
        "refused.cancelled": "Задача больше не нужна.",
        "refused.not_yours": "Эту задачу решает владелец.",
        "refused.unknown_task": "Задача не найдена.",
        "accepted": "Готово: {option}",
    },
    "en": {
        "refused": "Access denied.",
        "help": (
            "Commands:\n/status — channels, 1C, queue, tasks\n/stock <article> — stock\n"
            "/order <id> — an order and its history\n/tasks — open tasks with buttons\n"
            "/pause <channel>, /resume <channel> — stop/restart pushing to a channel\n/sync [channel] — full sync\n"
            "/help — this help"
        ),
        "cmd.status": "Status",
        "cmd.stock": "Stock of an article",
        "cmd.order": "An order and its history",
        "cmd.tasks": "Open tasks",
        "cmd.pause": "Stop pushing to a channel",
        "cmd.resume": "Resume pushing",
        "cmd.sync": "Full sync",
        "cmd.help": "Help",
        "usage.stock": "Give an article: /stock КР-7/2",
        "usage.order": "Give an order id: /order 12",
        "usage.channel": "Give a channel: /{command} {example}. Channels: {known}",
        "unknown.channel": "There is no channel “{name}”. Channels: {known}",
        "unknown.order": "There is no order {order}.",
        "unknown.sku": "Article {sku} is not in 1C's stock.",
        "status": "Channels: {channels}\n1C: {onec}\nUndelivered messages: {undelivered}\nOpen tasks: {tasks}",
        "status.paused": "⏸ {name}",
        "status.running": "▶️ {name}",
        "status.onec_never": "nothing received yet",
        "status.onec_at": "last update {at}",
        "stock": "{sku}: available {available}, on hand {on_hand}, reserved {reserved}\n{warehouses}\n{channels}",
        "stock.warehouse": "• {code}: {on_hand}, reserved {reserved}{suspect}",
        "stock.suspect": " (in doubt)",
        "stock.channel": "• {name}: {qty}",
        "order": "Order {order} ({channel}), status: {status}\n{lines}\nHistory:\n{history}",
        "order.line": "• {sku} × {qty}: {status}{warehouse}",
        "order.event": "• {at} {kind}",
        "tasks.none": "No open tasks.",
        "tasks.more": "…and {more} more.",
        "paused": "Pushing to {name} is paused. Changes accumulate and go out after /resume {name}.",
        "resumed": "Pushing to {name} resumed.",
        "sync": "Full sync requested: {names}.",
        "alert.title": "⚠️ {title}",
        "alert.count": "Repeats: {count} (from {first} to {last})",
        "alert.resolved": "✅ Recovered: {title} ({count} times, {first}–{at})",
        "alert.store_cascade_exhausted": "No store confirmed {sku} × {qty} for order {order}",
        "alert.onec_silent": "1C has been silent for {minutes} min (last update {last_update})",
        "alert.fx_feed_down": "CBR rates unavailable: {reason}. Using the last known rate.",
        "alert.task_escalated": "Task passed to the owner: {task_kind}, order {order_id}",
        "alert.sync_failing": "Pushing to {channel} keeps failing ({failures} in a row): {reason}",
        "alert.sku_rejected": "{channel} refuses the stock of {sku}: {reason}",
        "alert.stock_negative": "1C shows {sku} at {warehouse}: {on_hand} on hand, {reserved} promised",
        "alert.other": "{kind}: {detail}",
        "option.ack": "Got it",
        "option.mute": "Mute 4 h",
        "closed.ack": "Acknowledged — {by}, {at}",
        "closed.mute": "Muted — {by}, {at}",
        "fraud.title": "📞 Call check: order {order} for {total}",
        "fraud.body": "Client: {name}\nPhone: {phone}\nPayer: {payer}\nReasons: {reasons}\nAnswer by {deadline}",
        "fraud.again": "Attempt {attempt}: call after {call_after}",
        "fraud.escalated": "Passed to the owner ({why})",
        "fraud.reason.new_client_large_order": "new client, large order",
        "fraud.reason.payer_is_not_recipient": "payer is not the recipient",
        "fraud.reason.ip_country_differs_from_card": "IP country differs from the card's",
        "fraud.reason.repeated_failed_attempts": "several failed payment attempts",
        "option.verified": "Verified",
        "option.no_answer": "No answer",
        "option.fraud": "Fraud",
        "fx.title": "💱 {currency} moved {deviation}: order {order}",
        "fx.body": (
            "Payment to {payee}: {amount}\nCBR rate when paid {paid} RUB, now {now} RUB\n"
            "Difference {difference}\nAnswer by {deadline}"
        ),
        "option.absorb": "Absorb",
        "option.topup": "Client tops up",
        "option.postpone": "Postpone",
        "closed.answered": "Decision: {option} — {by}, {at}",
        "closed.expired": "Time ran out ({at})",
        "closed.cancelled": "No longer needed: {reason} ({at})",
        "reason.resolved": "recovered",
        "reason.order_cancelled": "order cancelled",
        "refused.answered": "Already decided: {option}, {by}.",
        "refused.expired": "Time to answer ran out.",
        "refused.cancelled": "This task is no longer needed.",
        "refused.not_yours": "The owner decides this one.",
        "refused.unknown_task": "Task not found.",
        "accepted": "Done: {option}",
    },
}


def tg(locale: Locale, key: str, **values: object) -> str:
    return _TEXTS[locale][key].format(**values)


def has(locale: Locale, key: str) -> bool:
    return key in _TEXTS[locale]
