"""Property-based tests of the ledger: for any sequence of 1C figures, orders, cancellations and
1C deductions, nothing is promised twice.

Invariants checked after every step:
- ``reserved`` of each stock row equals the sum of its active reservations;
- availability is never negative, per warehouse or per channel;
- ``reserved ≤ on_hand`` — unless 1C itself lowered ``on_hand`` under what was already promised,
  in which case that very update reported the row as a shortfall (and no new promise is made
  on that row until it recovers);
- a reservation is absorbed only by a figure computed at or after 1C's deduction.

Run on the in-memory ports (many examples) and on SQLite (fewer: each example is a database).
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.database import open_database
from storage.migrate import migrate
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock, MemoryUnitOfWorkFactory
from workflows.ledger import Ledger
from workflows.model import LineStatus, ReservationState, StockFigure
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology

SKUS = ["IRON", "КР-7/2"]
WAREHOUSES = ["online", "tverskaya", "arbat"]
CHANNELS = ["site", "wildberries", "ozon"]


@dataclass(frozen=True)
class Figures:
    minutes_back: int  # as_of relative to now: may be older than what is held
    figures: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class Place:
    channel: str
    lines: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Cancel:
    pick: int


@dataclass(frozen=True)
class Deduct:
    pick: int
    minutes_back: int


@dataclass(frozen=True)
class Tick:
    minutes: int


steps = st.lists(
    st.one_of(
        st.builds(
            Figures,
            st.integers(0, 30),
            st.lists(
                st.tuples(st.sampled_from(SKUS), st.sampled_from(WAREHOUSES), st.integers(0, 6)), min_size=1, max_size=4
            ).map(tuple),
        ),
        st.builds(
            Place,
            st.sampled_from(CHANNELS),
            st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1, max_size=3).map(tuple),
        ),
        st.builds(Cancel, st.integers(0, 50)),
        st.builds(Deduct, st.integers(0, 50), st.integers(0, 20)),
        st.builds(Tick, st.integers(1, 15)),
    ),
    max_size=30,
)


async def _run(uow: UnitOfWorkFactory, topology: Topology, script: list[object]) -> None:
    clock = FakeClock()
    ledger = Ledger(uow, topology, clock)
    desk = OrderDesk(uow, topology, clock, ledger)
    order_ids: list[int] = []
    shortfall_rows: set[tuple[str, str]] = set()
    held_as_of: dict[tuple[str, str], datetime] = {}  # the model's own view of which figures apply
    for number, step in enumerate(script):
        if isinstance(step, Figures):
            result = await ledger.apply_stock(
                clock.now() - timedelta(minutes=step.minutes_back), [StockFigure(*f) for f in step.figures]
            )
            as_of = clock.now() - timedelta(minutes=step.minutes_back)
            applied = {(sku, wh) for sku, wh, _ in step.figures if held_as_of.get((sku, wh), as_of) <= as_of}
            held_as_of.update(dict.fromkeys(applied, as_of))
            reported = {(s.sku, s.warehouse) for s in result.shortfalls}
            assert reported <= applied, "a shortfall reported for a row the update did not change"
            shortfall_rows = (shortfall_rows - applied) | reported
        elif isinstance(step, Place):
            before = {sku: await ledger.stock(sku) for sku in SKUS}
            placed = (
                await desk.place(PlaceOrder(step.channel, f"o{number}", [LineRequest(*line) for line in step.lines]))
            ).order
            assert placed.id is not None
            order_ids.append(placed.id)
            for line in placed.lines:
                if line.status != LineStatus.OUT_OF_STOCK:
                    level = before[line.sku].by_warehouse[line.warehouse or ""]
                    assert level.free >= line.qty, "reserved more than was free"
        elif isinstance(step, Cancel) and order_ids:
            await desk.cancel(order_ids[step.pick % len(order_ids)])
        elif isinstance(step, Deduct) and order_ids:
            await ledger.record_deduction(
                order_ids[step.pick % len(order_ids)], clock.now() - timedelta(minutes=step.minutes_back)
            )
        elif isinstance(step, Tick):
            clock.advance(minutes=step.minutes)
        await _check(uow, ledger, shortfall_rows)


async def _check(uow: UnitOfWorkFactory, ledger: Ledger, shortfall_rows: set[tuple[str, str]]) -> None:
    async with uow(read_only=True) as work:
        active = await work.reservations.totals(ReservationState.ACTIVE)
        levels = {(lv.sku, lv.warehouse): lv for sku in SKUS for lv in await work.stock.for_sku(sku)}
    for key, level in levels.items():
        assert level.reserved == active.get(key, 0), f"counter drifted from the ledger at {key}"
        if level.reserved > level.on_hand:
            assert key in shortfall_rows, f"oversold {key}: {level.reserved} promised, {level.on_hand} on hand"
    assert set(active) <= set(levels)
    for sku in SKUS:
        stock = await ledger.stock(sku)
        assert stock.available >= 0
        assert all(n >= 0 for n in stock.by_channel.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=steps)
def test_ledger_never_promises_a_unit_twice_in_memory(script: list[object], topology: Topology) -> None:
    asyncio.run(_run(MemoryUnitOfWorkFactory(), topology, script))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(script=steps)
def test_ledger_never_promises_a_unit_twice_on_sqlite(script: list[object], topology: Topology) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            database = open_database(f"sqlite+aiosqlite:///{Path(folder) / 'p.db'}")
            try:
                await migrate(database)
                await _run(SqlUnitOfWorkFactory(database), topology, script)
            finally:
                await database.dispose()

    asyncio.run(run())
