"""PostgreSQL restarted under both instances while orders and 1C stock keep coming.

The machine's shared PostgreSQL is never stopped: this test runs a server of its own (:mod:`tests.faults.private_pg`:
``initdb`` and ``pg_ctl`` in a temporary directory, on a free port, as the ``postgres`` OS user when run as root),
and the instances migrate its fresh database as they start. Where no such server can be made (no server binaries,
no ``postgres`` user), or with ``STOREOPS_FAULTS_PG_RESTART=gate``, the instances reach the shared server through a
TCP gate instead, and the "restart" is the gate dropping every connection and refusing new ones for as long. While buyers and 1C send at a steady pace to both
instances, the server is stopped at once (``pg_ctl stop -m immediate``: every connection cut, as in a crash), stays
down until both instances have told /healthz callers that the database is unavailable, and is started again. A
request that gets no answer or a 5xx is sent again (to either instance), as a client or load balancer would.
Measured: the server back → each instance healthy again and taking orders (``back_<instance>_s``), → every channel
holds every last value (``channels_s``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.faults import figures
from tests.faults.books import assert_books, channels_hold_last_values, channels_recovered
from tests.faults.gate import FaultGate
from tests.faults.private_pg import ClusterUnavailable, PrivateCluster
from tests.faults.world import PUSHED, SCARCE, World, until, world

pytestmark = pytest.mark.faults
RESTART_ENV = "STOREOPS_FAULTS_PG_RESTART"  # "gate": restart through the TCP gate even where a private server works


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


class PrivateServer:
    """The test's own server, stopped at once and started again."""

    what = "private PostgreSQL server: pg_ctl stop -m immediate, then start"

    def __init__(self, cluster: PrivateCluster, url: str) -> None:
        self.cluster, self.url = cluster, url

    async def down(self) -> None:
        await asyncio.to_thread(self.cluster.crash)

    async def up(self) -> None:
        await asyncio.to_thread(self.cluster.start)


class GatedServer:
    """The fallback where no private server can be made: the shared server behind a TCP gate that drops every
    connection and refuses new ones, then lets them through again. The shared server itself never stops."""

    what = "shared PostgreSQL behind a TCP gate: every connection dropped, new ones refused, then let through"

    def __init__(self, gate: FaultGate, url: str) -> None:
        self.gate, self.url = gate, url

    async def down(self) -> None:
        await self.gate.refuse()

    async def up(self) -> None:
        await self.gate.recover()


async def _restartable(stack: contextlib.AsyncExitStack, request: pytest.FixtureRequest) -> PrivateServer | GatedServer:
    """A private server, or (``STOREOPS_FAULTS_PG_RESTART=gate``, or none can be made here) the gated shared one."""
    reason = "STOREOPS_FAULTS_PG_RESTART=gate"
    if os.environ.get(RESTART_ENV) != "gate":
        try:
            cluster = await asyncio.to_thread(PrivateCluster.make)
        except ClusterUnavailable as error:
            reason = str(error)
        else:
            stack.callback(cluster.remove)
            admin = await asyncpg.connect(cluster.url().replace("+asyncpg", ""))
            await admin.execute('CREATE DATABASE "storeops_faults"')
            await admin.close()
            return PrivateServer(cluster, cluster.url("storeops_faults"))
    print(f"database restart through a TCP gate: {reason}")
    shared = make_url(request.getfixturevalue("shop_database"))
    gate = FaultGate("postgresql", shared.port or 5432, upstream_host=shared.host or "127.0.0.1")
    await gate.start()
    stack.push_async_callback(gate.stop)
    url = shared.set(host="127.0.0.1", port=gate.port).render_as_string(hide_password=False)
    return GatedServer(gate, url)


async def test_database_restart(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    async with contextlib.AsyncExitStack() as stack:
        server = await _restartable(stack, request)
        w = await stack.enter_async_context(world(tmp_path, server.url))
        await w.start("a", "b")
        await w.seed()
        await until(lambda: channels_hold_last_values(w), "the opening stock on every channel", patience=120)
        load = SteadyLoad(w)
        running = asyncio.create_task(load.run())
        await until(lambda: _answered_by_both(load), "both instances taking orders", patience=30)

        await server.down()
        crashed = time.monotonic()

        async def both_see_it() -> bool | None:
            statuses = await asyncio.gather(_health(w, "a"), _health(w, "b"))
            return True if all(s == 503 for s in statuses) else None

        await until(both_see_it, "both instances report the database unavailable", patience=30)
        await asyncio.sleep(2)  # a few seconds down, not only an instant
        down_s = time.monotonic() - crashed
        await server.up()
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
            "PostgreSQL restarted under both instances", server=server.what, down_s=down_s, back_a_s=back_a,
            back_b_s=back_b, channels_s=max(per_channel.values()), per_channel_s=per_channel, orders=load.sent,
        )  # fmt: skip


async def _answered_by_both(load: SteadyLoad) -> bool | None:
    return True if all(load.answered_by.values()) else None
