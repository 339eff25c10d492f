"""Cancellation: a buyer cancels an Ozon order — how long until the freed stock reaches the other marketplaces.

The real service (``app.bootstrap.build``, system clock, SQLite file) with the real Wildberries, Ozon and Yandex
Market clients against their emulators on 127.0.0.1 (the emulators' real limits). Each sample takes one SKU of
5 units: an Ozon posting of 1 unit is added to the Ozon emulator and taken by the orders pull (as its scheduled
job does), and Wildberries and Yandex Market are waited for until they show 4 (not measured). After a random pause
of up to one poll interval (so cancellations fall at every phase of the schedule), the posting is cancelled in the
Ozon emulator; that moment starts the clock. Ozon's order-events feed (``OrderFeed.pull``) runs on its own
APScheduler interval job, with the options ``app.scheduler`` gives it, but every ``interval_s`` (1 s here; 60 s
in production) instead of every minute. The clock stops when both Wildberries and Yandex Market show 5 again
(polled every millisecond). The claim: p99 ≤ interval + 1 s.

The baseline is the same path without polling: the order is cancelled by a direct ``OrderDesk.cancel`` (as a
manager's cancellation is), timed from that call to both marketplaces showing 5. Its difference from the feed's
figures is what reading the cancellation from Ozon costs: on average half an interval of waiting for the next
pull, plus the pull itself.

What the figures show: a pull's cost grows with the cancellations in Ozon's look-back. The Ozon client reads
every status change from its bookmark less ten minutes, and the feed applies each event it is given in its own
transaction, where a repeat ends at the insert; with 200 cancellations in a few minutes a pull meets up to 199
repeats (``feed_pull_repeated_events``) and takes hundreds of milliseconds (``feed_pull``), which
``by_fifty_in_turn`` shows as the p50 rising from the first fifty samples to the last. On a busy machine a pull
then outlasts the 1 s interval, the scheduler skips runs, and p99 passes interval + 1 s. Polled every minute, as
in production, the same repeats cost a fraction of the interval.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.bootstrap import Services, SystemClock, build
from app.settings import load_settings
from bench.common import Json, PgProbe, latency_figures, machine_facts, percentile, sqlite_url
from bench.stock_latency import EXAMPLE_CONFIG, environment
from emulators.ozon import OzonEmulator
from emulators.wildberries import WildberriesEmulator
from emulators.yandex_market import YandexMarketEmulator
from workflows.model import StockFigure
from workflows.topology import Topology

WB_WAREHOUSE, OZON_WAREHOUSE, CAMPAIGN = 658434, 1020000001, 21_000_001
FIRST_CHRT_ID = 200_000
QTY = 5  # each SKU's stock; an order takes 1
GIVE_UP_S = 30.0
OTHERS = ("wildberries", "yandex_market")


@dataclass(frozen=True)
class Sizes:
    samples: int
    interval_s: float  # the order-events feed's poll interval


FULL = Sizes(samples=200, interval_s=1.0)
QUICK = Sizes(samples=8, interval_s=1.0)


def shop() -> Topology:
    return Topology.model_validate(
        {
            "warehouses": [{"code": "online", "kind": "online"}],
            "channels": {
                "wildberries": {"serves": ["online"], "warehouse_id": WB_WAREHOUSE},
                "ozon": {"serves": ["online"], "warehouse_id": OZON_WAREHOUSE},
                "yandex_market": {"serves": ["online"], "campaign_id": CAMPAIGN},
            },
        }
    )


@dataclass
class World:
    services: Services
    wb: WildberriesEmulator
    ozon: OzonEmulator
    ym: YandexMarketEmulator
    skus: list[str]
    postings: int = 0

    def shows(self, n: int) -> dict[str, int | None]:
        entry = self.ym.stock(self.skus[n])
        return {
            "wildberries": self.wb.stock(WB_WAREHOUSE, FIRST_CHRT_ID + n),
            "yandex_market": None if entry is None else entry.count,
        }

    async def arrived(self, n: int, qty: int, began: float) -> dict[str, float] | None:
        """Seconds from ``began`` until each other channel first showed ``qty`` for SKU ``n``; ``None`` if one
        did not within :data:`GIVE_UP_S`."""
        seen: dict[str, float] = {}
        while len(seen) < len(OTHERS):
            now = time.perf_counter()
            if now - began > GIVE_UP_S:
                return None
            for name, shown in self.shows(n).items():
                if shown == qty and name not in seen:
                    seen[name] = now - began
            await asyncio.sleep(0.001)
        return seen

    async def ozon_order(self, n: int) -> tuple[str, int]:
        """An Ozon posting of 1 unit of SKU ``n``, taken by the orders pull and shown by the others: its posting
        number and our order id."""
        self.postings += 1
        posting = f"{70_000_000 + self.postings}-0001-1"
        self.ozon.add_posting(posting, [(self.skus[n], 1)], warehouse_id=OZON_WAREHOUSE)
        shop = self.services.shop
        await next(u for u in shop.upkeep if u.name == "ozon").pull_orders()
        async with shop.uow(read_only=True) as uow:
            order = await uow.orders.find("ozon", posting)
        if order is None or order.id is None or order.status.value != "reserved":
            raise RuntimeError(f"the Ozon posting {posting} was not taken and reserved")
        if await self.arrived(n, QTY - 1, time.perf_counter()) is None:
            raise RuntimeError(f"the others never showed the reservation of {self.skus[n]}")
        return posting, order.id


async def _samples(
    world: World, sizes: Sizes, cancel: Callable[[str, int], Awaitable[object]], log: Callable[[str], None]
) -> tuple[list[float], dict[str, list[float]], list[str]]:
    """Per sample: an order, a pause, then ``cancel`` timed until both others show the freed unit."""
    both: list[float] = []
    by_channel: dict[str, list[float]] = {name: [] for name in OTHERS}
    late: list[str] = []
    for n in range(sizes.samples):
        posting, order_id = await world.ozon_order(n)
        await asyncio.sleep(random.uniform(0, sizes.interval_s))
        began = time.perf_counter()
        await cancel(posting, order_id)
        seen = await world.arrived(n, QTY, began)
        if seen is None:
            late.append(world.skus[n])
            continue
        both.append(max(seen.values()))
        for name, seconds in seen.items():
            by_channel[name].append(seconds)
        if (n + 1) % 50 == 0:
            log(f"cancellation: {n + 1} of {sizes.samples}")
    return both, by_channel, late


async def _through_the_feed(world: World, sizes: Sizes, log: Callable[[str], None]) -> Json:
    """Cancelled in the Ozon emulator; read by the feed on its interval job."""
    (feed,) = [f for f in world.services.shop.order_feeds if f.name == "ozon"]
    pulls: list[float] = []
    repeats: list[int] = []

    async def pull() -> None:
        began = time.perf_counter()
        run = await feed.pull()
        pulls.append(time.perf_counter() - began)
        repeats.append(run.repeated)

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(pull, "interval", seconds=sizes.interval_s, id="order-events-ozon",
                      max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))  # fmt: skip
    scheduler.start()

    async def in_ozon(posting: str, order_id: int) -> None:
        world.ozon.cancel_posting(posting, "Покупатель передумал")

    try:
        both, by_channel, late = await _samples(world, sizes, in_ozon, log)
    finally:
        scheduler.shutdown(wait=False)
    return {
        **_figures(both, by_channel, late),
        "feed_pull": _latency(pulls),  # one pull: Ozon's lists read, every event in them applied or found repeated
        "feed_pull_repeated_events": {
            "max": max(repeats, default=0),
            "mean": round(mean(repeats), 1) if repeats else 0,
        },
    }


async def _direct(world: World, sizes: Sizes, log: Callable[[str], None]) -> Json:
    """Cancelled by ``OrderDesk.cancel``: no polling. The emulator's posting is cancelled afterwards, unread."""

    async def by_desk(posting: str, order_id: int) -> None:
        await world.services.shop.orders.cancel(order_id, "bench baseline")
        world.ozon.cancel_posting(posting, "bench baseline")  # so the next orders pull does not list it again

    both, by_channel, late = await _samples(world, sizes, by_desk, log)
    return _figures(both, by_channel, late)


def _latency(samples_s: list[float]) -> Json:
    """The common figures, with p95 beside them."""
    figures = latency_figures(samples_s)
    if samples_s:
        figures["p95_ms"] = round(percentile(sorted(s * 1000 for s in samples_s), 95), 3)
    return figures


def _by_fifty(both: list[float]) -> list[Json]:
    """p50/p99 of each run of 50 samples in turn: how the figures move as cancellations pile up in Ozon's
    look-back, which every pull reads again."""
    chunks = [both[start : start + 50] for start in range(0, len(both), 50)]
    return [
        {"samples": f"{50 * n + 1}-{50 * n + len(chunk)}", **{k: v for k, v in _latency(chunk).items() if k != "count"}}
        for n, chunk in enumerate(chunks)
    ]


def _figures(both: list[float], by_channel: dict[str, list[float]], late: list[str]) -> Json:
    return {
        "both_channels": _latency(both),
        "by_fifty_in_turn": _by_fifty(both),
        "by_channel": {name: _latency(samples) for name, samples in by_channel.items()},
        f"not_arrived_within_{GIVE_UP_S:g}_s": late,
    }


async def _world_ready(world: World) -> None:
    """Every SKU at :data:`QTY` in 1C's figures and shown so by both others before anything is measured."""
    shop = world.services.shop
    await shop.ledger.apply_stock(shop.clock.now(), [StockFigure(sku, "online", QTY) for sku in world.skus])
    shop.wake_dispatchers()
    for n in range(len(world.skus)):
        if await world.arrived(n, QTY, time.perf_counter()) is None:
            raise RuntimeError(f"{world.skus[n]} never reached the others")


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    skus = [f"CXL-{n:04d}" for n in range(sizes.samples)]
    cards = [{"vendorCode": s, "sizes": [{"chrtId": FIRST_CHRT_ID + n, "techSize": "0"}]} for n, s in enumerate(skus)]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        async with (
            WildberriesEmulator(token="wb", warehouses={WB_WAREHOUSE: "Склад"}, cards=cards) as wb,
            OzonEmulator("ozon-client", "ozon-key", [OZON_WAREHOUSE], skus) as ozon,
            YandexMarketEmulator("ym", CAMPAIGN, offers=skus) as ym,
        ):
            env = {
                "DATABASE_URL": sqlite_url(Path(folder) / "cancellation.db"), "STOREOPS_CONFIG": str(EXAMPLE_CONFIG),
                "API_TOKEN": "bench-cancellation-token", "WB_TOKEN": "wb", "WB_API_BASE": wb.base_url,
                "WB_CONTENT_API_BASE": wb.base_url, "OZON_CLIENT_ID": "ozon-client", "OZON_API_KEY": "ozon-key",
                "OZON_API_BASE": ozon.base_url, "YM_API_KEY": "ym", "YM_API_BASE": ym.base_url,
                "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": "",
            }  # fmt: skip
            with environment(env):
                settings = load_settings(env_file=None)
            services = await build(settings, shop(), clock=SystemClock())
            world = World(services, wb, ozon, ym, skus)
            try:
                await _world_ready(world)
                log(f"cancellation: {sizes.samples} Ozon cancellations, the feed polled every {sizes.interval_s:g} s")
                feed = await _through_the_feed(world, sizes, log)
                log(f"cancellation: baseline, {sizes.samples} direct cancellations")
                direct = await _direct(world, sizes, log)
            finally:
                await services.close()
    return _result(quick, probe, sizes, feed, direct, time.perf_counter() - started)


def _result(quick: bool, probe: PgProbe, sizes: Sizes, feed: Json, direct: Json, seconds: float) -> Json:
    late_key = f"not_arrived_within_{GIVE_UP_S:g}_s"
    ours, base = feed["both_channels"], direct["both_channels"]
    target_ms = (sizes.interval_s + 1.0) * 1000
    ratios = {q: round(ours[q] / base[q], 2) if ours.get(q) and base.get(q) else None for q in ("p50_ms", "p99_ms")}
    result: Json = {
        "benchmark": "cancellation",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "database": "SQLite file",
            "cancelled_on": "ozon (its emulator, the real client, the order-events feed on an interval job)",
            "measured_at": ", ".join(OTHERS),
            "limits": "the emulators' real limits",
        },
        "through_the_feed": feed,
        "baseline_direct_cancel": direct,
        "ratio_to_baseline": ratios,
        "seconds": round(seconds, 1),
    }
    p99 = ours.get("p99_ms")
    result["summary"] = {
        "samples": ours.get("count", 0),
        "poll_interval_s": sizes.interval_s,
        "p50_ms": ours.get("p50_ms"),
        "p95_ms": ours.get("p95_ms"),
        "p99_ms": p99,
        "max_ms": ours.get("max_ms"),
        "baseline_p50_ms": base.get("p50_ms"),
        "baseline_p99_ms": base.get("p99_ms"),
        "ratio_p99_to_baseline": ratios["p99_ms"],
        "target_p99_ms": target_ms,
        "target_met": p99 is not None and p99 <= target_ms and not feed[late_key],
    }
    return result
