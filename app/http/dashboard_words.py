"""The operator's dashboard's own words — headings, buttons, column names, empty states, the token form — in
Russian (default) and English, by the service's LOCALE. The page keeps none of its own: its shell
(``dashboard.html``) is served with them (:func:`dashboard_shell`), so even the token form, shown before any data,
speaks the service's language. Words the chats already have come from the chats' catalogue (an order's status as
``/order`` says it), so the page and Telegram say the same thing.

``{name}`` in a text is filled in by the page (a count, a time, a duration)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from bot.telegram.texts import keys, tg
from bot.texts import Locale

_WORDS: dict[Locale, dict[str, str]] = {
    "ru": {
        "page_title": "storeops — панель оператора", "loading": "Загрузка…", "needs_js": "Панели нужен JavaScript.",
        "form_title": "Панель оператора storeops",
        "token_prompt": "Введите API_TOKEN сервиса (он в файле {env}). Токен хранится только в этой вкладке.",
        "token_submit": "Войти", "token_refused": "Токен не подошёл (401): введите API_TOKEN ещё раз.",
        "refresh_failed": "Не удалось обновить: {error}", "offline": "нет связи с сервисом",
        "brand": "панель оператора", "updated": "обновлено {at}", "logout": "Выйти",
        "channels": "Каналы", "health_bad": "не отвечает: запросы приостановлены", "health_paused": "на паузе",
        "health_failing": "ошибки при отправке", "health_behind": "очередь отстаёт", "health_ok": "работает",
        "queue": "в очереди {count}", "queue_oldest": "в очереди {count}, старейшему {age}",
        "queue_empty": "очередь пуста", "failures": "ошибок подряд: {count}",
        "onec": "1С: последние остатки {at} ({ago})", "onec_never": "1С: остатков из 1С ещё не было",
        "tasks": "Задачи людей", "tasks_none": "Открытых задач нет.", "task_due": "Срок",
        "task_what": "Что сделать", "task_who": "Кто отвечает", "task_state": "Состояние",
        "overdue": "просрочено на {duration}", "task_open": "ждёт ответа", "task_answered": "отвечена",
        "task_expired": "время вышло", "task_cancelled": "отменена",
        "alerts": "Оповещения", "alerts_none": "Оповещений не было.", "alert_closed": "закрыто",
        "alert_open": "открыто", "alert_since": "с {at} ({ago})", "alert_closed_at": ", закрыто {at}",
        "drift": "Расхождения с каналами", "drift_none": "Сверка расхождений не находила.", "drift_channel": "Канал",
        "drift_when": "Когда", "drift_corrected": "Исправлено SKU",
        "steps": "Заказы: последние события", "steps_none": "Событий по заказам пока не было.", "step_when": "Когда",
        "step_order": "Заказ", "step_what": "Что",
        "unfillable_open": "Открытых вопросов «нет товара»", "returns_awaiting": "Возвратов ждут приёмки",
        "to_move_on": "Ждут передачи площадке", "move_retrying": "из них после сбоя",
        "move_refused": "Площадка отказала",
        "report": "Отчёт владельцу",
        "report_figures": "Сегодня на сейчас: заказов {orders}, отказов из-за нехватки {cancelled}, "
                          "предотвращено продаж без товара {prevented}.",
        "report_today": "Отчёт за сегодня", "report_yesterday": "Отчёт за вчера",
        "search": "Поиск заказа", "search_placeholder": "Номер заказа (наш или канала) или телефон клиента",
        "search_find": "Найти", "search_more": "Ещё", "search_none": "Ничего не нашлось.", "found_order": "Заказ",
        "found_status": "Статус", "found_created": "Создан", "found_total": "Сумма", "found_waiting": "Что дальше",
        "found_history": "История", "search_failed": "Не удалось найти: {error}",
        "seconds": "{n} с", "minutes": "{n} мин", "hours": "{n} ч", "hours_minutes": "{h} ч {m} мин", "days": "{n} д",
        "days_hours": "{d} д {h} ч", "now": "сейчас", "in": "через {duration}", "ago": "{duration} назад",
        "money": "Деньги клиентов: платежи по неделям", "money_week": "Неделя", "money_week_of": "с {day}",
        "money_this_week": "эта неделя, с {day}", "money_due": "К оплате", "money_covered": "Покрыто резервами",
        "money_waiting": "Ждёт решения или доплаты", "money_planned": "Запланировано, ещё не взято",
        "money_payments": "Платежей", "money_unpriced": "без курса ЦБ: {count}",
        "money_overdue": "Просрочено платежей: {count} на {amount}",
        "money_no_weeks": "Платежей на ближайшие недели нет.",
        "money_reserves": "Резервы по всем заказам", "reserve_planned": "По сметам", "reserve_reserved": "Отложено",
        "reserve_drawn": "Потрачено", "reserve_available": "Свободно",
        "reserve_unfunded": "Клиенты ещё не оплатили",
        "reserve_absorbed": "Взяли на себя", "reserve_unallocated": "Не распределено",
        "date_locale": "ru-RU",
    },
    "en": {
        "page_title": "storeops — operator dashboard", "loading": "Loading…",
        "needs_js": "The dashboard needs JavaScript.", "form_title": "storeops operator dashboard",
        "token_prompt": "Enter the service's API_TOKEN (it is in the {env} file). The token is kept in this tab only.",
        "token_submit": "Sign in", "token_refused": "The token was refused (401): enter API_TOKEN again.",
        "refresh_failed": "Could not refresh: {error}", "offline": "no connection to the service",
        "brand": "operator dashboard", "updated": "updated {at}", "logout": "Sign out",
        "channels": "Channels", "health_bad": "not answering: requests paused", "health_paused": "paused",
        "health_failing": "sending fails", "health_behind": "queue falling behind", "health_ok": "working",
        "queue": "{count} queued", "queue_oldest": "{count} queued, the oldest for {age}",
        "queue_empty": "queue empty", "failures": "failures in a row: {count}",
        "onec": "1C: last stock {at} ({ago})", "onec_never": "1C: no stock from 1C yet",
        "tasks": "People's tasks", "tasks_none": "No open tasks.", "task_due": "Due", "task_what": "To do",
        "task_who": "Who answers", "task_state": "State", "overdue": "overdue by {duration}",
        "task_open": "awaiting an answer", "task_answered": "answered", "task_expired": "time ran out",
        "task_cancelled": "cancelled",
        "alerts": "Alerts", "alerts_none": "No alerts so far.", "alert_closed": "closed", "alert_open": "open",
        "alert_since": "since {at} ({ago})", "alert_closed_at": ", closed {at}",
        "drift": "Differences with the channels", "drift_none": "Reconciliation found no differences.",
        "drift_channel": "Channel", "drift_when": "When", "drift_corrected": "SKUs corrected",
        "steps": "Orders: recent events", "steps_none": "No order events yet.", "step_when": "When",
        "step_order": "Order", "step_what": "What",
        "unfillable_open": "Out-of-stock questions open", "returns_awaiting": "Returns awaiting receipt",
        "to_move_on": "Waiting to be moved on", "move_retrying": "of them retrying after a failure",
        "move_refused": "Refused by the marketplace",
        "report": "Owner's report",
        "report_figures": "Today so far: {orders} orders, {cancelled} cancelled for lack of stock, "
                          "{prevented} oversells prevented.",
        "report_today": "Today's report", "report_yesterday": "Yesterday's report",
        "search": "Find an order", "search_placeholder": "Order number (ours or the channel's) or the client's phone",
        "search_find": "Find", "search_more": "More", "search_none": "Nothing found.", "found_order": "Order",
        "found_status": "Status", "found_created": "Created", "found_total": "Total", "found_waiting": "What next",
        "found_history": "History", "search_failed": "Search failed: {error}",
        "seconds": "{n} s", "minutes": "{n} min", "hours": "{n} h", "hours_minutes": "{h} h {m} min", "days": "{n} d",
        "days_hours": "{d} d {h} h", "now": "now", "in": "in {duration}", "ago": "{duration} ago",
        "money": "Clients' money: payments by week", "money_week": "Week", "money_week_of": "from {day}",
        "money_this_week": "this week, from {day}", "money_due": "Due", "money_covered": "Covered by reserves",
        "money_waiting": "Waiting for a decision or a top-up", "money_planned": "Planned, not drawn yet",
        "money_payments": "Payments", "money_unpriced": "with no CBR rate: {count}",
        "money_overdue": "Overdue payments: {count} for {amount}", "money_no_weeks": "No payments in the coming weeks.",
        "money_reserves": "Reserves over all orders", "reserve_planned": "By the estimates",
        "reserve_reserved": "Set aside", "reserve_drawn": "Spent", "reserve_available": "Free",
        "reserve_unfunded": "Clients have yet to pay", "reserve_absorbed": "Absorbed by the shop",
        "reserve_unallocated": "Not assigned",
        "date_locale": "en-GB",
    },
}  # fmt: skip
_STATUS = "order.status."
_MARK = "<!-- words -->"  # where the shell takes its words


def dashboard_words(locale: Locale) -> dict[str, object]:
    """Every word the dashboard shows of its own, in ``locale``; ``statuses``: an order's status as ``/order`` words
    it, by the status."""
    statuses = {key.removeprefix(_STATUS): tg(locale, key) for key in keys(locale) if key.startswith(_STATUS)}
    return {**_WORDS[locale], "statuses": statuses}


def words_keys(locale: Locale) -> set[str]:
    return set(_WORDS[locale])


def dashboard_shell(page: Path, locale: Locale) -> str:
    """``dashboard.html`` in ``locale``: its language, title and first texts, and the words for the page's script
    (JSON in a ``<script type="application/json">``, ``<`` escaped so no text can close it)."""
    words = _WORDS[locale]
    blob = json.dumps(dashboard_words(locale), ensure_ascii=False).replace("<", "\\u003c")
    return (
        page.read_text(encoding="utf-8")
        .replace('<html lang="ru">', f'<html lang="{locale}">')
        .replace("{page_title}", html.escape(words["page_title"]))
        .replace("{loading}", html.escape(words["loading"]))
        .replace("{needs_js}", html.escape(words["needs_js"]))
        .replace(_MARK, f'<script type="application/json" id="words">{blob}</script>')
    )
