"""kill -9 of the instance posting a store question, while Slack holds ``chat.postMessage`` open.

Slack takes the question (it is in the channel) but its answer is held; the instance that sent it — the notice's
``lease_owner`` — is killed with SIGKILL before its Slack timeout, so nobody heard Slack's ``ts``. The other instance
claims the notice once its lease has run out, sees the earlier attempt, reads the channel's history for the message
whose metadata names the task (docs/decisions.md, 68) and takes that message over instead of posting again.
Afterwards the task has exactly one message in Slack, live, and ``chat.postMessage`` was called once for it.
Measured: kill → the question taken over (``taken_over_s``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults import figures
from tests.faults.books import assert_books
from tests.faults.world import STORE_CHANNELS, STORE_SKU, until, world

pytestmark = pytest.mark.faults


async def test_kill_mid_post(shop_database: str, tmp_path: Path) -> None:
    async with world(tmp_path, shop_database) as w:
        await w.start("a", "b")
        await w.seed()
        slack = w.outside.slack
        slack.hold_answers("chat.postMessage")
        await w.order("post-1", [(STORE_SKU, 1)])

        async def posting() -> str | None:
            if not slack.answers_held:
                return None
            owner = await w.db.fetchval(
                "SELECT lease_owner FROM notices WHERE topic = 'store_question' AND delivered_at IS NULL"
            )
            return None if owner is None else str(owner)

        owner = await until(posting, "a question posted and its answer held", patience=30, step=0.01)
        victim = await w.name_of(owner)
        killed = w.kill(victim)
        slack.release_answers()
        task = await w.db.fetchval("SELECT id FROM tasks WHERE kind = 'store_confirmation'")
        channel = STORE_CHANNELS["north"]
        assert len(slack.questions(channel, task)) == 1, "Slack took the question"

        async def taken_over() -> tuple[float, str] | None:
            row = await w.db.fetchrow(
                "SELECT delivered_at, lease_owner FROM notices WHERE topic = 'store_question'",
            )
            if row is None or row["delivered_at"] is None:
                return None
            return time.monotonic() - killed, str(row["lease_owner"])

        taken_s, by = await until(taken_over, "the question's notice delivered by the other instance", patience=60,
                                  explain=w.explain)  # fmt: skip
        assert by != owner
        shown = slack.questions(channel, task)
        assert len(shown) == 1 and shown[0]["live"], shown
        posts = [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == channel]
        assert len(posts) == 1, "posted once: the second attempt took the first message over"
        assert slack.calls("conversations.history"), "the history was read before posting again"
        stored = await w.db.fetch("SELECT message_id FROM task_messages WHERE task_id = $1", task)
        assert [r["message_id"] for r in stored] == [shown[0]["ts"]]
        await assert_books(w)
        figures.record("kill -9 mid-post (Slack holds the answer)", victim=victim, taken_over_by=by.split("/")[0],
                       taken_over_s=taken_s)  # fmt: skip
