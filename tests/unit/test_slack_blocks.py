"""What a store's Slack question shows: text from orders and the catalogue is shown as it is, never
read as Slack mrkdwn (no mentions, no disguised links); one deadline, stated the same everywhere."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from bot.slack import blocks
from bot.slack.delivery import SlackDelivery
from tests.fakes import FakeClock
from workflows.payloads import StoreQuestion
from workflows.task_model import Task, TaskState

HOSTILE = StoreQuestion(
    7, "<!channel> SO-7", "site", 1, "<http://evil.example|KR-7>", 2, "s1",
    name="Lamp & <@U0BOSS>", size="<!here>",
)  # fmt: skip
AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
MSK = "Europe/Moscow"


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
    reminder = blocks.reminder(_task(), "en", "UTC")
    assert "<!channel>" not in reminder and "&lt;!channel&gt; SO-7" in reminder


def _stated_times(fallback: str, shown: list[dict[str, object]]) -> set[str]:
    return set(re.findall(r"\d\d:\d\d", _rendered(fallback, shown)))


def test_the_question_its_reminder_and_its_timeout_state_one_deadline() -> None:
    """A deadline at 15:02:59.9 is "15:02" everywhere (the seconds dropped), however late the timeout fired."""
    deadline = datetime(2026, 12, 3, 12, 2, 59, 900_000, tzinfo=UTC)  # 15:02:59.9 in Moscow
    task = _task(deadline=deadline, created_at=deadline - timedelta(minutes=20))
    assert _stated_times(*blocks.question(task, "ru", MSK)) == {"15:02"}
    assert "до 15:02." in blocks.reminder(task, "ru", MSK)
    expired = replace(task, state=TaskState.EXPIRED, closed_at=deadline + timedelta(minutes=7, seconds=1))
    fallback, shown = blocks.closed(expired, "ru", MSK)
    assert _stated_times(fallback, shown) == {"15:02"}
    assert "Ответа не было до 15:02" in fallback


def test_the_closed_question_says_when_it_was_answered() -> None:
    asked = datetime(2026, 12, 3, 11, 42, 30, tzinfo=UTC)  # 14:42:30 in Moscow
    task = _task(deadline=asked + timedelta(minutes=20), created_at=asked)
    answered = replace(task, state=TaskState.ANSWERED, answer="available", answered_by="U1",
                       closed_at=asked + timedelta(minutes=9, seconds=45))  # fmt: skip
    fallback, shown = blocks.closed(answered, "en", MSK)
    assert _stated_times(fallback, shown) == {"14:52"}  # not when it was asked, nor its deadline
    cancelled = replace(task, state=TaskState.CANCELLED, closed_at=asked + timedelta(minutes=3))
    assert "14:45" in blocks.closed(cancelled, "en", MSK)[0]


def test_a_reminder_is_dropped_once_its_question_closed_or_ran_out() -> None:
    clock = FakeClock(AT - timedelta(minutes=10))
    delivery = SlackDelivery(cast(Any, None), cast(Any, None), cast(Any, None), clock, "ru")
    assert delivery._still_due(_task())
    assert not delivery._still_due(_task(state=TaskState.ANSWERED))
    clock.advance(minutes=10)  # the deadline itself: too late to ask for an answer by it
    assert not delivery._still_due(_task())
