"""Two hundred buyers for five irons: exactly five win, in one process and across two."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import ROOT, table_count
from tests.fakes import FakeClock
from workflows.ledger import Ledger
from workflows.model import ReservationState, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.topology import Topology

UNITS = 5
BUYERS = 200


async def _stock_five(database: Database, topology: Topology) -> Ledger:
    ledger = Ledger(SqlUnitOfWorkFactory(database), topology, FakeClock())
    await ledger.apply_stock(FakeClock().now(), [StockFigure("IRON", "online", UNITS)])
    return ledger


async def _assert_exactly_five(database: Database, ledger: Ledger) -> None:
    stock = await ledger.stock("IRON")
    assert (stock.on_hand, stock.reserved, stock.available) == (UNITS, UNITS, 0)
    async with SqlUnitOfWorkFactory(database)(read_only=True) as work:
        assert await work.reservations.totals(ReservationState.ACTIVE) == {("IRON", "online"): UNITS}
    assert await table_count(database, "reservations") == UNITS
    assert await table_count(database, "orders") == BUYERS


async def test_two_hundred_concurrent_orders_for_five_units(database: Database, topology: Topology) -> None:
    ledger = await _stock_five(database, topology)
    uow = SqlUnitOfWorkFactory(database)
    desk = OrderDesk(uow, topology, FakeClock(), ledger)
    results = await asyncio.gather(
        *(desk.place(PlaceOrder("ozon", f"buyer-{n}", [LineRequest("IRON", 1)])) for n in range(BUYERS))
    )
    statuses = [r.order.lines[0].status.value for r in results]
    assert statuses.count("reserved") == UNITS
    assert statuses.count("out_of_stock") == BUYERS - UNITS
    await _assert_exactly_five(database, ledger)


async def test_the_same_order_sent_concurrently_is_taken_once(database: Database, topology: Topology) -> None:
    ledger = await _stock_five(database, topology)
    desk = OrderDesk(SqlUnitOfWorkFactory(database), topology, FakeClock(), ledger)
    results = await asyncio.gather(
        *(desk.place(PlaceOrder("ozon", "same", [LineRequest("IRON", 2)])) for _ in range(20))
    )
    assert [r.created for r in results].count(True) == 1
    assert len({r.order.id for r in results}) == 1
    assert (await ledger.stock("IRON")).reserved == 2
    assert await table_count(database, "orders") == 1


async def test_two_processes_share_five_units(database: Database, topology: Topology, tmp_path: Path) -> None:
    """Two OS processes, 100 buyers each, one database: still exactly five reserved."""
    ledger = await _stock_five(database, topology)
    url = database.engine.url.render_as_string(hide_password=False)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    storms = [
        subprocess.Popen(  # noqa: ASYNC220 - the processes run while this test waits for them
            [sys.executable, "-m", "tests.integration.order_storm", url, "IRON", name, str(BUYERS // 2), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    deadline = time.monotonic() + 60
    while not all(Path(f"{go}.{name}.ready").exists() for name in ("p1", "p2")):
        assert time.monotonic() < deadline, "storm processes did not start"
        assert all(p.poll() is None for p in storms), [p.communicate() for p in storms]
        await asyncio.sleep(0.05)
    go.touch()
    outcomes = []
    for process in storms:
        out, err = await asyncio.to_thread(process.communicate, timeout=120)
        assert process.returncode == 0, err
        outcomes.append(json.loads(out))
    assert sum(o["reserved"] for o in outcomes) == UNITS
    assert sum(o["out_of_stock"] for o in outcomes) == BUYERS - UNITS
    await _assert_exactly_five(database, ledger)


@pytest.mark.parametrize("units", [0, 1])
async def test_no_stock_row_or_one_unit(database: Database, topology: Topology, units: int) -> None:
    ledger = Ledger(SqlUnitOfWorkFactory(database), topology, FakeClock())
    if units:
        await ledger.apply_stock(FakeClock().now(), [StockFigure("ONE", "online", units)])
    desk = OrderDesk(SqlUnitOfWorkFactory(database), topology, FakeClock(), ledger)
    results = await asyncio.gather(
        *(desk.place(PlaceOrder("ozon", f"b{n}", [LineRequest("ONE", 1)])) for n in range(30))
    )
    assert [r.order.lines[0].status.value for r in results].count("reserved") == units
