"""Outside systems down under running instances, and on instances that start while they are down.

* A channel that hangs (Ozon: its gate holds every connection, nothing answers) while stock changes and orders
  come: the other channels keep up meanwhile; once it answers again it gets every last value.
* Slack refusing connections while a store question is due, then back: the question is posted once.
* Slack hanging: nothing reaches it, then back: the question is in the channel once, live.
* Slack taking the post and never answering (the caller times out after ``SLACK_TIMEOUT_S``): the next attempt
  finds the message in the channel's history and takes it over; the question is live once while Slack still hangs.
* Both at once on freshly started instances: Slack refusing and Wildberries hanging before the instances start (the
  cards they learn first, the Slack identity they ask for); they start, take orders and 1C's stock, and catch up
  once both answer again.

Measured: the system back → it holds every last value (a channel) or the question is live (Slack)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults import figures
from tests.faults.books import (
    assert_books,
    channel_gaps,
    channels_hold_last_values,
    channels_recovered,
    store_notices_delivered,
)
from tests.faults.world import PUSHED, SCARCE, STORE_CHANNELS, STORE_SKU, NotYet, World, until, world

pytestmark = pytest.mark.faults

OTHERS_THAN_OZON = ("site", "wildberries", "yandex_market")


async def _failed_on(w: World, channel: str) -> bool | None:
    """A push to ``channel`` has failed (and waits for its next attempt)."""
    failed = await w.db.fetchval(
        "SELECT count(*) FROM stock_pushes WHERE channel = $1 AND last_error IS NOT NULL", channel
    )
    return True if failed else None


async def _timed_out(w: World, channel: str) -> bool | None:
    """A push to ``channel`` behind its hung gate was given up by the service (its timeout) and waits to go again."""
    return True if w.outside.gates[channel].gave_up and await _failed_on(w, channel) else None


async def _question_live(w: World, store: str = "north") -> bool | None:
    task = await w.db.fetchval("SELECT max(id) FROM tasks WHERE kind = 'store_confirmation'")
    shown = [] if task is None else w.outside.slack.questions(STORE_CHANNELS[store], task)
    if len(shown) > 1:
        raise AssertionError(f"task {task}'s question is in Slack {len(shown)} times: {shown}")
    return True if shown and shown[0]["live"] else None


async def _attempted(w: World, times: int = 1) -> bool | None:
    """The question's notice was tried (and is not delivered)."""
    row = await w.db.fetchrow(
        "SELECT attempted_at, delivered_at FROM notices WHERE topic = 'store_question' ORDER BY id DESC LIMIT 1"
    )
    if row is None or row["attempted_at"] is None:
        return None
    assert row["delivered_at"] is None, "delivered while Slack was down"
    return True


def _posts(w: World, store: str = "north") -> int:
    channel = STORE_CHANNELS[store]
    return len([c for c in w.outside.slack.calls("chat.postMessage") if c.params.get("channel") == channel])


async def test_channel_hangs_and_recovers(shop_database: str, tmp_path: Path) -> None:
    async with world(tmp_path, shop_database) as w:
        await w.start("a", "b")
        await w.seed()
        await until(lambda: channels_hold_last_values(w), "the opening stock on every channel", patience=120)
        gate = w.outside.gates["ozon"]
        await gate.hang()
        hung = time.monotonic()
        for n in range(6):
            await w.stock([(sku, "online", 40 + n) for sku in PUSHED[:5]], prefer="ab"[n % 2])
            await w.order(f"hang-{n}", [(SCARCE[n % len(SCARCE)], 1)], prefer="ba"[n % 2])
        others = await channels_recovered(w, hung, patience=60, channels=OTHERS_THAN_OZON)
        await until(lambda: _timed_out(w, "ozon"), "a push to the hung Ozon timed out", patience=60)
        assert await channel_gaps(w, OTHERS_THAN_OZON) == [], "the other channels kept up while Ozon hung"
        hung_s = time.monotonic() - hung
        await gate.recover()
        recovered = time.monotonic()
        ozon = await channels_recovered(w, recovered, patience=180, channels=("ozon",))
        await assert_books(w)
        figures.record("Ozon hangs, then answers", hung_s=hung_s, others_kept_up_s=others,
                       ozon_after_recovery_s=ozon["ozon"])  # fmt: skip


async def test_slack_refusing_then_back(shop_database: str, tmp_path: Path) -> None:
    async with world(tmp_path, shop_database) as w:
        await w.start("a", "b")
        await w.seed()
        gate = w.outside.gates["slack"]
        await gate.refuse()
        await w.order("refused-1", [(STORE_SKU, 1)])
        await until(lambda: _attempted(w), "the question tried while Slack refuses", patience=30)
        await gate.recover()
        back = time.monotonic()
        await until(lambda: _question_live(w), "the question live in Slack", patience=60, explain=w.explain)
        posted_s = time.monotonic() - back
        await until(lambda: store_notices_delivered(w), "every store notice delivered", patience=30)
        assert _posts(w) == 1
        await assert_books(w)
        figures.record("Slack refusing, then back", question_after_recovery_s=posted_s)


async def test_slack_hanging_then_back(shop_database: str, tmp_path: Path) -> None:
    """Nothing reaches Slack: the question waits, and is posted once when Slack answers again."""
    async with world(tmp_path, shop_database) as w:
        await w.start("a", "b")
        await w.seed()
        gate = w.outside.gates["slack"]
        await gate.hang()
        await w.order("hung-1", [(STORE_SKU, 1)])
        await until(lambda: _attempted(w), "the question tried while Slack hangs", patience=30)

        async def gave_up() -> bool | None:  # the sender timed out (SLACK_TIMEOUT_S) and closed its connection
            return True if gate.gave_up else None

        await until(gave_up, "the sender gave up on the hung Slack", patience=30)
        await gate.recover()
        back = time.monotonic()
        await until(lambda: _question_live(w), "the question live in Slack", patience=60, explain=w.explain)
        posted_s = time.monotonic() - back
        await until(lambda: store_notices_delivered(w), "every store notice delivered", patience=30)
        assert _posts(w) == 1
        await assert_books(w)
        figures.record("Slack hanging (nothing reaches it), then back", question_after_recovery_s=posted_s)


async def test_slack_takes_posts_and_never_answers(shop_database: str, tmp_path: Path) -> None:
    """Slack takes the post and never answers it: the sender times out, and its next attempt finds the message in
    the channel's history and takes it over — the question is live, posted once, while Slack still hangs."""
    async with world(tmp_path, shop_database) as w:
        await w.start("a", "b")
        await w.seed()
        slack = w.outside.slack
        slack.hold_answers("chat.postMessage", count=100)
        await w.order("unanswered-1", [(STORE_SKU, 1)])

        async def posted() -> bool | None:
            return True if slack.answers_held else None

        await until(posted, "a question posted, its answer held", patience=30)
        held = time.monotonic()
        await until(lambda: store_notices_delivered(w), "the question's notice delivered", patience=60,
                    explain=w.explain)  # fmt: skip
        delivered_s = time.monotonic() - held
        assert await _question_live(w)
        assert _posts(w) == 1, "posted once: the post Slack took unanswered is found in the history"
        assert slack.calls("chat.update"), "the message was taken over"
        slack.release_answers()
        await assert_books(w)
        figures.record("Slack takes the post, never answers", question_taken_over_s=delivered_s)


async def test_outage_on_freshly_started_instances(shop_database: str, tmp_path: Path) -> None:
    async with world(tmp_path, shop_database) as w:
        slack, wildberries = w.outside.gates["slack"], w.outside.gates["wildberries"]
        await slack.refuse()
        await wildberries.hang()
        started = time.monotonic()
        await w.start("a", "b")
        start_s = time.monotonic() - started
        await w.seed()
        await w.order("fresh-1", [(STORE_SKU, 1)])
        await w.order("fresh-2", [(SCARCE[0], 2)])
        others = await channels_recovered(w, started, patience=90, channels=("site", "ozon", "yandex_market"))
        await until(lambda: _attempted(w), "the question tried while Slack refuses", patience=30)

        async def wildberries_stuck() -> bool | None:
            if await _timed_out(w, "wildberries"):
                return True
            if w.outside.wildberries.calls("/api/v3/stocks"):
                raise AssertionError("Wildberries got stock through a hung gate")
            raise NotYet("no failed push to Wildberries yet")

        await until(wildberries_stuck, "a push to the hung Wildberries failed", patience=90, explain=w.explain)
        await slack.recover()
        await wildberries.recover()
        back = time.monotonic()
        await until(lambda: _question_live(w), "the question live in Slack", patience=60, explain=w.explain)
        question_s = time.monotonic() - back
        recovered = await channels_recovered(w, back, patience=180, channels=("wildberries",))
        await until(lambda: store_notices_delivered(w), "every store notice delivered", patience=30)
        assert _posts(w) == 1
        await assert_books(w)
        figures.record(
            "Slack refusing and Wildberries hanging from the start", healthy_s=start_s,
            others_kept_up_s=others, question_after_recovery_s=question_s,
            wildberries_after_recovery_s=recovered["wildberries"],
        )  # fmt: skip
