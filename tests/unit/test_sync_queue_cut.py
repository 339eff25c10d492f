"""How a drain puts newly claimed lines into the batches it has queued (``SyncDispatcher._ahead_first``): an order's
lines in front, every line once, each line's value as claimed, no batch over the channel's limit and — where the
channel counts requests — none short of full but the last, so that an order costs no extra request. Random queues,
as a drain builds them, against these rules."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from workflows.channels import StockLine
from workflows.ports import BULK, URGENT, Push
from workflows.sync import SyncDispatcher, _Batch, _rebatch

AT = datetime(2026, 12, 4, tzinfo=UTC)
CASES = 400


@dataclass
class Client:
    name: str
    batch_limit: int
    charges_per_line: bool
    pushes_in_flight: int = 2


def _dispatcher(size: int, per_line: bool) -> SyncDispatcher:
    nothing = cast(Any, None)  # the queue's cutting uses the client's limits only
    client = Client("yandex_market" if per_line else "wildberries", size, per_line)
    return SyncDispatcher(nothing, nothing, cast(Any, client), nothing, nothing, owner="test")


class Lines:
    """Pushes with distinct SKUs, a tenth of them without an offer id on the channel."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.n = rng, 0

    def take(self, count: int, priority: int) -> list[Push]:
        pushes = [Push("c", f"S{self.n + i}", self.rng.randrange(50), 1, 0, AT, priority) for i in range(count)]
        self.n += count
        return pushes

    def batches(self, pushes: list[Push], size: int) -> list[_Batch]:
        unmapped = {p.sku for p in pushes if self.rng.random() < 0.1}
        found = []
        for start in range(0, len(pushes), size):
            mine = pushes[start : start + size]
            lines = [StockLine(p.sku, f"o-{p.sku}", p.qty) for p in mine if p.sku not in unmapped]
            found.append(_Batch(mine, lines, {p.sku for p in mine} & unmapped))
        return found


def _queue(rng: random.Random, lines: Lines, size: int, per_line: bool) -> deque[_Batch]:
    """A queue as a drain leaves it: an order's batches in front (waiting for a lane), full batches of the backlog,
    perhaps a short one at the end (what a cut left over)."""
    head: list[_Batch] = []
    if rng.random() < 0.5:
        urgent = lines.take(rng.randint(1, size), URGENT)
        backlog = [] if per_line else lines.take(size - len(urgent), BULK)
        head = lines.batches([*urgent, *backlog], size)
    full = [batch for _ in range(rng.randint(0, 6)) for batch in lines.batches(lines.take(size, BULK), size)]
    short = lines.batches(lines.take(rng.randint(1, size - 1), BULK), size) if size > 1 and rng.random() < 0.3 else []
    return deque([*head, *full, *short])


def _claimed(rng: random.Random, lines: Lines, size: int) -> list[_Batch]:
    """What a claim brings back: an order's lines only (the look for them), or the next lines in the outbox's
    order, an order's first."""
    urgent = lines.take(rng.randint(0, size + 2), URGENT)
    if rng.random() < 0.5:
        return lines.batches(urgent, size)
    return lines.batches([*urgent, *lines.take(rng.randint(0, 3 * size), BULK)], size)


@pytest.mark.parametrize("per_line", [False, True], ids=["requests count", "lines count"])
def test_claimed_lines_join_the_queue_by_the_rules(per_line: bool) -> None:
    rng = random.Random(20261204 + per_line)
    for _ in range(CASES):
        size = rng.choice([1, 2, 3, 5, 10])
        dispatcher, lines = _dispatcher(size, per_line), Lines(rng)
        queue = _queue(rng, lines, size, per_line)
        claimed = _claimed(rng, lines, size)
        before = list(queue)
        line_of = {line.sku: line for batch in [*before, *claimed] for line in batch.lines}
        unmapped = {sku for batch in [*before, *claimed] for sku in batch.unmapped}

        after = list(dispatcher._ahead_first(claimed, deque(queue)))

        pushes = [push for batch in after for push in batch.claimed]
        given = [push for batch in [*before, *claimed] for push in batch.claimed]
        assert sorted(pushes) == sorted(given)  # every line once, with its value
        for batch in after:
            assert 1 <= len(batch.claimed) <= size
            assert batch.lines == [line_of[p.sku] for p in batch.claimed if p.sku not in unmapped]
            assert batch.unmapped == {p.sku for p in batch.claimed} & unmapped
        order = [push.priority for push in pushes]
        if any(p.priority == URGENT for p in given):
            assert order == sorted(order), "an order's lines go before the backlog's"
        if per_line:  # an order's lines in pushes of their own
            assert all(len({p.priority for p in batch.claimed}) == 1 for batch in after)
        else:  # no extra request: only the last batch may be short
            assert all(len(batch.claimed) == size for batch in after[:-1])


def test_a_cut_takes_the_lines_in_the_order_given() -> None:
    rng = random.Random(7)
    lines = Lines(rng)
    pushes = lines.take(7, BULK)
    batches = lines.batches(pushes, 3)
    again = _rebatch(list(reversed(pushes)), batches, 3)
    assert [p.sku for b in again for p in b.claimed] == [p.sku for p in reversed(pushes)]
    assert [len(b.claimed) for b in again] == [3, 3, 1]
