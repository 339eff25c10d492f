"""What the fault suite reads back after a fault, straight from the database and the emulators, and the invariants
it asserts after every fault:

* **no oversell**: no stock row has more reserved than on hand;
* **1C's figures kept**: what 1C's last answered stock message said of an article is what is on hand;
* **counters are the reservations**: each stock row's ``reserved`` is the sum of its active reservations;
* **no answered order lost**: every order answered 200/201 is stored under the id it was answered with, with its
  lines, and each line answered ``reserved`` holds active reservations for its quantity;
* **each store deadline acted on once**: every store question closed has exactly one outcome in its order's history
  (one that is open has none), every store was asked at most once per line, and every deadline past due has fired;
* **every last value delivered**: each channel shows, for every article, what the stock rows say it may sell (the
  service's own rule, ``workflows.model.channel_availability``), and nothing waits in the stock outbox;
* **one live question per task**: each store question is one message in its store's Slack channel (found by the
  task id in its metadata), with buttons while the task is open and without once it closed, and every store
  notice was delivered.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from tests.faults.world import CATALOGUE, CHANNELS, SERVES, STORE_CHANNELS, NotYet, World, until

# The tables whose rows are leased while their work runs (storage/lease_repositories.py): how one row is named,
# and when its lease still stands for work under way.
LEASED = {
    "stock_pushes": ("channel || ':' || sku", "leased_until IS NOT NULL"),
    "price_pushes": ("channel || ':' || sku", "leased_until IS NOT NULL"),
    "task_deadlines": ("id::text", "leased_until IS NOT NULL AND fired_at IS NULL"),
    "notices": ("id::text", "leased_until IS NOT NULL AND delivered_at IS NULL"),
    "shipments": ("order_id::text", "leased_until IS NOT NULL"),
}


async def live_leases(world: World, owner: str) -> set[tuple[str, str]]:
    """The rows ``owner`` holds now for work under way (its lease not run out): (table, key)."""
    held: set[tuple[str, str]] = set()
    for table, (key, live) in LEASED.items():
        rows = await world.db.fetch(
            f"SELECT {key} AS key FROM {table} WHERE lease_owner = $1 AND {live} AND leased_until > now()", owner
        )
        held |= {(table, row["key"]) for row in rows}
    return held


async def still_held(world: World, owner: str, rows: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Those of ``rows`` that are still ``owner``'s (leased by it and unsettled, run out or not): nobody took them."""
    left: set[tuple[str, str]] = set()
    for table, (key, live) in LEASED.items():
        keys = [k for t, k in rows if t == table]
        if not keys:
            continue
        found = await world.db.fetch(
            f"SELECT {key} AS key FROM {table} WHERE lease_owner = $1 AND {live} AND {key} = ANY($2::text[])",
            owner, keys,
        )  # fmt: skip
        left |= {(table, row["key"]) for row in found}
    return left


async def expected_on_channels(world: World) -> dict[tuple[str, str], int]:
    """(channel, sku) → what the channel should show, from the stock rows as they are now."""
    rows = await world.db.fetch("SELECT sku, warehouse, on_hand, reserved, suspect_since FROM stock_levels")
    free: dict[tuple[str, str], int] = {}
    for row in rows:
        free[row["sku"], row["warehouse"]] = (
            0 if row["suspect_since"] is not None else max(0, row["on_hand"] - row["reserved"])
        )
    return {
        (channel, sku): sum(free.get((sku, code), 0) for code in SERVES[channel])
        for channel in CHANNELS
        for sku in CATALOGUE
        if any((sku, code) in free for code in SERVES[channel])
    }


async def channel_gaps(world: World, channels: tuple[str, ...] = CHANNELS) -> list[str]:
    """Where a channel does not show the last value (empty: every channel holds every last value), and what waits
    in the stock outbox."""
    expected = await expected_on_channels(world)
    gaps = [
        f"{channel} {sku}: shows {shown}, should {qty}"
        for (channel, sku), qty in sorted(expected.items())
        if channel in channels and (shown := world.outside.shown(channel, sku)) != qty
    ]
    waiting = await world.db.fetch(
        "SELECT channel, sku, qty, state, last_error FROM stock_pushes WHERE channel = ANY($1::text[])", list(channels)
    )
    gaps += [f"outbox {r['channel']} {r['sku']}={r['qty']} {r['state']} ({r['last_error']})" for r in waiting]
    return gaps


async def channels_hold_last_values(world: World, channels: tuple[str, ...] = CHANNELS) -> bool:
    """For :func:`tests.faults.world.until`: every channel shows every last value."""
    gaps = await channel_gaps(world, channels)
    if gaps:
        raise NotYet(f"{len(gaps)} gaps, e.g. {gaps[:3]}")
    return True


async def channels_recovered(
    world: World, since: float, *, patience: float, channels: tuple[str, ...] = CHANNELS
) -> dict[str, float]:
    """Poll until every channel holds every last value; the seconds from ``since`` (monotonic) each took."""
    done: dict[str, float] = {}

    async def probe() -> dict[str, float] | None:
        for channel in channels:
            if channel not in done and not await channel_gaps(world, (channel,)):
                done[channel] = round(time.monotonic() - since, 1)
        if len(done) < len(channels):
            raise NotYet(f"not yet: {sorted(set(channels) - set(done))}: {(await channel_gaps(world))[:3]}")
        return done

    await until(probe, "every channel holds every last value", patience=patience, explain=world.explain)
    assert await channel_gaps(world, channels) == []  # still: none fell behind again meanwhile
    return done


async def store_notices_delivered(world: World) -> bool:
    left = await world.db.fetchval(
        "SELECT count(*) FROM notices WHERE topic IN ('store_question', 'store_reminder', 'task_closed') "
        "AND delivered_at IS NULL"
    )
    if left:
        raise NotYet(f"{left} store notices not delivered")
    return True


# ------------------------------------------------------------------------------------------ the invariants


async def assert_books(world: World) -> None:
    """Every invariant of the module's docstring, once the channels have caught up (within two minutes: a channel
    may be waiting out its own limits, such as Ozon's 30 s per article)."""
    await until(lambda: channels_hold_last_values(world), "every channel holds every last value", patience=120,
                explain=world.explain)  # fmt: skip
    await assert_no_oversell(world)
    await assert_last_figures_kept(world)
    await assert_counters(world)
    await assert_answered_orders(world)
    await assert_deadlines_once(world)
    await assert_one_question_per_task(world)


async def assert_no_oversell(world: World) -> None:
    over = await world.db.fetch("SELECT sku, warehouse, on_hand, reserved FROM stock_levels WHERE reserved > on_hand")
    assert not over, f"oversold: {[dict(r) for r in over]}"


async def assert_last_figures_kept(world: World) -> None:
    """What 1C's last answered message said is on hand is on hand."""
    rows = await world.db.fetch("SELECT sku, warehouse, on_hand FROM stock_levels")
    on_hand = {(r["sku"], r["warehouse"]): r["on_hand"] for r in rows}
    lost = {key: (qty, on_hand.get(key)) for key, qty in world.pushed.items() if on_hand.get(key) != qty}
    assert not lost, f"1C's last figures (sent, held) not kept: {lost}"


async def assert_counters(world: World) -> None:
    rows = await world.db.fetch(
        """
        SELECT coalesce(s.sku, r.sku) AS sku, coalesce(s.warehouse, r.warehouse) AS warehouse,
               coalesce(s.reserved, 0) AS counter, coalesce(r.held, 0) AS held
        FROM stock_levels s
        FULL JOIN (SELECT sku, warehouse, sum(qty) AS held FROM reservations WHERE state = 'active'
                   GROUP BY sku, warehouse) r ON r.sku = s.sku AND r.warehouse = s.warehouse
        """
    )
    wrong = [dict(r) for r in rows if r["counter"] != r["held"]]
    assert not wrong, f"reserved counters differ from the active reservations: {wrong}"


async def assert_answered_orders(world: World) -> None:
    query = (
        "SELECT id, external_id, (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id) AS lines FROM orders o"
    )
    stored = {r["external_id"]: r for r in await world.db.fetch(query)}
    held = Counter[tuple[int, int]]()
    for r in await world.db.fetch("SELECT order_id, line_no, qty FROM reservations WHERE state = 'active'"):
        held[r["order_id"], r["line_no"]] += r["qty"]
    problems = []
    for external_id, answer in world.answered.items():
        row = stored.get(external_id)
        if row is None or row["id"] != answer.body["order_id"]:
            problems.append(f"{external_id}: answered {answer.status} as order {answer.body['order_id']}, stored {row}")
            continue
        if row["lines"] != len(answer.body["lines"]):
            problems.append(f"{external_id}: {len(answer.body['lines'])} lines answered, {row['lines']} stored")
        for line in answer.body["lines"]:
            if line["status"] == "reserved" and held[row["id"], line["line"]] != line["qty"]:
                problems.append(
                    f"{external_id} line {line['line']}: answered reserved, holds {held[row['id'], line['line']]}"
                )
    assert not problems, f"orders answered and then missing: {problems}"


async def _store_tasks(world: World) -> list[dict[str, Any]]:
    rows = await world.db.fetch("SELECT id, state, payload FROM tasks WHERE kind = 'store_confirmation' ORDER BY id")
    return [{"id": r["id"], "state": r["state"], **_json(r["payload"])} for r in rows]


async def _events(world: World, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = await world.db.fetch("SELECT order_id, kind, detail FROM order_events WHERE kind = ANY($1::text[])",
                                list(kinds))  # fmt: skip
    return [{"order_id": r["order_id"], "kind": r["kind"], **_json(r["detail"])} for r in rows]


def _json(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    assert isinstance(loaded, dict)
    return loaded


async def assert_deadlines_once(world: World) -> None:
    outcomes = Counter(e["task_id"] for e in await _events(world, ("store_declined", "store_confirmed")))
    problems = []
    for task in await _store_tasks(world):
        want = 0 if task["state"] == "open" else 1
        if outcomes[task["id"]] != want:
            problems.append(f"task {task['id']} ({task['state']}): {outcomes[task['id']]} outcomes, want {want}")
    asked = Counter((e["order_id"], e["line"], e["store"]) for e in await _events(world, ("store_asked",)))
    problems += [f"order {o} line {line} asked {store} {n} times" for (o, line, store), n in asked.items() if n > 1]
    unfired = await world.db.fetch(
        "SELECT d.id, d.task_id, d.kind FROM task_deadlines d JOIN tasks t ON t.id = d.task_id "
        "WHERE d.fired_at IS NULL AND t.state = 'open' AND d.due_at < now() - interval '20 seconds'"
    )
    problems += [f"deadline {r['id']} ({r['kind']}) of task {r['task_id']} past due and not fired" for r in unfired]
    assert not problems, f"store deadlines not acted on exactly once: {problems}"


async def assert_one_question_per_task(world: World) -> None:
    problems = []
    for task in await _store_tasks(world):
        shown = world.outside.slack.questions(STORE_CHANNELS[task["store"]], task["id"])
        if len(shown) != 1:
            problems.append(f"task {task['id']} ({task['state']}) shows {len(shown)} messages: {shown}")
        elif shown[0]["live"] != (task["state"] == "open"):
            problems.append(f"task {task['id']} ({task['state']}): its message live={shown[0]['live']}")
    assert not problems, f"not exactly one live Slack question per open task: {problems}"
