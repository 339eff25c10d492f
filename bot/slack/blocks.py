"""Block Kit for a store's question and for its closed state. Each button carries
``action_id = "task:<option>"`` and ``value = "<task_id>"``, as :mod:`bot.slack.app` reads a click."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.texts import Locale, text
from workflows.payloads import StoreQuestion
from workflows.tasks import Task, TaskState

_STYLE = {"available": "primary", "missing": "danger"}


def escape(value: object) -> str:
    """``value`` as literal mrkdwn text (Slack's rule: ``&``, ``<``, ``>``), so an order number or SKU
    cannot mention ``<!channel>`` or pass off a link ``<http://…|ok>`` to store staff."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def local_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def question(task: Task, locale: Locale, timezone: str) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text and the blocks of an open store question."""
    q = StoreQuestion.from_payload(task.payload)
    size = text(locale, "question.size", size=escape(q.size)) if q.size else ""
    title = text(locale, "question.title", order=escape(q.external_id))
    item = text(locale, "question.item", item=escape(q.name or q.sku), sku=escape(q.sku), size=size, qty=escape(q.qty))
    deadline = text(locale, "question.deadline", deadline=local_time(task.deadline, timezone))
    buttons = [
        {
            "type": "button",
            "action_id": f"task:{option}",
            "value": str(task.id),
            "text": {"type": "plain_text", "text": text(locale, f"option.{option}")},
            **({"style": _STYLE[option]} if option in _STYLE else {}),
        }
        for option in task.options
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{item}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": deadline}]},
        {"type": "actions", "block_id": f"task:{task.id}", "elements": buttons},
    ]
    return f"{title}: {escape(q.sku)} × {escape(q.qty)}", blocks


def closed(task: Task, locale: Locale, timezone: str) -> tuple[str, list[dict[str, Any]]]:
    """The same question with its outcome in place of the buttons."""
    fallback, blocks = question(task, locale, timezone)
    at = local_time(task.closed_at or task.deadline, timezone)
    if task.state == TaskState.ANSWERED:
        outcome = text(locale, f"closed.{task.answer}", by=escape(task.answered_by), at=at)
    elif task.state == TaskState.EXPIRED:
        outcome = text(locale, "closed.timeout", at=at)
    else:
        outcome = text(locale, "closed.cancelled", at=at)
    return f"{fallback} — {outcome}", [
        blocks[0],
        {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]},
    ]
