"""kill -9 of the instance firing a store question's deadline, in the middle of firing it.

A store question's time is ``STORE_CONFIRMATION_TIMEOUT_S``, set to its least (10 s) for these instances: the
deadline falls due while the test watches, without moving any clock. So that the kill lands inside the deadline's
transaction and not a moment before or after, the test holds the article's stock rows (``SELECT … FOR UPDATE``)
before the deadline is due: the instance that claims the deadline stops inside its handler, waiting for those rows.
The test sees the claim in ``task_deadlines`` (its ``lease_owner``), kills that instance with SIGKILL and lets the rows
go; the dead instance's transaction is rolled back by the server. Then the other instance fires the deadline once
its lease has run out, or the victim, started again at once with the same ``INSTANCE_ID``, takes it back at
start-up. Measured: kill → the deadline fired (``fired_s``), kill → the next store's question live in Slack
(``next_question_s``)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults import figures
from tests.faults.books import assert_books, channels_hold_last_values, store_notices_delivered
from tests.faults.world import STORE_CHANNELS, STORE_SKU, NotYet, until, world

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("recovery", ["taken_over", "restarted"])
async def test_kill_mid_deadline(recovery: str, shop_database: str, tmp_path: Path) -> None:
    async with world(tmp_path, shop_database, {"STORE_CONFIRMATION_TIMEOUT_S": "10"}) as w:
        await w.start("a", "b")
        await w.seed()
        answer = await w.order("deadline-1", [(STORE_SKU, 1)])
        assert answer.body["lines"][0]["status"] == "awaiting_store_confirmation"
        task = await w.db.fetchval("SELECT id FROM tasks WHERE kind = 'store_confirmation'")
        slack = w.outside.slack

        async def asked(store: str, task_id: int) -> bool | None:
            shown = slack.questions(STORE_CHANNELS[store], task_id)
            return True if len(shown) == 1 and shown[0]["live"] else None

        rows = await w.db.acquire()  # held from well before the deadline: nothing else here locks these rows
        holding = rows.transaction()
        await holding.start()
        try:
            await rows.execute("SELECT 1 FROM stock_levels WHERE sku = $1 FOR UPDATE", STORE_SKU)
            await until(lambda: asked("north", task), "the north store's question in Slack", patience=30)

            async def claimed() -> str | None:
                owner = await w.db.fetchval(
                    "SELECT lease_owner FROM task_deadlines WHERE task_id = $1 AND kind = 'expire' "
                    "AND fired_at IS NULL AND leased_until > now()",
                    task,
                )
                return None if owner is None else str(owner)

            owner = await until(claimed, "the deadline claimed", patience=40, step=0.02, explain=w.explain)
            victim = await w.name_of(owner)
            killed = w.kill(victim)
        finally:
            await holding.rollback()
            await w.db.release(rows)
        if recovery == "restarted":
            await w.start(victim)

        async def fired() -> tuple[float, str] | None:
            row = await w.db.fetchrow(
                "SELECT fired_at, lease_owner FROM task_deadlines WHERE task_id = $1 AND kind = 'expire'", task
            )
            if row is None or row["fired_at"] is None:
                return None
            return time.monotonic() - killed, str(row["lease_owner"])

        fired_s, fired_by = await until(fired, "the deadline fired by another process", patience=60, step=0.05,
                                        explain=w.explain)  # fmt: skip
        assert fired_by != owner, "the dead process cannot have fired it"
        second = await until(
            lambda: w.db.fetchval("SELECT max(id) FROM tasks WHERE kind = 'store_confirmation' AND id > $1", task),
            "the south store asked",
            patience=10,
        )
        await until(lambda: asked("south", second), "the south store's question in Slack", patience=30)
        next_question_s = time.monotonic() - killed

        async def settled() -> bool:  # the south store does not answer either: the line is unfulfillable
            open_tasks = await w.db.fetchval(
                "SELECT count(*) FROM tasks WHERE state = 'open' AND kind = 'store_confirmation'"
            )
            if open_tasks:
                raise NotYet(f"{open_tasks} tasks open")
            return await store_notices_delivered(w)

        await until(settled, "both questions closed and shown closed", patience=60, explain=w.explain)
        await until(lambda: channels_hold_last_values(w), "every channel holds every last value", patience=60)
        await assert_books(w)
        outcome = await w.db.fetchval("SELECT status FROM order_lines")
        assert outcome == "unfulfillable"
        figures.record(
            f"kill -9 mid-deadline, {recovery.replace('_', ' ')}", victim=victim, fired_by=fired_by.split("/")[0],
            fired_s=fired_s, next_question_s=next_question_s,
        )  # fmt: skip
