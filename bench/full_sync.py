"""Full sync: every SKU to three marketplaces at once, against their limits — time ÷ the minimum.

100 000 SKUs stocked online, then each of Wildberries, Ozon and Yandex Market must be told all
of them. The real dispatchers (``workflows.sync``) and clients run against the emulators, whose
limits keep their real shape (request sizes, rates, bursts, Ozon's sliding minute, Yandex
Market's 4 in flight) with every rate multiplied by one common ``scale`` so the run fits in about
a minute (Ozon alone needs 12.5 minutes at its real rate). The clients' gates are scaled by the
same factor. The three channels' dispatchers drain concurrently, as the scheduler runs them.

The minimum a channel's limits allow is requests ÷ rate (Wildberries 100 requests at 300/min,
Ozon 1 000 at 80/min, Yandex Market 100 000 SKUs at 100 000/min), over ``scale``; the run's is
the largest of the three. Reported: time ÷ minimum per channel and overall (target ≤ 1.05),
CPU time per SKU-channel, peak memory, and apart from that the time the 1C import took to
queue every push (not part of the ratio).
"""

from __future__ import annotations

import asyncio
import math
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import httpx

from app.bootstrap import SystemClock, build
from app.settings import load_settings
from bench.common import Json, PgProbe, machine_facts, sqlite_url
from bench.propagation import CAMPAIGN, OZON_WAREHOUSE, WB_WAREHOUSE, shop
from bench.stock_latency import EXAMPLE_CONFIG, environment
from emulators.ozon import OzonEmulator
from emulators.wildberries import WildberriesEmulator
from emulators.wildberries.rate_limit import ORDERS, STOCKS, BucketPolicy
from emulators.yandex_market import YandexMarketEmulator
from integrations.ozon import GATE_BURST, GATE_PER_MINUTE, OzonClient
from integrations.rate_gate import RateGate
from integrations.wildberries import WildberriesClient
from integrations.yandex_market import YandexMarketClient
from workflows.channels import ChannelClient
from workflows.model import StockFigure
from workflows.sync import SyncDispatcher, SyncOutbox

TARGET_RATIO = 1.05
# The channels' published limits, as rates: requests (or SKUs) per minute and lines per request.
WB_PER_MIN, WB_BATCH = 300, 1000
OZON_PER_MIN, OZON_BATCH = 80, 100
YM_SKUS_PER_MIN = 100_000


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


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    f = sizes.scale
    skus = [f"FS-{n:06d}" for n in range(sizes.skus)]
    cards = [{"vendorCode": sku, "sizes": [{"chrtId": 1_000_000 + n, "techSize": "0"}]} for n, sku in enumerate(skus)]
    wb_buckets: dict[Literal["stocks", "orders", "content"], BucketPolicy] = {
        "stocks": BucketPolicy(STOCKS.per_minute * f, STOCKS.burst, STOCKS.conflict_cost),
        "orders": BucketPolicy(ORDERS.per_minute * f, ORDERS.burst),
        "content": BucketPolicy(1_000_000, 1_000),  # learning the cards is preparation, not measured
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        async with (
            WildberriesEmulator(token="wb", warehouses={WB_WAREHOUSE: "Склад"}, cards=cards, buckets=wb_buckets) as wb,
            OzonEmulator("ozon-client", "ozon-key", [OZON_WAREHOUSE], skus,
                         stock_updates_per_minute=int(OZON_PER_MIN * f), requests_per_second=int(50 * f)) as ozon,
            YandexMarketEmulator("ym", CAMPAIGN, offers=skus, skus_per_minute=int(YM_SKUS_PER_MIN * f)) as ym,
            httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=20)) as http,
        ):  # fmt: skip
            env = {"DATABASE_URL": sqlite_url(Path(folder) / "full_sync.db"), "STOREOPS_CONFIG": str(EXAMPLE_CONFIG),
                   "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": ""}  # fmt: skip
            with environment(env):
                settings = load_settings(env_file=None)
            services = await build(settings, shop(), clock=SystemClock())
            wildberries = WildberriesClient(
                http,
                token="wb",
                marketplace_base=wb.base_url,
                content_base=wb.base_url,
                warehouse_id=WB_WAREHOUSE,
                gate=RateGate(300 * f, 20),
                content_gate=RateGate(1_000_000, 1_000),
            )
            clients: dict[str, ChannelClient] = {
                "wildberries": wildberries,
                "ozon": OzonClient(http, client_id="ozon-client", api_key="ozon-key", base=ozon.base_url,
                                   warehouse_id=OZON_WAREHOUSE, gate=RateGate(GATE_PER_MINUTE * f, GATE_BURST)),
                "yandex_market": YandexMarketClient(http, api_key="ym", base=ym.base_url, campaign_id=CAMPAIGN,
                                                    gate=RateGate(90_000 * f, 10_000)),
            }  # fmt: skip
            services.uow.before_commit = SyncOutbox(services.topology, services.clock, clients).before_commit  # type: ignore[attr-defined]
            dispatchers = [
                SyncDispatcher(services.uow, services.clock, c, services.alerts, services.operations, owner="bench")
                for c in clients.values()
            ]  # fmt: skip
            try:
                learned = await wildberries.learn_products()
                log(f"full sync: {sizes.skus} SKUs × 3 marketplaces, limits × {f:g}; {learned} WB sizes learned")
                queued_at = time.perf_counter()
                await services.ledger.apply_stock(
                    services.clock.now(), [StockFigure(sku, "online", 1 + n % 50) for n, sku in enumerate(skus)]
                )
                queue_s = time.perf_counter() - queued_at
                async with services.uow(read_only=True) as work:
                    depth = await work.outbox.depth()
                log(f"full sync: 1C import queued {sum(d for d, _ in depth.values())} pushes in {queue_s:.1f} s")
                cpu0, wall0 = time.process_time(), time.perf_counter()
                took: dict[str, float] = {}

                async def drain(dispatcher: SyncDispatcher) -> None:
                    while await dispatcher.run_once():
                        pass
                    took[dispatcher.name] = time.perf_counter() - wall0

                await asyncio.gather(*(drain(d) for d in dispatchers))
                wall = time.perf_counter() - wall0
                cpu = time.process_time() - cpu0
                async with services.uow(read_only=True) as work:
                    left = await work.outbox.depth()
            finally:
                await services.close()
            refused = {
                "wildberries": len([c for c in wb.received if c.status == 429]),
                "ozon": len([c for c in ozon.calls() if c.status == 429]),
                "yandex_market": len([c for c in ym.calls if c.status in (420, 429)]),
            }
            shown = {
                "wildberries": sum(1 for n in range(sizes.skus) if wb.stock(WB_WAREHOUSE, 1_000_000 + n) is not None),
                "ozon": sum(1 for sku in skus if ozon.stock(OZON_WAREHOUSE, sku) is not None),
                "yandex_market": sum(1 for sku in skus if ym.stock(sku) is not None),
            }
    least = minimum_s(sizes.skus, f)
    ratios = {name: round(took[name] / least[name], 3) for name in least}
    overall = round(wall / max(least.values()), 3)
    result: Json = {
        "benchmark": "full_sync",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {**asdict(sizes), "database": "SQLite file", "gates": "the clients' defaults × scale",
                       "process": "service, three emulators and the clients in one process and event loop"},
        "queue_seconds": round(queue_s, 1),
        "drain_seconds": {name: round(s, 2) for name, s in took.items()},
        "minimum_seconds": {name: round(s, 2) for name, s in least.items()},
        "ratio_to_minimum": ratios,
        "overall_seconds": round(wall, 2),
        "overall_ratio": overall,
        "cpu_seconds": round(cpu, 2),
        "cpu_ms_per_sku_channel": round(cpu * 1000 / (3 * sizes.skus), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "refused_by_limits": refused,
        "skus_shown_per_channel": shown,
        "left_in_outbox": {k: v[0] for k, v in left.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    result["summary"] = {
        "skus": sizes.skus,
        "scale": f,
        "overall_ratio": overall,
        "ratio_by_channel": ratios,
        "target_ratio": TARGET_RATIO,
        "target_met": overall <= TARGET_RATIO and all(v == sizes.skus for v in shown.values()),
        "cpu_ms_per_sku_channel": result["cpu_ms_per_sku_channel"],
        "peak_rss_mb": result["peak_rss_mb"],
        "refused_by_limits": refused,
    }
    return result
