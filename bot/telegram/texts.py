"""What the owner and managers read in Telegram, in Russian (default) and English. Plain text
(no parse_mode), so an article like ``КР-7/2`` or ``<USB-C>`` needs no escaping."""

from __future__ import annotations

from bot.texts import Locale

_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "refused": "Нет доступа.",
        "help": (
            "Команды:\n/status — состояние каналов, 1С, очереди, задач\n/stock <артикул> — остатки\n"
            "/order <номер> — заказ и история (наш номер, номер в канале или телефон)\n"
            "/tasks — открытые задачи с кнопками\n"
            "/pause <канал>, /resume <канал> — остановить/возобновить выгрузку\n/sync [канал] — полная сверка\n"
            "/report [вчера | ГГГГ-ММ-ДД] — отчёт за день с графиком\n"
            "/return <заказ> <артикул> — возврат: склад отметит, что пришло\n"
            "/wait <заказ> <ДД.ММ> — ждать поставку товара, которого нет, до этого дня\n/help — эта справка"
        ),
        "cmd.status": "Состояние",
        "cmd.stock": "Остатки по артикулу",
        "cmd.order": "Заказ и история",
        "cmd.tasks": "Открытые задачи",
        "cmd.pause": "Остановить выгрузку в канал",
        "cmd.resume": "Возобновить выгрузку",
        "cmd.sync": "Полная сверка",
        "cmd.report": "Отчёт за день",
        "cmd.help": "Справка",
        "usage.stock": "Укажите артикул: /stock КР-7/2",
        "usage.order": (
            "Укажите номер заказа — наш или номер в канале, или телефон клиента: /order 12, "
            "/order ozon 0123456789-0001-1, /order +79161234567"
        ),
        "usage.report": "Отчёт за сегодня: /report, за вчера: /report вчера, за день: /report 2026-11-20",
        "usage.channel": "Укажите канал: /{command} {example}. Каналы: {known}",
        "unknown.channel": "Канала «{name}» нет. Каналы: {known}",
        "unknown.order": "Заказа {order} нет.",
        "unknown.sku": "Артикул {sku} не найден в остатках 1С.",
        "unknown.command": "Команды /{command} нет. Список команд: /help",
        "stock.many": "«{sku}» — это несколько артикулов: {skus}. Наберите один точно.",
        "status": ("Каналы: {channels}\n1С: {onec}\nНе доставлено сообщений: {undelivered}\nОткрытых задач: {tasks}"),
        "status.paused": "⏸ {name}",
        "status.running": "▶️ {name}",
        "status.onec_never": "данных ещё не было",
        "status.queued": " ({count} в очереди)",
        "status.failing": " ⚠️ {count} подряд",
        "status.onec_at": "последнее обновление {at}",
        "stock": "{sku}: доступно {available}, на складах {on_hand}, в резерве {reserved}\n{warehouses}\n{channels}",
        "stock.warehouse": "• {place}: {on_hand} шт., резерв {reserved}{suspect}{returning}",
        "stock.suspect": " (под сомнением)",
        "stock.kit": "• набор: {components}",
        "stock.channel": "• {name}: {qty}",
        # /order: one order as the office reads it (the history's wordings are in bot/order_history.py)
        "order": (
            "Заказ № {id} — {channel} {number}\nСтатус: {status}{ship_by}\n{lines}\nДеньги: {money}\n"
            "История:\n{history}"
        ),
        "order.ship_by": "\nОтгрузить до {ship_by} (срок маркетплейса)",
        "order.line": "• {sku} × {qty}: {status}{warehouse}",
        "order.warehouse": ", склад {warehouse}",
        "order.event": "• {at} {said}",
        "order.earlier": "• …и ещё {count} раньше",
        "order.unknown": "Заказа «{order}» нет ни под нашим номером, ни под номером в каналах: {channels}.",
        "order.many": "По «{order}» нашлось несколько заказов:\n{found}",
        "order.found": "• № {id} — {channel} {number}, {status}: /order {name} {number}",
        "order.found_more": "…и ещё {count}.",
        "order.money": "{total}; оплата: {paid}; нужна: {requires}{hold}",
        "order.money_no_total": "сумма не указана; оплата: {paid}; нужна: {requires}{hold}",
        "order.money_hold": "; отгрузка задержана",
        "order.money_hold_fraud_check": "; отгрузка задержана до проверки звонком",
        "order.unpaid": "не было",
        "order.status.reserved": "зарезервирован",
        "order.status.awaiting_store_confirmation": "ждёт ответа магазина",
        "order.status.partially_reserved": "зарезервирован частично",
        "order.status.out_of_stock": "нет в наличии",
        "order.status.cancelled": "отменён",
        "order.status.unfulfillable": "ни один магазин не подтвердил",
        "order.status.other": "в обработке",
        "order.phase.initiated": "начата",
        "order.phase.3ds": "проверка 3-D Secure",
        "order.phase.authorized": "авторизована",
        "order.phase.cleared": "списана",
        "order.phase.failed": "не прошла",
        "order.phase.refunded": "возвращена",
        "order.phase.other": "в обработке",
        "tasks.none": "Открытых задач нет.",
        "tasks.more": "…и ещё {more}.",
        "paused": "Выгрузка в канал «{title}» остановлена. Изменения копятся и уйдут после /resume {name}.",
        "resumed": "Выгрузка в канал «{title}» возобновлена.",
        "sync": "Полная сверка запрошена: {names}.",
        "alert.title": "⚠️ {title}",
        "alert.count": "Повторилось {times}: {span}",
        "alert.resolved": "✅ Снова в порядке. Было: {title}\n{span}, повторилось {times}",
        "alert.resolved_once": "✅ Снова в порядке. Было: {title}\n{span}",
        "alert.store_cascade_exhausted": "Ни один магазин не подтвердил товар {sku} × {qty} для заказа {order}",
        "alert.onec_silent": "1С молчит {minutes} (последнее обновление {last_update})",
        "alert.onec_silent_hours": ("1С молчит {minutes} в рабочее время {hours} (последнее обновление {last_update})"),
        "alert.fx_feed_down": "Курсы ЦБ недоступны: {reason}. Используем последний известный курс.",
        "alert.task_escalated": "Решать владельцу: {task}{about} — {why}",
        "alert.about_order": ", заказ {order}",
        "alert.sync_failing": "Выгрузка в канал «{channel}» не проходит ({failures} подряд): {reason}",
        "alert.sku_rejected": "{channel} не принимает остаток артикула {sku}: {reason}",
        "alert.price_sync_failing": "Цены в канал «{channel}» не выгружаются ({failures} подряд): {reason}",
        "alert.onec_pull_failing": "Не удаётся прочитать остатки и цены из 1С (OData): {reason}",
        "alert.price_rejected": "{channel} не принимает цену артикула {sku}: {reason}",
        "alert.price_drift": (
            "В канале «{channel}» цены не совпадают с нашими: {articles}. Например, {sku}: там {shown}, у нас {ours}. "
            "Наши цены отправлены снова, кроме ждущих решения менеджеров."
        ),
        "option.approve": "Выгрузить новые цены",
        "option.reject": "Оставить старые",
        "price.title": "🏷 Цены «{price_type}» из 1С упали сильнее порога: {lines} на {skus}",
        "price.line": "• {sku} в канале «{channel}»: {shown} → {new} (−{drop})",
        "price.line_new": "• {sku} в канале «{channel}»: новая цена {new}",
        "price.floor": " (ниже минимума {floor})",
        "price.more": "…и ещё {more}",
        "price.body": "Пока не решите, каналы показывают старые цены. Ответьте до {deadline}",
        "price.escalated": "Передано владельцу ({why})",
        "price.why.timeout": "менеджеры не ответили вовремя",
        "alert.shipment_refused": "СДЭК не принял заказ {order}: {reason}",
        "alert.carrier_failing": "СДЭК не отвечает ({failures} подряд): {reason}",
        "alert.stock_negative": "1С показывает {sku} на складе {warehouse}: {on_hand} шт., а обещано {reserved}",
        "alert.onec_totals_unplaced": (
            "1С прислала остатки без склада: {offers} (например, {example}) не разнесены — "
            "укажите склад в [onec] totals_warehouse"
        ),
        "alert.other": "Сбой, о котором нет отдельного текста: подробности в журнале сервиса",
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
        "why.timeout": "менеджеры не ответили вовремя",
        "why.no_answer": "клиент не ответил на звонки",
        "why.ship_by": "срок отгрузки маркетплейса уже близко",
        "why.other": "менеджеры не решили",
        "task.kind.store_confirmation": "вопрос магазину",
        "task.kind.fraud_check": "проверка звонком",
        "task.kind.fx_approval": "решение по курсу валюты",
        "task.kind.alert": "сбой",
        "task.kind.unfillable_order": "заказ, которого нет в наличии",
        "task.kind.return_receipt": "приёмка возврата",
        "task.kind.price_approval": "снижение цен",
        "task.kind.other": "задача",
        "task.other": "{task}: {subject}",
        "action.ready_to_ship": "готов к отгрузке",
        "action.cancel_unfillable": "отмену",
        "action.ask_unfillable": "вопрос менеджерам",
        "action.other": "действие",
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
        "option.request_topup": "Запросить доплату",
        "task.kind.earmark_shortfall": "нехватка резерва",
        "earmark.title": "💰 Не хватает резерва «{purpose}»: заказ {order}",
        "earmark.body": (
            "Платёж {payee}: {amount} ({amount_rub}) до {due}\nВ резерве {available}, не хватает {shortfall}\n"
            "Ответьте до {deadline}"
        ),
        "earmark.escalated": "Менеджеры не решили вовремя",
        "earmark.purpose.goods": "товар",
        "earmark.purpose.logistics": "логистика",
        "earmark.purpose.customs": "таможня",
        "earmark.purpose.warehouse": "склад",
        "earmark.purpose.marketplace": "доставка на маркетплейс",
        "reason.covered": "клиент доплатил",
        "task.kind.purchase_not_started": "оплата без закупки",
        "task.kind.refund_shortfall": "возврат не покрыт резервами",
        "option.started": "Закупка идёт",
        "option.refund": "Вернуть деньги",
        "purchase.title": "🛒 Заказ {order}: деньги клиента пришли, закупки нет",
        "purchase.body": (
            "На счёте заказа {credited}, оплата с {since}\nТовар не оплачен поставщику\nОтветьте до {deadline}"
        ),
        "purchase.escalated": "Менеджеры не ответили вовремя",
        "reason.purchase_started": "закупка началась",
        "refund_short.title": "↩️ Возврат по заказу {order} не покрыт: {shortfall}",
        "refund_short.body": (
            "Клиенту возвращено {refunded}, со счёта заказа снято {taken}\n"
            "{shortfall} уже выплачено поставщику или перевозчику\nОтветьте до {deadline}"
        ),
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
        "option.cancel": "Отменить заказ",
        "option.wait": "Ждать поставку",
        "unfillable.title": "🚫 Заказ {order} ({channel}): товара нет нигде",
        "unfillable.line": "• {sku} × {qty}",
        "unfillable.body": (
            "Нет ни на складе, ни в магазинах. Отменить заказ на маркетплейсе или ждать поставку "
            "(спросим снова)? Ответьте до {deadline}"
        ),
        "unfillable.again": "Спрашиваем снова ({attempt}-й раз)",
        "unfillable.escalated": "Передано владельцу ({why})",
        "unfillable.why.timeout": "менеджеры не ответили вовремя",
        "unfillable.why.ship_by": "срок отгрузки маркетплейса уже близко",
        "unfillable.ship_by": "Маркетплейс ждёт отгрузку до {ship_by}",
        "unfillable.wait": "«Ждать» — спросим снова {again}; знаете день поставки — /wait {order} ДД.ММ",
        "unfillable.wait_past": "⚠️ Это уже после срока маркетплейса",
        "alert.unfillable_ship_by_near": (
            "Заказ {order} ({channel}): товара нет нигде, а отгрузить его нужно до {ship_by} — решать владельцу"
        ),
        "alert.order_action_refused": "{channel} не принял «{action}» по заказу {order}: {reason}",
        "cmd.return": "Возврат по заказу",
        "usage.return": "Укажите заказ и артикул: /return SO-1001 КР-7/2",
        "cmd.wait": "Ждать поставку до дня",
        "usage.wait": "Укажите заказ и день поставки: /wait 5000001 05.12",
        "wait.bad_date": "«{date}» — не день после сегодняшнего. Пример: /wait 5000001 05.12",
        "wait.nothing": "По заказу {order} нет вопроса о товаре, которого нет. Ничего не изменено.",
        "wait.set": "Заказ {order}: ждём поставку, спросим снова {when}.",
        "unknown.return_sku": "В заказе {order} нет артикула {sku}. Ничего не изменено.",
        "return.not_shipped": "Артикул {sku} заказа {order} не отгружался ни с одного склада — возвращать нечего.",
        "return.announced": "Возврат {sku} × {qty} по заказу {order}: {asked}. Состояние: {state}.",
        "return.asked_slack": "склад {warehouse} отметит в Slack, что пришло",
        "return.asked_managers": "склад {warehouse} без Slack — задача у менеджеров (/tasks)",
        "return.state.announced": "ждём посылку",
        "return.state.sellable": "пришёл, можно продавать (ждём в остатках 1С)",
        "return.state.restocked": "пришёл, добавлен в остаток",
        "return.state.defective": "пришёл с браком",
        "return.state.not_received": "не пришёл",
        "return.title": "📦 Возврат по заказу {order}: {sku} × {qty}",
        "return.body": "Склад: {warehouse}. Когда посылка придёт, отметьте, в каком виде товар.",
        "payment_unknown.title": "💳 Оплата заказа {order} не подтверждена: {amount}",
        "payment_unknown.body": (
            "Платёж {payment}: оплата {phase}, дальше ничего с {since}.\n"
            "Проверьте его в кабинете платёжного шлюза до {deadline}."
        ),
        "payment_unknown.said": "Шлюз при последнем запросе: {status}",
        "payment_unknown.silent": "Шлюз не ответил на последний запрос статуса",
        "gateway_status.pending": "ждёт оплаты",
        "gateway_status.waiting_for_capture": "деньги заблокированы, ждут списания",
        "gateway_status.succeeded": "оплачен",
        "gateway_status.canceled": "отменён",
        "gateway_status.other": "статус не распознан",
        "task.kind.payment_unknown": "неподтверждённая оплата",
        "option.checked": "Проверено",
        "option.sellable": "Пришёл, можно продавать",
        "option.defective": "Пришёл, брак",
        "option.not_received": "Не пришёл",
        "stock.returning": ", ожидается возврат {qty}",
        "alert.return_defective": "Возврат с браком: заказ {order}, {sku} × {qty} (склад {warehouse}). Спишите в 1С.",
        "alert.return_not_received": "Возврат не пришёл: заказ {order}, {sku} × {qty} (склад {warehouse}).",
    },
    "en": {
        "refused": "Access denied.",
        "help": (
            "Commands:\n/status — channels, 1C, queue, tasks\n/stock <article> — stock\n"
            "/order <number> — an order and its history (ours, the channel's or a phone)\n"
            "/tasks — open tasks with buttons\n"
            "/pause <channel>, /resume <channel> — stop/restart pushing to a channel\n/sync [channel] — full sync\n"
            "/report [yesterday | YYYY-MM-DD] — a day's report with a chart\n"
            "/return <order> <article> — a return: the warehouse says what arrived\n"
            "/wait <order> <DD.MM> — wait for the delivery of missing goods until that day\n/help — this help"
        ),
        "cmd.status": "Status",
        "cmd.stock": "Stock of an article",
        "cmd.order": "An order and its history",
        "cmd.tasks": "Open tasks",
        "cmd.pause": "Stop pushing to a channel",
        "cmd.resume": "Resume pushing",
        "cmd.sync": "Full sync",
        "cmd.report": "A day's report",
        "cmd.help": "Help",
        "usage.stock": "Give an article: /stock КР-7/2",
        "usage.order": (
            "Give an order number — ours or the channel's — or the client's phone: /order 12, "
            "/order ozon 0123456789-0001-1, /order +79161234567"
        ),
        "usage.report": "Today so far: /report, yesterday: /report yesterday, a day: /report 2026-11-20",
        "usage.channel": "Give a channel: /{command} {example}. Channels: {known}",
        "unknown.channel": "There is no channel “{name}”. Channels: {known}",
        "unknown.order": "There is no order {order}.",
        "unknown.sku": "Article {sku} is not in 1C's stock.",
        "unknown.command": "There is no command /{command}. The commands: /help",
        "stock.many": "“{sku}” is several articles: {skus}. Type one exactly.",
        "status": "Channels: {channels}\n1C: {onec}\nUndelivered messages: {undelivered}\nOpen tasks: {tasks}",
        "status.paused": "⏸ {name}",
        "status.running": "▶️ {name}",
        "status.onec_never": "nothing received yet",
        "status.queued": " ({count} queued)",
        "status.failing": " ⚠️ {count} in a row",
        "status.onec_at": "last update {at}",
        "stock": "{sku}: available {available}, on hand {on_hand}, reserved {reserved}\n{warehouses}\n{channels}",
        "stock.warehouse": "• {place}: {on_hand}, reserved {reserved}{suspect}{returning}",
        "stock.suspect": " (in doubt)",
        "stock.kit": "• a kit of: {components}",
        "stock.channel": "• {name}: {qty}",
        # /order: one order as the office reads it (the history's wordings are in bot/order_history.py)
        "order": (
            "Order № {id} — {channel} {number}\nStatus: {status}{ship_by}\n{lines}\nMoney: {money}\nHistory:\n{history}"
        ),
        "order.ship_by": "\nShip by {ship_by} (the marketplace's deadline)",
        "order.line": "• {sku} × {qty}: {status}{warehouse}",
        "order.warehouse": ", at {warehouse}",
        "order.event": "• {at} {said}",
        "order.earlier": "• …and {count} earlier",
        "order.unknown": "No order “{order}”, neither by our number nor by a channel's number in {channels}.",
        "order.many": "Several orders match “{order}”:\n{found}",
        "order.found": "• № {id} — {channel} {number}, {status}: /order {name} {number}",
        "order.found_more": "…and {count} more.",
        "order.money": "{total}; paid: {paid}; needs: {requires}{hold}",
        "order.money_no_total": "no total given; paid: {paid}; needs: {requires}{hold}",
        "order.money_hold": "; shipping held",
        "order.money_hold_fraud_check": "; shipping held until the call check",
        "order.unpaid": "nothing yet",
        "order.status.reserved": "reserved",
        "order.status.awaiting_store_confirmation": "awaiting a store's answer",
        "order.status.partially_reserved": "partially reserved",
        "order.status.out_of_stock": "out of stock",
        "order.status.cancelled": "cancelled",
        "order.status.unfulfillable": "no store confirmed it",
        "order.status.other": "in progress",
        "order.phase.initiated": "started",
        "order.phase.3ds": "3-D Secure check",
        "order.phase.authorized": "authorised",
        "order.phase.cleared": "cleared",
        "order.phase.failed": "failed",
        "order.phase.refunded": "refunded",
        "order.phase.other": "in progress",
        "tasks.none": "No open tasks.",
        "tasks.more": "…and {more} more.",
        "paused": "Pushing to {title} is paused. Changes accumulate and go out after /resume {name}.",
        "resumed": "Pushing to {title} resumed.",
        "sync": "Full sync requested: {names}.",
        "alert.title": "⚠️ {title}",
        "alert.count": "Repeated {times}: {span}",
        "alert.resolved": "✅ Back to normal. It was: {title}\n{span}, repeated {times}",
        "alert.resolved_once": "✅ Back to normal. It was: {title}\n{span}",
        "alert.store_cascade_exhausted": "No store confirmed {sku} × {qty} for order {order}",
        "alert.onec_silent": "1C has been silent for {minutes} (last update {last_update})",
        "alert.onec_silent_hours": "1C silent for {minutes} of working time {hours} (last update {last_update})",
        "alert.fx_feed_down": "CBR rates unavailable: {reason}. Using the last known rate.",
        "alert.task_escalated": "The owner decides: {task}{about} — {why}",
        "alert.about_order": ", order {order}",
        "alert.sync_failing": "Pushing to {channel} keeps failing ({failures} in a row): {reason}",
        "alert.sku_rejected": "{channel} refuses the stock of {sku}: {reason}",
        "alert.price_sync_failing": "Prices to {channel} keep failing ({failures} in a row): {reason}",
        "alert.onec_pull_failing": "Reading stock and prices from 1C (OData) fails: {reason}",
        "alert.price_rejected": "{channel} refuses the price of {sku}: {reason}",
        "alert.price_drift": (
            "Prices on {channel} differ from ours: {articles}. For example {sku}: {shown} there, {ours} here. "
            "Ours were sent again, except those waiting for the managers' decision."
        ),
        "option.approve": "Send the new prices",
        "option.reject": "Keep the old ones",
        "price.title": "🏷 “{price_type}” prices from 1C fell beyond the threshold: {lines} for {skus}",
        "price.line": "• {sku} on {channel}: {shown} → {new} (−{drop})",
        "price.line_new": "• {sku} on {channel}: new price {new}",
        "price.floor": " (below the minimum {floor})",
        "price.more": "…and {more} more",
        "price.body": "Until you decide, the channels keep the old prices. Answer by {deadline}",
        "price.escalated": "Passed to the owner ({why})",
        "price.why.timeout": "the managers did not answer in time",
        "alert.shipment_refused": "CDEK refused order {order}: {reason}",
        "alert.carrier_failing": "CDEK is not answering ({failures} in a row): {reason}",
        "alert.stock_negative": "1C shows {sku} at {warehouse}: {on_hand} on hand, {reserved} promised",
        "alert.onec_totals_unplaced": (
            "1C sent stock without a warehouse: {offers} (e.g. {example}) not placed — "
            "set the warehouse in [onec] totals_warehouse"
        ),
        "alert.other": "A failure with no text of its own: see the service's log",
        "option.ack": "Got it",
        "option.mute": "Mute 4 h",
        "closed.ack": "Acknowledged — {by}, {at}",
        "closed.mute": "Muted — {by}, {at}",
        "fraud.title": "📞 Call check: order {order} for {total}",
        "fraud.body": "Client: {name}\nPhone: {phone}\nPayer: {payer}\nReasons: {reasons}\nAnswer by {deadline}",
        "fraud.again": "Attempt {attempt}: call after {call_after}",
        "fraud.escalated": "Passed to the owner ({why})",
        "why.timeout": "the managers did not answer in time",
        "why.no_answer": "the client did not answer the calls",
        "why.ship_by": "the marketplace's shipping deadline is near",
        "why.other": "the managers did not decide",
        "task.kind.store_confirmation": "a store's question",
        "task.kind.fraud_check": "a call check",
        "task.kind.fx_approval": "a currency rate decision",
        "task.kind.alert": "a failure",
        "task.kind.unfillable_order": "an order nobody has the goods for",
        "task.kind.return_receipt": "a return's receipt",
        "task.kind.price_approval": "a price drop",
        "task.kind.other": "a task",
        "task.other": "{task}: {subject}",
        "action.ready_to_ship": "ready to ship",
        "action.cancel_unfillable": "the cancellation",
        "action.ask_unfillable": "the managers' question",
        "action.other": "an action",
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
        "option.request_topup": "Ask the client to top up",
        "task.kind.earmark_shortfall": "a reserve shortfall",
        "earmark.title": "💰 The {purpose} reserve is short: order {order}",
        "earmark.body": (
            "Payment to {payee}: {amount} ({amount_rub}) by {due}\nReserved {available}, short by {shortfall}\n"
            "Answer by {deadline}"
        ),
        "earmark.escalated": "The managers did not decide in time",
        "earmark.purpose.goods": "goods",
        "earmark.purpose.logistics": "logistics",
        "earmark.purpose.customs": "customs",
        "earmark.purpose.warehouse": "warehouse",
        "earmark.purpose.marketplace": "marketplace delivery",
        "reason.covered": "the client paid",
        "task.kind.purchase_not_started": "money with no purchase",
        "task.kind.refund_shortfall": "a refund the reserves did not cover",
        "option.started": "Purchase under way",
        "option.refund": "Refund the client",
        "purchase.title": "🛒 Order {order}: the client's money is in, no purchase started",
        "purchase.body": (
            "On the order's account {credited}, paid since {since}\nNo goods paid for\nAnswer by {deadline}"
        ),
        "purchase.escalated": "The managers did not answer in time",
        "reason.purchase_started": "the purchase started",
        "refund_short.title": "↩️ Order {order}: a refund not covered, {shortfall}",
        "refund_short.body": (
            "Refunded to the client {refunded}, taken from the order's account {taken}\n"
            "{shortfall} was already paid to a supplier or a carrier\nAnswer by {deadline}"
        ),
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
        "option.cancel": "Cancel the order",
        "option.wait": "Wait for a delivery",
        "unfillable.title": "🚫 Order {order} ({channel}): nobody has the goods",
        "unfillable.line": "• {sku} × {qty}",
        "unfillable.body": (
            "Neither the warehouse nor a store has it. Cancel the order on the marketplace, or wait for a delivery "
            "(we ask again)? Answer by {deadline}"
        ),
        "unfillable.again": "Asked again (time {attempt})",
        "unfillable.escalated": "Passed to the owner ({why})",
        "unfillable.why.timeout": "the managers did not answer in time",
        "unfillable.why.ship_by": "the marketplace's shipping deadline is near",
        "unfillable.ship_by": "The marketplace wants it shipped by {ship_by}",
        "unfillable.wait": "“Wait” asks again {again}; if you know the delivery day: /wait {order} DD.MM",
        "unfillable.wait_past": "⚠️ That is past the marketplace's deadline",
        "alert.unfillable_ship_by_near": (
            "Order {order} ({channel}): nobody has the goods and it must ship by {ship_by}; the owner decides"
        ),
        "alert.order_action_refused": '{channel} refused "{action}" for order {order}: {reason}',
        "cmd.return": "A return of an order",
        "usage.return": "Give the order and the article: /return SO-1001 КР-7/2",
        "cmd.wait": "Wait for a delivery until a day",
        "usage.wait": "Give the order and the delivery day: /wait 5000001 05.12",
        "wait.bad_date": "“{date}” is not a day after today. Example: /wait 5000001 05.12",
        "wait.nothing": "Order {order} has no question about missing goods. Nothing changed.",
        "wait.set": "Order {order}: waiting for the delivery; we ask again {when}.",
        "unknown.return_sku": "Order {order} has no article {sku}. Nothing changed.",
        "return.not_shipped": "Article {sku} of order {order} never left a warehouse: nothing to return.",
        "return.announced": "Return of {sku} × {qty}, order {order}: {asked}. State: {state}.",
        "return.asked_slack": "warehouse {warehouse} will say in Slack what arrived",
        "return.asked_managers": "warehouse {warehouse} has no Slack: the managers' task (/tasks)",
        "return.state.announced": "waiting for the parcel",
        "return.state.sellable": "arrived sellable (expected in 1C's stock)",
        "return.state.restocked": "arrived, added to stock",
        "return.state.defective": "arrived defective",
        "return.state.not_received": "did not arrive",
        "return.title": "📦 Return of order {order}: {sku} × {qty}",
        "return.body": "Warehouse: {warehouse}. When the parcel arrives, say what state the goods are in.",
        "payment_unknown.title": "💳 Order {order}: payment not confirmed, {amount}",
        "payment_unknown.body": (
            "Payment {payment}: {phase}, nothing further since {since}.\n"
            "Check it in the payment gateway's dashboard by {deadline}."
        ),
        "payment_unknown.said": "The gateway's last answer: {status}",
        "payment_unknown.silent": "The gateway did not answer the last status request",
        "gateway_status.pending": "waiting for the payer",
        "gateway_status.waiting_for_capture": "money held, waiting for capture",
        "gateway_status.succeeded": "paid",
        "gateway_status.canceled": "cancelled",
        "gateway_status.other": "a status we do not know",
        "task.kind.payment_unknown": "an unconfirmed payment",
        "option.checked": "Checked",
        "option.sellable": "Arrived, sellable",
        "option.defective": "Arrived, defective",
        "option.not_received": "Did not arrive",
        "stock.returning": ", {qty} expected back",
        "alert.return_defective": "Defective return: order {order}, {sku} × {qty} ({warehouse}). Write it off in 1C.",
        "alert.return_not_received": "Return did not arrive: order {order}, {sku} × {qty} ({warehouse}).",
    },
}


def tg(locale: Locale, key: str, /, **values: object) -> str:
    return _TEXTS[locale][key].format(**values)


def has(locale: Locale, key: str) -> bool:
    return key in _TEXTS[locale]


def template(locale: Locale, key: str) -> str:
    """A text with its ``{fields}`` still in, for callers that fill it from a mapping with defaults."""
    return _TEXTS[locale][key]


def keys(locale: Locale) -> set[str]:
    return set(_TEXTS[locale])
