"""Kits and their bare components ordered at once, in one process and across two: no component is ever
promised beyond its stock, and every kit line holds all its components or none."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from storage import schema as t
from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import ROOT
from tests.fakes import FakeClock
from tests.integration.kit_storm import KIT, MUG, SPOON, kit_topology, order, place_all
from workflows.ledger import Ledger
from workflows.model import ReservationState, StockFigure
from workflows.topology import Topology

MUGS, SPOONS = 25, 40
ORDERS = 200


async def _stock(database: Database) -> None:
    ledger = Ledger(SqlUnitOfWorkFactory(database), kit_topology(), FakeClock())
    await ledger.apply_stock(
        FakeClock().now(), [StockFigure(MUG, "online", MUGS), StockFigure(SPOON, "online", SPOONS)]
    )


async def _check(database: Database, outcomes: dict[str, list[str]]) -> None:
    """What the orders were told matches what is held, nothing is oversold, every kit line whole or empty."""
    async with database.engine.connect() as connection:
        r, o, s = t.reservations.c, t.orders.c, t.stock_levels.c
        rows = (await connection.execute(
            select(o.external_id, r.line_no, r.sku, r.qty).join(t.orders, o.id == r.order_id)
            .where(r.state == ReservationState.ACTIVE.value)
        )).all()  # fmt: skip
        reserved: dict[str, int] = {sku: qty for sku, qty in await connection.execute(select(s.sku, s.reserved))}
    held: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for external_id, line_no, sku, qty in rows:
        held[(external_id, line_no)][sku] = qty
    totals = {MUG: 0, SPOON: 0}
    for external_id, statuses in outcomes.items():
        prefix, n = external_id.rsplit("-", 1)
        for line_no, (line, status) in enumerate(zip(order(prefix, int(n)).lines, statuses, strict=True), 1):
            taken = held.get((external_id, line_no), {})
            wanted = {MUG: line.qty, SPOON: 2 * line.qty} if line.sku == KIT else {line.sku: line.qty}
            assert taken == (wanted if status == "reserved" else {}), (external_id, line, status, taken)
            for sku, qty in taken.items():
                totals[sku] += qty
    assert reserved == totals  # the rows agree with the reservations
    # demand outruns both (a bare line fails only when none is left, and nothing taken is given back after a
    # commit): both sell out exactly, never beyond
    assert reserved == {MUG: MUGS, SPOON: SPOONS}


async def test_kits_and_bare_components_at_once(database: Database) -> None:
    await _stock(database)
    outcomes = await place_all(SqlUnitOfWorkFactory(database), FakeClock(), "one", ORDERS)
    assert len(outcomes) == ORDERS
    await _check(database, outcomes)


async def test_two_processes_order_kits_and_components(database: Database, tmp_path: Path) -> None:
    await _stock(database)
    url = database.engine.url.render_as_string(hide_password=False)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    storms = [
        subprocess.Popen(  # noqa: ASYNC220 - the processes run while this test waits for them
            [sys.executable, "-m", "tests.integration.kit_storm", url, name, str(ORDERS // 2), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    deadline = time.monotonic() + 180  # a loaded machine takes its time to import the service twice
    while not all(Path(f"{go}.{name}.ready").exists() for name in ("p1", "p2")):
        assert time.monotonic() < deadline, "storm processes did not start"
        assert all(p.poll() is None for p in storms), [p.communicate() for p in storms]
        await asyncio.sleep(0.05)
    go.touch()
    outcomes: dict[str, list[str]] = {}
    for process in storms:
        out, err = await asyncio.to_thread(process.communicate, timeout=300)
        assert process.returncode == 0, err
        outcomes.update(json.loads(out))
    assert len(outcomes) == ORDERS
    await _check(database, outcomes)


TWO_WAREHOUSES = {
    "warehouses": [{"code": "online", "kind": "online", "priority": 1}, {"code": "reserve", "kind": "online"}],
    "channels": {"ozon": {"serves": ["online", "reserve"]}},
    "kits": [{"sku": KIT, "components": {MUG: 1, SPOON: 2}}],
}


async def test_kits_moving_on_to_a_second_warehouse(database: Database) -> None:
    """The first warehouse runs short of spoons early, so kits give back their mug there and go on to the
    second while bare mugs and spoons are ordered in both: no deadlock, no oversell."""
    topology = Topology.model_validate(TWO_WAREHOUSES)
    ledger = Ledger(SqlUnitOfWorkFactory(database), topology, FakeClock())
    stock = [(MUG, "online", 15), (SPOON, "online", 9), (MUG, "reserve", 15), (SPOON, "reserve", 40)]
    await ledger.apply_stock(FakeClock().now(), [StockFigure(sku, code, qty) for sku, code, qty in stock])
    outcomes = await place_all(SqlUnitOfWorkFactory(database), FakeClock(), "two", ORDERS, topology)
    async with database.engine.connect() as connection:
        s = t.stock_levels.c
        rows = {(sku, code): (on_hand, reserved) for sku, code, on_hand, reserved in await connection.execute(
            select(s.sku, s.warehouse, s.on_hand, s.reserved))}  # fmt: skip
        r = t.reservations.c
        held = {(sku, code): int(qty) for sku, code, qty in await connection.execute(
            select(r.sku, r.warehouse, func.sum(r.qty)).group_by(r.sku, r.warehouse))}  # fmt: skip
    assert all(reserved <= on_hand for on_hand, reserved in rows.values()), rows
    assert {key: reserved for key, (_, reserved) in rows.items() if reserved} == held
    assert sum(statuses.count("reserved") for statuses in outcomes.values()) > 0


async def test_an_order_with_a_kit_holds_its_rows_from_the_start(database: Database) -> None:
    """On PostgreSQL ``lock`` holds the rows to the end of the transaction, in the order given (another
    transaction asking for one without waiting is refused); SQLite's one writer holds everything anyway."""
    await _stock(database)
    uow = SqlUnitOfWorkFactory(database)
    async with uow() as work:
        await work.stock.lock([(MUG, "online"), (SPOON, "online"), ("NO-SUCH-ROW", "online")])
        if database.engine.dialect.name == "postgresql":
            async with database.engine.connect() as other:
                s = t.stock_levels.c
                ask = select(s.sku).where(s.sku == SPOON).with_for_update(nowait=True)
                with pytest.raises(DBAPIError, match="lock"):
                    await other.execute(ask)
    async with database.engine.connect() as other:  # released with the transaction
        assert (await other.execute(select(t.stock_levels.c.sku).with_for_update())).all()
