"""Block Kit for a store's question and for its closed state. Each button carries
``action_id = "task:<option>"`` (a return receipt's: ``"return:<option>"``) and ``value = "<task_id>"``, as
:mod:`bot.slack.app` reads a click."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.texts import Locale, text
from workflows.payloads import ReturnReceipt, StoreQuestion
from workflows.tasks import Task, TaskState
from workflows.vocabulary import TaskKind

_STYLE = {"available": "primary", "missing": "danger", "sellable": "primary"}


def escape(value: object) -> str:
    """``value`` as literal mrkdwn text (Slack's rule: ``&``, ``<``, ``>``), so an order number or SKU
    cannot mention ``<!channel>`` or pass off a link ``<http://…|ok>`` to store staff."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def local_time(moment: datetime, timezone: str) -> str:
    """A moment as a store reads it: its local hour and minute, the seconds dropped (floored, never rounded up).
    The one rule for every time in a store's messages."""
    return moment.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0).strftime("%H:%M")


def answer_by(task: Task, timezone: str) -> str:
    """The task's deadline as the question, its reminder and its closed state all state it."""
    return local_time(task.deadline, timezone)


def question(task: Task, locale: Locale, timezone: str) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and the blocks of an open store question (or return receipt)."""
    if task.kind == TaskKind.RETURN_RECEIPT:
        return return_receipt(task, locale)
    q = StoreQuestion.from_payload(task.payload)
    size = text(locale, "question.size", size=escape(q.size)) if q.size else ""
    title = text(locale, "question.title", order=escape(q.external_id))
    item = text(locale, "question.item", item=escape(q.name or q.sku), sku=escape(q.sku), size=size, qty=escape(q.qty))
    deadline = text(locale, "question.deadline", deadline=answer_by(task, timezone))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{item}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": deadline}]},
        {"type": "actions", "block_id": f"task:{task.id}", "elements": _buttons(task, locale, "task", "option")},
    ]
    return f"{title}: {escape(q.sku)} × {escape(q.qty)}", blocks


def return_receipt(task: Task, locale: Locale) -> tuple[str, list[dict[str, Any]]]:
    """A return on its way to the store: what to say when the parcel arrives."""
    r = ReturnReceipt.from_payload(task.payload)
    title = text(locale, "return.title", order=escape(r.external_id or r.order_id))
    item = text(locale, "return.item", sku=escape(r.sku), qty=escape(r.qty))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{item}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": text(locale, "return.when")}]},
        {"type": "actions", "block_id": f"task:{task.id}", "elements": _buttons(task, locale, "return", "return")},
    ]
    return f"{title}: {escape(r.sku)} × {escape(r.qty)}", blocks


def _buttons(task: Task, locale: Locale, action: str, texts: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "button",
            "action_id": f"{action}:{option}",
            "value": str(task.id),
            "text": {"type": "plain_text", "text": text(locale, f"{texts}.{option}")},
            **({"style": _STYLE[option]} if option in _STYLE else {}),
        }
        for option in task.options
    ]


def reminder(task: Task, locale: Locale, timezone: str) -> str:
    """The nudge in the question's thread, half-way to the deadline."""
    order = StoreQuestion.from_payload(task.payload).external_id
    return text(locale, "reminder", order=escape(order), deadline=answer_by(task, timezone))


def closed(task: Task, locale: Locale, timezone: str) -> tuple[str, list[dict[str, Any]]]:
    """The same question with its outcome in place of the buttons: who answered and when it was closed; a question
    that ran out says the deadline it stated, however late the timeout was handled."""
    fallback, blocks = question(task, locale, timezone)
    at = local_time(task.closed_at or task.deadline, timezone)
    if task.state == TaskState.ANSWERED and task.kind == TaskKind.RETURN_RECEIPT:
        outcome = text(locale, f"return.closed.{task.answer}", by=escape(task.answered_by), at=at)
    elif task.state == TaskState.ANSWERED:
        outcome = text(locale, f"closed.{task.answer}", by=escape(task.answered_by), at=at)
    elif task.state == TaskState.EXPIRED:
        outcome = text(locale, "closed.timeout", at=answer_by(task, timezone))
    else:
        outcome = text(locale, "closed.cancelled", at=at)
    return f"{fallback} — {outcome}", [
        blocks[0],
        {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]},
    ]


QUESTION_EVENT = "storeops_task"  # the message metadata's event type on every question posted to a store
REMINDER_EVENT = "storeops_reminder"  # ... and on every reminder posted in a question's thread


def question_metadata(task_id: int) -> dict[str, Any]:
    """The message metadata a question is posted with, so that a post whose answer we never heard is found again."""
    return {"event_type": QUESTION_EVENT, "event_payload": {"task_id": task_id}}


def reminder_metadata(task_id: int, notice_id: int) -> dict[str, Any]:
    """The message metadata a reminder is posted with: a reminder whose post we never heard of is found in its
    thread, not posted twice."""
    return {"event_type": REMINDER_EVENT, "event_payload": {"task_id": task_id, "notice_id": notice_id}}


def shows_reminder(message: dict[str, Any], notice_id: int) -> bool:
    """Whether a message of a question's thread (read with ``include_all_metadata``) is the reminder of
    ``notice_id``."""
    return _carries(message, REMINDER_EVENT, "notice_id", notice_id)


def shows_question(message: dict[str, Any], task_id: int) -> bool:
    """Whether a message of a channel's history (read with ``include_all_metadata``) is the question of
    ``task_id``."""
    return _carries(message, QUESTION_EVENT, "task_id", task_id)


def _carries(message: dict[str, Any], event_type: str, key: str, value: int) -> bool:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != event_type:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and str(payload.get(key)) == str(value)
