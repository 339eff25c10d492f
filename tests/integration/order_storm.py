"""A separate OS process that places many orders at once for one SKU (used by the
concurrency tests). Usage: python -m tests.integration.order_storm URL SKU PREFIX COUNT GO_FILE

Prints ``{"reserved": n, "out_of_stock": m}``. Waits for GO_FILE to exist before firing, so
that two such processes start their storms together.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from app.bootstrap import SystemClock
from app.topology import load_topology
from storage.database import open_database
from storage.uow import SqlUnitOfWorkFactory
from workflows.ledger import Ledger
from workflows.orders import LineRequest, OrderDesk, PlaceOrder

ROOT = Path(__file__).resolve().parents[2]


async def storm(url: str, sku: str, prefix: str, count: int, go_file: Path) -> dict[str, int]:
    topology = load_topology(ROOT / "storeops.example.toml")
    database = open_database(url)
    uow = SqlUnitOfWorkFactory(database)
    clock = SystemClock()
    desk = OrderDesk(uow, topology, clock, Ledger(uow, topology, clock))
    try:
        async with uow(read_only=True) as work:  # open the pool before the start signal
            await work.stock.for_sku(sku)
        Path(f"{go_file}.{prefix}.ready").touch()
        deadline = time.monotonic() + 60
        while not go_file.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        results = await asyncio.gather(
            *(desk.place(PlaceOrder("ozon", f"{prefix}-{n}", [LineRequest(sku, 1)])) for n in range(count))
        )
    finally:
        await database.dispose()
    statuses = [r.order.lines[0].status.value for r in results]
    return {"reserved": statuses.count("reserved"), "out_of_stock": statuses.count("out_of_stock")}


if __name__ == "__main__":
    url, sku, prefix, count, go = sys.argv[1:6]
    print(json.dumps(asyncio.run(storm(url, sku, prefix, int(count), Path(go)))))
