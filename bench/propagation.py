"""Propagation: one SKU's stock pushed by 1C reaches all three marketplaces — how long.

The real service (``app.bootstrap.build``, system clock, SQLite file, HTTP server on a free
port) with the real Wildberries, Ozon and Yandex Market clients against their emulators, which
enforce the real limits (Wildberries 300/min burst 20, Ozon 80/min and once per pair per 30 s,
Yandex Market 4 in flight). Once a second (what Ozon's 80 requests a minute allow, channels
healthy), 1C posts one SKU's figure to ``POST /api/1c/stock`` over HTTP; the time is from
sending that request to the last of the three emulators holding the new figure (polled every
millisecond). The commit wakes the dispatchers; the one-second scheduled run is not used here.
Before: the shop's old sync ran every 15 minutes.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from aiohttp import web

from app.bootstrap import SystemClock, build
from app.http.server import create_app
from app.settings import load_settings
from bench.common import Json, PgProbe, latency_figures, machine_facts, sqlite_url
from bench.stock_latency import EXAMPLE_CONFIG, environment
from emulators.ozon import OzonEmulator
from emulators.wildberries import WildberriesEmulator
from emulators.yandex_market import YandexMarketEmulator
from workflows.topology import Topology

WB_WAREHOUSE, OZON_WAREHOUSE, CAMPAIGN = 658434, 1020000001, 21_000_001
TOKEN = "bench-propagation-token-01"
TARGET_P99_MS = 1000.0


@dataclass(frozen=True)
class Sizes:
    samples: int
    every_s: float


FULL = Sizes(samples=120, every_s=1.0)
QUICK = Sizes(samples=15, every_s=1.0)


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


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    skus = [f"PROP-{n:04d}" for n in range(sizes.samples)]
    cards = [{"vendorCode": sku, "sizes": [{"chrtId": 100_000 + n, "techSize": "0"}]} for n, sku in enumerate(skus)]
    latencies: list[float] = []
    late: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        async with (
            WildberriesEmulator(token="wb", warehouses={WB_WAREHOUSE: "Склад"}, cards=cards) as wb,
            OzonEmulator("ozon-client", "ozon-key", [OZON_WAREHOUSE], skus) as ozon,
            YandexMarketEmulator("ym", CAMPAIGN, offers=skus) as ym,
        ):
            env = {
                "DATABASE_URL": sqlite_url(Path(folder) / "propagation.db"), "STOREOPS_CONFIG": str(EXAMPLE_CONFIG),
                "API_TOKEN": TOKEN, "WB_TOKEN": "wb", "WB_API_BASE": wb.base_url, "WB_CONTENT_API_BASE": wb.base_url,
                "OZON_CLIENT_ID": "ozon-client", "OZON_API_KEY": "ozon-key", "OZON_API_BASE": ozon.base_url,
                "YM_API_KEY": "ym", "YM_API_BASE": ym.base_url, "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": "",
            }  # fmt: skip
            with environment(env):
                settings = load_settings(env_file=None)
            services = await build(settings, shop(), clock=SystemClock())
            runner = web.AppRunner(create_app(services), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            host, port = runner.addresses[0][:2]
            log(f"propagation: {sizes.samples} one-SKU pushes from 1C, one every {sizes.every_s:g} s")
            try:
                async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=30) as http:
                    for n, sku in enumerate(skus):
                        qty = 7 + n % 5
                        body = {"as_of": services.shop.clock.now().isoformat(), "items": [
                            {"sku": sku, "warehouse": "online", "qty": qty}]}  # fmt: skip
                        begin = time.perf_counter()
                        response = await http.post("/api/1c/stock", json=body,
                                                   headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
                        response.raise_for_status()
                        give_up = begin + 30
                        while time.perf_counter() < give_up:
                            shown = ym.stock(sku)
                            if (
                                wb.stock(WB_WAREHOUSE, 100_000 + n) == qty
                                and ozon.stock(OZON_WAREHOUSE, sku) == qty
                                and shown is not None
                                and shown.count == qty
                            ):
                                latencies.append(time.perf_counter() - begin)
                                break
                            await asyncio.sleep(0.001)
                        else:
                            late.append(sku)
                        await asyncio.sleep(max(0.0, begin + sizes.every_s - time.perf_counter()))
            finally:
                await runner.cleanup()
                await services.close()
    figures = latency_figures(latencies)
    p99 = figures.get("p99_ms")
    result: Json = {
        "benchmark": "propagation",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "database": "SQLite file",
            "channels": "wildberries, ozon, yandex_market",
            "limits": "the emulators' real limits",
        },
        "propagation": figures,
        "not_arrived_within_30_s": late,
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["summary"] = {
        "samples": len(latencies),
        "p50_ms": figures.get("p50_ms"),
        "p99_ms": p99,
        "max_ms": figures.get("max_ms"),
        "target_p99_ms": TARGET_P99_MS,
        "target_met": p99 is not None and p99 <= TARGET_P99_MS and not late,
        "before": "every 15 minutes (the shop's old sync)",
    }
    return result
