"""Full sync: every SKU to three marketplaces at once, against their limits — time ÷ the minimum.

100 000 SKUs stocked online, then each of Wildberries, Ozon and Yandex Market must be told all
of them. The real dispatchers (``workflows.sync``) and clients run against the emulators, whose
limits keep their real shape (request sizes, rates, bursts, Ozon's sliding minute, Yandex
Market's 4 in flight) with every rate multiplied by one common ``scale`` so the run fits in about
a minute (Ozon alone needs 12.5 minutes at its real rate). The clients' gates are scaled by the
same factor. The three channels' dispatchers drain concurrently, as the scheduler runs them.

The emulators run in a process of their own (``bench.emulator_host``), as the marketplaces are
other machines in production: the service process (engine, clients, SQLite) has a core to itself
and the emulators the other. At the end the emulators report each marketplace's stock, and every
SKU must show the quantity 1C gave it.

The minimum a channel's limits allow is requests ÷ rate (Wildberries 100 requests at 300/min,
Ozon 1 000 at 80/min, Yandex Market 100 000 SKUs at 100 000/min), over ``scale``; the run's is
the largest of the three. Reported: time ÷ minimum per channel and overall (target ≤ 1.05), CPU
time per SKU-channel and peak memory of the service process and of the emulators' apart, where
each channel's time went (waiting on its gate, in the request, in the engine between requests),
and apart from that the time the 1C import took to queue every push (not part of the ratio).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from app.bootstrap import SystemClock, build
from app.settings import load_settings
from bench import emulator_host as host
from bench import propagation
from bench.common import Json, PgProbe, machine_facts, process_cpu_s, sqlite_url
from bench.stock_latency import EXAMPLE_CONFIG, environment
from integrations.ozon import GATE_BURST, GATE_PER_MINUTE, OzonClient
from integrations.rate_gate import RateGate
from integrations.wildberries import WildberriesClient
from integrations.yandex_market import YandexMarketClient
from workflows.channels import ChannelClient, ChannelOrder, PushOutcome, StockLine
from workflows.model import StockFigure
from workflows.sync import SyncDispatcher, SyncOutbox

TARGET_RATIO = 1.05
# The channels' published limits, as rates: requests (or SKUs) per minute and lines per request.
WB_PER_MIN, WB_BATCH = 300, 1000
OZON_PER_MIN, OZON_BATCH = host.OZON_PER_MIN, 100
YM_SKUS_PER_MIN = host.YM_SKUS_PER_MIN
# The clients' default gates (per minute, burst): Wildberries' stocks group, Ozon's stock updates (requests),
# Yandex Market's pushes (SKUs).
GATES = {"wildberries": (300, 20), "ozon": (GATE_PER_MINUTE, GATE_BURST), "yandex_market": (90_000, 10_000)}
HOST_START_S = 120.0
HOST_STOP_S = 60.0
REPO = Path(__file__).resolve().parent.parent
LAYOUT = ("service (engine, clients, SQLite) in one process and event loop; the three emulators in another "
          "(bench.emulator_host), over HTTP on 127.0.0.1")  # fmt: skip

assert (host.WB_WAREHOUSE, host.OZON_WAREHOUSE, host.CAMPAIGN) == (
    propagation.WB_WAREHOUSE,
    propagation.OZON_WAREHOUSE,
    propagation.CAMPAIGN,
), "the emulators must serve the shop's warehouses and campaign"


@dataclass(frozen=True)
class Sizes:
    skus: int
    scale: float


FULL = Sizes(skus=100_000, scale=15.0)
QUICK = Sizes(skus=10_000, scale=15.0)


def minimum_s(skus: int, scale: float) -> dict[str, float]:
    return {
        "wildberries": math.ceil(skus / WB_BATCH) / (WB_PER_MIN * scale / 60),
        "ozon": math.ceil(skus / OZON_BATCH) / (OZON_PER_MIN * scale / 60),
        "yandex_market": skus / (YM_SKUS_PER_MIN * scale / 60),
    }


@dataclass
class _Timed:
    """A channel client that counts its pushes and the time spent in them (the gate's wait included), so the
    rest of a channel's drain is the engine's (claiming, mapping, settling)."""

    client: ChannelClient
    gate: RateGate
    name: str = ""
    batch_limit: int = 0
    pushes: int = 0
    in_push_s: float = 0.0
    first_at: float | None = None
    last_done_at: float = 0.0

    def __post_init__(self) -> None:
        self.name, self.batch_limit = self.client.name, self.client.batch_limit

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        began = time.perf_counter()
        self.first_at = began if self.first_at is None else self.first_at
        try:
            return await self.client.push_stock(lines)
        finally:
            self.last_done_at = time.perf_counter()
            self.pushes += 1
            self.in_push_s += self.last_done_at - began

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        return await self.client.read_stock(lines)

    async def new_orders(self) -> list[ChannelOrder]:
        return await self.client.new_orders()


@dataclass
class EmulatorHost:
    process: asyncio.subprocess.Process
    urls: dict[str, str]
    report: Path

    def cpu_s(self) -> float | None:
        return process_cpu_s(self.process.pid)

    async def stop(self) -> Json:
        """SIGTERM, then the facts the emulators wrote as they stopped."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), HOST_STOP_S)
        if code != 0:
            raise RuntimeError(f"the emulator host exited with {code}")
        facts: Json = json.loads(self.report.read_text())
        return facts


@asynccontextmanager
async def emulators(sizes: Sizes, folder: Path) -> AsyncIterator[EmulatorHost]:
    """The three emulators in a process of their own (``bench.emulator_host``), stopped on the way out."""
    report = folder / "emulators.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.emulator_host", "--skus", str(sizes.skus), "--scale", repr(sizes.scale),
        "--report", str(report), cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), HOST_START_S)
        if not line:
            raise RuntimeError(f"the emulator host stopped before serving (exit {await process.wait()})")
        yield EmulatorHost(process, json.loads(line), report)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    f = sizes.scale
    skus = host.catalogue(sizes.skus)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        async with (
            emulators(sizes, Path(folder)) as emulated,
            httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=20)) as http,
        ):
            env = {"DATABASE_URL": sqlite_url(Path(folder) / "full_sync.db"), "STOREOPS_CONFIG": str(EXAMPLE_CONFIG),
                   "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": ""}  # fmt: skip
            with environment(env):
                settings = load_settings(env_file=None)
            services = await build(settings, propagation.shop(), clock=SystemClock())
            url = emulated.urls
            wildberries = WildberriesClient(
                http,
                token=host.WB_TOKEN,
                marketplace_base=url["wildberries"],
                content_base=url["wildberries"],
                warehouse_id=host.WB_WAREHOUSE,
                gate=RateGate(GATES["wildberries"][0] * f, GATES["wildberries"][1]),
                content_gate=RateGate(1_000_000, 1_000),
            )
            ozon_gate = RateGate(GATES["ozon"][0] * f, GATES["ozon"][1])
            ym_gate = RateGate(GATES["yandex_market"][0] * f, GATES["yandex_market"][1])
            timed = {
                "wildberries": _Timed(wildberries, wildberries.gate),
                "ozon": _Timed(OzonClient(http, client_id=host.OZON_CLIENT, api_key=host.OZON_KEY, base=url["ozon"],
                                          warehouse_id=host.OZON_WAREHOUSE, gate=ozon_gate), ozon_gate),
                "yandex_market": _Timed(YandexMarketClient(http, api_key=host.YM_KEY, base=url["yandex_market"],
                                                           campaign_id=host.CAMPAIGN, gate=ym_gate), ym_gate),
            }  # fmt: skip
            clients: dict[str, ChannelClient] = dict(timed)
            shop = services.shop
            shop.uow.hooks.before[:] = [SyncOutbox(shop.topology, shop.clock, clients).before_commit]
            dispatchers = [
                SyncDispatcher(shop.uow, shop.clock, c, shop.alerts, shop.operations, owner="bench")
                for c in clients.values()
            ]  # fmt: skip
            try:
                learned = await wildberries.learn_products()
                log(f"full sync: {sizes.skus} SKUs × 3 marketplaces, limits × {f:g}; {learned} WB sizes learned")
                queued_at = time.perf_counter()
                await services.shop.ledger.apply_stock(
                    services.shop.clock.now(),
                    [StockFigure(sku, "online", host.quantity(n)) for n, sku in enumerate(skus)],
                )
                queue_s = time.perf_counter() - queued_at
                async with services.shop.uow(read_only=True) as work:
                    depth = await work.outbox.depth()
                log(f"full sync: 1C import queued {sum(d for d, _ in depth.values())} pushes in {queue_s:.1f} s")
                rss_before_drain = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                emulator_cpu0 = emulated.cpu_s()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                took: dict[str, float] = {}

                async def drain(dispatcher: SyncDispatcher) -> None:
                    await dispatcher.drain()  # what the 1C import's commit sets off (kick)
                    took[dispatcher.name] = time.perf_counter() - wall0

                await asyncio.gather(*(drain(d) for d in dispatchers))
                wall = time.perf_counter() - wall0
                cpu = time.process_time() - cpu0
                emulator_cpu1 = emulated.cpu_s()
                async with services.shop.uow(read_only=True) as work:
                    left = await work.outbox.depth()
            finally:
                await services.close()
            facts = await emulated.stop()
    service_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    expected = {sku: host.quantity(n) for n, sku in enumerate(skus)}
    stock: dict[str, dict[str, int]] = facts["stock"]
    shown = {name: len(held) for name, held in stock.items()}
    right = {name: sum(1 for sku, qty in expected.items() if held.get(sku) == qty) for name, held in stock.items()}
    emulator_cpu = emulator_cpu1 - emulator_cpu0 if emulator_cpu0 is not None and emulator_cpu1 is not None else None
    least = minimum_s(sizes.skus, f)
    ratios = {name: round(took[name] / least[name], 3) for name in least}
    overall = round(wall / max(least.values()), 3)
    per_sku_channel = 3 * sizes.skus
    # What the clients' own gates allow at best (their rate and burst, × scale): the minimum above is the
    # channels' limits; a gate may keep a margin below them (Ozon's: 76 a minute + 4 at once, not 80).
    gate_units = {"wildberries": timed["wildberries"].pushes, "ozon": timed["ozon"].pushes, "yandex_market": sizes.skus}
    gate_floor = {
        name: max(0, gate_units[name] - burst) / (per_minute * f / 60) for name, (per_minute, burst) in GATES.items()
    }
    time_went = {
        name: {
            "requests": t.pushes,
            "gate_floor_seconds": round(gate_floor[name], 2),
            "gate_floor_ratio": round(gate_floor[name] / least[name], 3),
            "first_push_after_seconds": round((t.first_at or wall0) - wall0, 3),
            "in_push_seconds": round(t.in_push_s, 2),  # the gate's wait, the request and the client's own work
            "gate_wait_seconds": round(t.gate.waited_s, 2),
            # from the first push to the end of the last, not in a push: waiting for claimed lines, pause checks
            # (a push includes its gate's wait, so time here while the gate had no token to give is not lost)
            "between_pushes_seconds": round(t.last_done_at - (t.first_at or t.last_done_at) - t.in_push_s, 2),
            "after_last_push_seconds": round(wall0 + took[name] - t.last_done_at, 3),  # the last settle
        }
        for name, t in timed.items()
    }
    emulator_ms = round(emulator_cpu * 1000 / per_sku_channel, 4) if emulator_cpu is not None else None
    result: Json = {
        "benchmark": "full_sync",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "database": "SQLite file",
            "gates": "the clients' defaults × scale",
            "client_gates": {name: {"per_minute": rate, "burst": burst} for name, (rate, burst) in GATES.items()},
            "process": LAYOUT,
        },
        "queue_seconds": round(queue_s, 1),
        "drain_seconds": {name: round(s, 2) for name, s in took.items()},
        "minimum_seconds": {name: round(s, 2) for name, s in least.items()},
        "ratio_to_minimum": ratios,
        "overall_seconds": round(wall, 2),
        "overall_ratio": overall,
        "where_the_time_went": time_went,
        "service": {
            "cpu_seconds": round(cpu, 2),
            "cpu_ms_per_sku_channel": round(cpu * 1000 / per_sku_channel, 4),
            "peak_rss_mb": round(service_rss, 1),
            "peak_rss_mb_before_the_drain": round(rss_before_drain, 1),  # the 1C import of every SKU
        },
        "emulators": {
            "cpu_seconds": round(emulator_cpu, 2) if emulator_cpu is not None else None,
            "cpu_ms_per_sku_channel": emulator_ms,
            "cpu_seconds_whole_life": facts["cpu_seconds"],
            "peak_rss_mb": facts["peak_rss_mb"],
            "requests": facts["requests"],
            "yandex_market_peak_in_flight": facts["yandex_market_peak_in_flight"],
        },
        "refused_by_limits": facts["refused_by_limits"],
        "skus_shown_per_channel": shown,
        "skus_right_per_channel": right,
        "left_in_outbox": {k: v[0] for k, v in left.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["summary"] = {
        "skus": sizes.skus,
        "scale": f,
        "overall_ratio": overall,
        "ratio_by_channel": ratios,
        "gate_floor_ratio_by_channel": {name: went["gate_floor_ratio"] for name, went in time_went.items()},
        "target_ratio": TARGET_RATIO,
        "target_met": overall <= TARGET_RATIO and all(v == sizes.skus for v in right.values()),
        "all_skus_right": all(v == sizes.skus for v in right.values()),
        "service_cpu_ms_per_sku_channel": result["service"]["cpu_ms_per_sku_channel"],
        "emulators_cpu_ms_per_sku_channel": result["emulators"]["cpu_ms_per_sku_channel"],
        "service_peak_rss_mb": result["service"]["peak_rss_mb"],
        "emulators_peak_rss_mb": result["emulators"]["peak_rss_mb"],
        "refused_by_limits": facts["refused_by_limits"],
        "process": LAYOUT,
    }
    return result
