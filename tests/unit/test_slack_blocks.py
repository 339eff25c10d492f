"""What a store's Slack question shows: text from orders and the catalogue is shown as it is, never
read as Slack mrkdwn (no mentions, no disguised links)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from bot.slack import blocks
from bot.slack.delivery import SlackDelivery
from workflows.payloads import StoreQuestion
from workflows.task_model import Task, TaskState

HOSTILE = StoreQuestion(
    7, "<!channel> SO-7", "site", 1, "<http://evil.example|KR-7>", 2, "s1",
    name="Lamp & <@U0BOSS>", size="<!here>",
)  # fmt: skip
AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _task(**changes: object) -> Task:
    task = Task(
        7, "store_confirmation", "order:7:line:1", "store:s1", ("available", "missing"), AT, AT,
        payload=HOSTILE.to_payload(),
    )  # fmt: skip
    return replace(task, **changes)  # type: ignore[arg-type]


def _rendered(fallback: str, shown: list[dict[str, object]]) -> str:
    return fallback + json.dumps(shown, ensure_ascii=False)


def test_order_and_item_text_is_escaped_in_the_question() -> None:
    seen = _rendered(*blocks.question(_task(), "en", "UTC"))
    for raw in ("<!channel>", "<http://evil.example|KR-7>", "<@U0BOSS>", "<!here>", "Lamp & "):
        assert raw not in seen
    assert "&lt;!channel&gt; SO-7" in seen
    assert "&lt;http://evil.example|KR-7&gt;" in seen
    assert "Lamp &amp; &lt;@U0BOSS&gt;" in seen


def test_the_closed_question_is_escaped_too() -> None:
    task = _task(state=TaskState.ANSWERED, answer="available", answered_by="U1> <!channel", closed_at=AT)
    seen = _rendered(*blocks.closed(task, "en", "UTC"))
    assert "<!channel" not in seen and "<http://evil" not in seen
    assert "<@U1&gt; &lt;!channel>" in seen


def test_the_reminder_in_the_thread_is_escaped() -> None:
    delivery = SlackDelivery(cast(Any, None), cast(Any, None), cast(Any, None), cast(Any, None), "en")
    reminder = delivery._reminder(_task(), "UTC")
    assert "<!channel>" not in reminder and "&lt;!channel&gt; SO-7" in reminder
