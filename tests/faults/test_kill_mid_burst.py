"""kill -9 of an instance in the middle of a burst of orders and 1C stock messages.

Buyers send ``POST /api/orders`` for the last units of five articles and 1C sends ``POST /api/1c/stock`` for fifteen
others, spread over both instances; a request that gets no answer goes to the other instance, as a load balancer
would send it. Once a third of the orders are answered and the victim holds work (rows leased: pushes on their way
to a channel), it is killed with SIGKILL. Either the other instance takes its work when the leases run out, or the
victim is started again at once with the same ``INSTANCE_ID`` and takes its own work back at start-up. Measured:
kill → every row the victim held was taken (``takeover_s``), kill → every channel holds every last value
(``channels_s``)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest

from tests.faults import figures
from tests.faults.books import assert_books, channels_hold_last_values, channels_recovered, live_leases, still_held
from tests.faults.world import PUSHED, SCARCE, World, until, world

pytestmark = pytest.mark.faults

ORDERS, BUYERS_AT_ONCE = 150, 12
STOCK_MESSAGES = 40


class Burst:
    """The buyers and 1C, running until every request was answered."""

    def __init__(self, world: World, seed: int) -> None:
        self.world, self.rng = world, random.Random(seed)
        self.answered = 0
        self.finished = 0.0  # monotonic

    async def run(self) -> None:
        await asyncio.gather(self._buyers(), self._onec())
        self.finished = time.monotonic()

    async def _buyers(self) -> None:
        gate = asyncio.Semaphore(BUYERS_AT_ONCE)

        async def buy(n: int) -> None:
            async with gate:
                await self.world.order(f"burst-{n}", [(SCARCE[n % len(SCARCE)], 1)], prefer="ab"[n % 2])
                self.answered += 1

        await asyncio.gather(*(buy(n) for n in range(ORDERS)))

    async def _onec(self) -> None:
        for n in range(STOCK_MESSAGES):
            figures_ = [(sku, "online", self.rng.randint(0, 30)) for sku in self.rng.sample(PUSHED, 3)]
            await self.world.stock(figures_, prefer="ab"[n % 2])
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("recovery", ["taken_over", "restarted"])
async def test_kill_mid_burst(recovery: str, shop_database: str, tmp_path: Path) -> None:
    victim, other = ("a", "b") if recovery == "taken_over" else ("b", "a")
    async with world(tmp_path, shop_database) as w:
        await w.start("a", "b")
        await w.seed()
        await until(lambda: channels_hold_last_values(w), "the opening stock on every channel", patience=120,
                    explain=w.explain)  # fmt: skip
        owner = await w.owner_of(victim)
        burst = Burst(w, seed=len(recovery))
        running = asyncio.create_task(burst.run())

        async def victim_busy() -> set[tuple[str, str]] | None:
            if running.done():
                running.result()
                raise AssertionError("the burst ended before the victim was killed")
            if burst.answered < ORDERS // 3:
                return None
            held = await live_leases(w, owner)
            return held if held or burst.answered >= 2 * ORDERS // 3 else None

        held = await until(victim_busy, "a third of the orders answered and the victim holding work", patience=120,
                           step=0.02, explain=w.explain)  # fmt: skip
        killed = w.kill(victim)
        if recovery == "restarted":
            await w.start(victim)
        restarted_s = time.monotonic() - killed

        async def taken() -> float | None:
            return None if await still_held(w, owner, held) else time.monotonic() - killed

        takeover_s = await until(taken, f"the rows {victim} held taken", patience=60, step=0.05, explain=w.explain)
        await asyncio.wait_for(running, timeout=180)
        burst_done_s = burst.finished - killed
        per_channel = await channels_recovered(w, killed, patience=180)
        await assert_books(w)
        reserved = sum(1 for a in w.answered.values() if a.body["lines"][0]["status"] == "reserved" and
                       a.body["external_id"].startswith("burst-"))  # fmt: skip
        assert reserved == 12 * len(SCARCE), "every scarce unit sold exactly once"
        assert sorted(i.name for i in w.alive()) == (["a", "b"] if recovery == "restarted" else [other])
        figures.record(
            f"kill -9 mid-burst, {recovery.replace('_', ' ')}", victim=victim, held_rows=len(held),
            takeover_s=takeover_s, channels_s=max(per_channel.values()), per_channel_s=per_channel, burst_done_s=burst_done_s,
            **({"restart_healthy_s": restarted_s} if recovery == "restarted" else {}),
            orders=ORDERS, stock_messages=STOCK_MESSAGES, other=other,
        )  # fmt: skip
