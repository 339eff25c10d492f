"""The full-sync and price benchmarks' three marketplace emulators in a process of their own.

``python -m bench.emulator_host --skus N --scale F --report PATH`` starts the Wildberries, Ozon and Yandex
Market emulators on 127.0.0.1 with the catalogue of :func:`catalogue` and every rate limit multiplied by ``F``
(the shapes kept: request sizes, bursts, Ozon's sliding minute, Yandex Market's 4 in flight); ``--channel-scale
ozon=15`` (repeatable) gives one marketplace a factor of its own (1: its real limits). It prints one JSON
line ``{"wildberries": url, "ozon": url, "yandex_market": url}`` on stdout, and serves until SIGTERM (or
SIGINT). Then it writes to ``PATH`` what the benchmark checks: each marketplace's stock and price per SKU, the stock
and price requests each received and those it refused for its limits, the most Yandex Market saw in flight, and the
process's own CPU time and peak memory; and exits.

Running the emulators here gives the service under test a core of its own, as it has in production, where the
marketplaces are somebody else's servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emulators.ozon import OzonEmulator
from emulators.wildberries import WildberriesEmulator
from emulators.wildberries.rate_limit import ORDERS, PRICES, STOCKS, BucketPolicy
from emulators.wildberries.server import Group
from emulators.yandex_market import YandexMarketEmulator
from emulators.yandex_market.prices import OFFERS_PER_MINUTE

WB_WAREHOUSE, OZON_WAREHOUSE, CAMPAIGN = 658434, 1020000001, 21_000_001  # as bench.propagation's shop
WB_TOKEN, OZON_CLIENT, OZON_KEY, YM_KEY = "wb", "ozon-client", "ozon-key", "ym"
OZON_PER_MIN, OZON_PER_SECOND = 80, 50
YM_SKUS_PER_MIN = 100_000
WB_PRICE_REQUESTS_PER_MIN, WB_PRICE_BURST = PRICES.per_minute, PRICES.burst
YM_PRICE_OFFERS_PER_MIN = OFFERS_PER_MINUTE
FIRST_CHRT_ID = 1_000_000


def catalogue(skus: int) -> list[str]:
    """The SKUs of the benchmark; SKU ``n`` is offer id ``FS-n`` everywhere and WB size ``FIRST_CHRT_ID + n``."""
    return [f"FS-{n:06d}" for n in range(skus)]


def quantity(n: int) -> int:
    """The quantity the 1C import gives SKU ``n``, and so what every marketplace must end up showing."""
    return 1 + n % 50


CHANNELS = ("wildberries", "ozon", "yandex_market")


async def serve(skus: int, scales: dict[str, float], report: Path) -> None:
    """Serve until SIGTERM; ``scales`` is each marketplace's factor on its limits."""
    names = catalogue(skus)
    wb_f, ozon_f, ym_f = (scales[name] for name in CHANNELS)
    cards = [
        {"vendorCode": sku, "sizes": [{"chrtId": FIRST_CHRT_ID + n, "techSize": "0"}]} for n, sku in enumerate(names)
    ]
    wb_buckets: dict[Group, BucketPolicy] = {
        "stocks": BucketPolicy(STOCKS.per_minute * wb_f, STOCKS.burst, STOCKS.conflict_cost),
        "orders": BucketPolicy(ORDERS.per_minute * wb_f, ORDERS.burst),
        "content": BucketPolicy(1_000_000, 1_000),  # learning the cards is preparation, not measured
        "prices": BucketPolicy(PRICES.per_minute * wb_f, PRICES.burst),
    }
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with (
        WildberriesEmulator(token=WB_TOKEN, warehouses={WB_WAREHOUSE: "Склад"}, cards=cards, buckets=wb_buckets) as wb,
        OzonEmulator(OZON_CLIENT, OZON_KEY, [OZON_WAREHOUSE], names,
                     stock_updates_per_minute=int(OZON_PER_MIN * ozon_f),
                     requests_per_second=int(OZON_PER_SECOND * ozon_f)) as ozon,
        YandexMarketEmulator(YM_KEY, CAMPAIGN, offers=names, skus_per_minute=int(YM_SKUS_PER_MIN * ym_f),
                             price_offers_per_minute=int(YM_PRICE_OFFERS_PER_MIN * ym_f)) as ym,
    ):  # fmt: skip
        urls = {"wildberries": wb.base_url, "ozon": ozon.base_url, "yandex_market": ym.base_url}
        print(json.dumps(urls), flush=True)
        await stop.wait()
        ym_stock = {sku: entry.count for sku in names if (entry := ym.stock(sku)) is not None}
        facts: dict[str, Any] = {
            "stock": {
                "wildberries": {
                    sku: qty
                    for n, sku in enumerate(names)
                    if (qty := wb.stock(WB_WAREHOUSE, FIRST_CHRT_ID + n)) is not None
                },
                "ozon": {sku: qty for sku in names if (qty := ozon.stock(OZON_WAREHOUSE, sku)) is not None},
                "yandex_market": ym_stock,
            },
            "price": prices(names, wb, ozon, ym),
            "requests": {
                "wildberries": len(wb.calls("/api/v3/stocks")),
                "ozon": len(ozon.calls("/v2/products/stocks")),
                "yandex_market": len([c for c in ym.calls if c.method == "PUT"]),
            },
            "price_requests": {
                "wildberries": len(wb.calls("/api/v2/")),  # uploads and reads of the prices API
                "ozon": len(ozon.calls("/v1/product/import/prices")),
                "yandex_market": len([c for c in ym.calls if c.path.endswith("/offer-prices/updates")]),
            },
            "refused_by_limits": {
                "wildberries": len([c for c in wb.received if c.status == 429]),
                "ozon": len([c for c in ozon.calls() if c.status == 429]),
                "yandex_market": len([c for c in ym.calls if c.status in (420, 429)]),
            },
            "yandex_market_peak_in_flight": ym.in_flight.peak,
        }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    facts["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
    facts["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    facts["at"] = time.time()
    report.write_text(json.dumps(facts))  # noqa: ASYNC240 - the last thing the process does


def prices(
    names: list[str], wb: WildberriesEmulator, ozon: OzonEmulator, ym: YandexMarketEmulator
) -> dict[str, dict[str, str]]:
    """What each marketplace shows as each SKU's price (roubles as text; a SKU never priced is left out)."""
    shown: dict[str, dict[str, str]] = {"wildberries": {}, "ozon": {}, "yandex_market": {}}
    for n, sku in enumerate(names):
        if (whole := wb.price(FIRST_CHRT_ID + n)) is not None:
            shown["wildberries"][sku] = str(whole)
        if (price := ozon.price(sku)) is not None:
            shown["ozon"][sku] = str(price)
        if (entry := ym.price(sku)) is not None:
            shown["yandex_market"][sku] = str(entry.value)
    return shown


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_host", description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, required=True)
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--channel-scale", action="append", default=[], metavar="NAME=F",
                        help=f"one marketplace's own factor ({', '.join(CHANNELS)}); repeatable")  # fmt: skip
    parser.add_argument("--report", type=Path, required=True, help="where to write the facts at the end (JSON)")
    args = parser.parse_args(argv)
    scales = dict.fromkeys(CHANNELS, args.scale)
    for given in args.channel_scale:
        name, _, factor = given.partition("=")
        if name not in CHANNELS or not factor:
            parser.error(f"--channel-scale takes NAME=F with NAME one of {', '.join(CHANNELS)}, not {given!r}")
        scales[name] = float(factor)
    asyncio.run(serve(args.skus, scales, args.report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
