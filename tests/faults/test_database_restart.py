"""PostgreSQL restarted under both instances while orders and 1C stock keep coming.

The machine's shared PostgreSQL is never touched: this test runs a server of its own (:mod:`tests.faults.private_pg`:
``initdb`` and ``pg_ctl`` in a temporary directory, on a free port, as the ``postgres`` OS user when run as root),
and the instances migrate its fresh database as they start. While buyers and 1C send at a steady pace to both
instances, the server is stopped at once (``pg_ctl stop -m immediate``: every connection cut, as in a crash), stays
down until both instances have told /healthz callers that the database is unavailable, and is started again. A
request that gets no answer or a 5xx is sent again (to either instance), as a client or load balancer would.
Measured: the server back → each instance healthy again and taking orders (``back_<instance>_s``), → every channel
holds every last value (``channels_s``)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.conftest import REQUIRE_PG
from tests.faults import figures
from tests.faults.books import assert_books, channels_hold_last_values, channels_recovered
from tests.faults.private_pg import PrivateCluster, pg_bin
from tests.faults.world import PUSHED, SCARCE, World, until, world

pytestmark = pytest.mark.faults


class SteadyLoad:
    """Orders and 1C's stock at a steady pace until stopped; each request sent until answered."""

    def __init__(self, world: World) -> None:
        self.world, self.rng = world, random.Random(4)
        self.stopped = asyncio.Event()
        self.sent = 0
        self.answered_by: dict[str, list[float]] = {"a": [], "b": []}  # monotonic times of 201s per instance

    async def run(self) -> None:
        await asyncio.gather(self._buyers(), self._onec())

    async def _buyers(self) -> None:
        async def buy(n: int) -> None:
            answer = await self.world.order(f"steady-{n}", [(SCARCE[n % len(SCARCE)], 1)], prefer="ab"[n % 2],
                                            patience=120)  # fmt: skip
            if answer.status == 201:
                self.answered_by[answer.instance].append(time.monotonic())

        buyers: list[asyncio.Task[None]] = []
        while not self.stopped.is_set():
            buyers.append(asyncio.create_task(buy(self.sent)))
            self.sent += 1
            await asyncio.sleep(0.1)
        await asyncio.gather(*buyers)

    async def _onec(self) -> None:
        n = 0
        while not self.stopped.is_set():
            figures_ = [(sku, "online", self.rng.randint(0, 30)) for sku in self.rng.sample(PUSHED, 2)]
            await self.world.stock(figures_, prefer="ab"[n % 2], patience=120)
            n += 1
            await asyncio.sleep(0.3)


async def _health(world: World, name: str) -> int:
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with world.http.get(f"{world.instances[name].url}/healthz") as response:
            return response.status
    return 0


async def test_database_restart(tmp_path: Path) -> None:
    if pg_bin() is None:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl) for a private server; set STOREOPS_PG_BIN"
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    with PrivateCluster.made() as cluster:
        admin = await asyncpg.connect(cluster.url().replace("+asyncpg", ""))
        await admin.execute('CREATE DATABASE "storeops_faults"')
        await admin.close()
        async with world(tmp_path, cluster.url("storeops_faults")) as w:
            await w.start("a", "b")
            await w.seed()
            await until(lambda: channels_hold_last_values(w), "the opening stock on every channel", patience=120)
            load = SteadyLoad(w)
            running = asyncio.create_task(load.run())
            await until(lambda: _answered_by_both(load), "both instances taking orders", patience=30)

            await asyncio.to_thread(cluster.crash)
            crashed = time.monotonic()

            async def both_see_it() -> bool | None:
                statuses = await asyncio.gather(_health(w, "a"), _health(w, "b"))
                return True if all(s == 503 for s in statuses) else None

            await until(both_see_it, "both instances report the database unavailable", patience=30)
            await asyncio.sleep(2)  # a few seconds down, not only an instant
            down_s = time.monotonic() - crashed
            await asyncio.to_thread(cluster.start)
            back = time.monotonic()
            await w.reconnect()

            async def taking_orders(name: str) -> float | None:
                later = [t for t in load.answered_by[name] if t > back]
                return later[0] - back if later and await _health(w, name) == 200 else None

            back_a = await until(lambda: taking_orders("a"), "a healthy and taking orders", patience=60,
                                 explain=w.explain)  # fmt: skip
            back_b = await until(lambda: taking_orders("b"), "b healthy and taking orders", patience=60,
                                 explain=w.explain)  # fmt: skip
            await asyncio.sleep(2)  # some more load after both are back
            load.stopped.set()
            await asyncio.wait_for(running, timeout=120)
            per_channel = await channels_recovered(w, back, patience=180)
            assert sorted(i.name for i in w.alive()) == ["a", "b"], "both instances lived through it"
            await assert_books(w)
            figures.record(
                "PostgreSQL restarted (private server, immediate stop)", down_s=down_s, back_a_s=back_a,
                back_b_s=back_b, channels_s=max(per_channel.values()), per_channel_s=per_channel,
                orders=load.sent,
            )  # fmt: skip


async def _answered_by_both(load: SteadyLoad) -> bool | None:
    return True if all(load.answered_by.values()) else None
