"""A separate OS process that places many orders at once for a kit and for its bare components (used by the
kit concurrency tests). Usage: python -m tests.integration.kit_storm URL PREFIX COUNT GO_FILE

Prints ``{"external id": ["status of each line", ...], ...}``. Waits for GO_FILE to exist before firing, so
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
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.topology import Topology

ROOT = Path(__file__).resolve().parents[2]
KIT, MUG, SPOON = "KIT-MUG", "MUG", "SPOON"  # a mug and two spoons


def kit_topology() -> Topology:
    """The example topology with one kit."""
    example = load_topology(ROOT / "storeops.example.toml")
    return Topology.model_validate({**example.model_dump(), "kits": [{"sku": KIT, "components": {MUG: 1, SPOON: 2}}]})


def order(prefix: str, n: int) -> PlaceOrder:
    """Kits, bare mugs, bare spoons, and kits and bare components in one order, in turn."""
    lines = [
        [LineRequest(KIT, 1)],
        [LineRequest(MUG, 1)],
        [LineRequest(SPOON, 1)],
        [LineRequest(MUG, 1), LineRequest(KIT, 1)],
        [LineRequest(SPOON, 2), LineRequest(MUG, 1)],
        [LineRequest(KIT, 2)],
    ][n % 6]
    return PlaceOrder("ozon", f"{prefix}-{n}", lines)


async def place_all(
    uow: UnitOfWorkFactory, clock: Clock, prefix: str, count: int, topology: Topology | None = None
) -> dict[str, list[str]]:
    topology = topology or kit_topology()
    desk = OrderDesk(uow, topology, clock, Ledger(uow, topology, clock))
    results = await asyncio.gather(*(desk.place(order(prefix, n)) for n in range(count)))
    return {r.order.external_id: [line.status.value for line in r.order.lines] for r in results}


async def storm(url: str, prefix: str, count: int, go_file: Path) -> dict[str, list[str]]:
    database = open_database(url)
    uow = SqlUnitOfWorkFactory(database)
    try:
        async with uow(read_only=True) as work:  # open the pool before the start signal
            await work.stock.for_sku(MUG)
        Path(f"{go_file}.{prefix}.ready").touch()
        deadline = time.monotonic() + 180
        while not go_file.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return await place_all(uow, SystemClock(), prefix, count)
    finally:
        await database.dispose()


if __name__ == "__main__":
    url, prefix, count, go = sys.argv[1:5]
    print(json.dumps(asyncio.run(storm(url, prefix, int(count), Path(go)))))
