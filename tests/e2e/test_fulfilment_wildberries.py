"""The fulfilment flow over the wire: the real Wildberries client against its emulator, the shop assembled on memory.
An order WB sends in, all reserved, lands in an open supply of ours once; one nobody can fill is cancelled on WB
once after a manager's ``cancel``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emulators.wildberries import WildberriesEmulator
from integrations.rate_gate import RateGate
from integrations.wildberries import WildberriesClient
from tests.fakes import FakeClock, MemoryUnitOfWorkFactory, assembled
from workflows.model import StockFigure
from workflows.shop import Shop
from workflows.topology import Topology
from workflows.vocabulary import Role

TOKEN = "eyJhbGciOiJFUzI1NiJ9.fulfilment-flow-token.sig"
WAREHOUSE = 658434
MUG, VASE = ("MUG-7", 1001), ("VASE-3", 1002)
CARDS: list[dict[str, Any]] = [
    {"vendorCode": code, "sizes": [{"chrtId": chrt, "techSize": "0"}]} for code, chrt in (MUG, VASE)
]


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + 1e-6


@pytest.fixture
async def wb_shop(topology: Topology, clock: FakeClock) -> AsyncIterator[tuple[WildberriesEmulator, Shop]]:
    monotonic = FakeMonotonic()

    def gate(per_minute: float, burst: int) -> RateGate:
        return RateGate(per_minute, burst, clock=monotonic, sleep=monotonic.sleep)

    async with (
        WildberriesEmulator(token=TOKEN, warehouses={WAREHOUSE: "Склад"}, cards=CARDS, clock=monotonic) as wb,
        httpx.AsyncClient(timeout=5) as http,
    ):
        client = WildberriesClient(
            http, token=TOKEN, marketplace_base=wb.base_url, content_base=wb.base_url, warehouse_id=WAREHOUSE,
            gate=gate(300, 20), orders_gate=gate(300, 20), content_gate=gate(100, 5), cancel_gate=gate(100, 20),
            clock=lambda: datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
        )  # fmt: skip
        uow = MemoryUnitOfWorkFactory()
        shop = assembled(uow, topology, clock, channels={"wildberries": client})
        uow.hooks.after.clear()
        await shop.ledger.apply_stock(
            clock.now(), [StockFigure(MUG[0], "online", 5), StockFigure(VASE[0], "online", 0)]
        )
        yield wb, shop


async def test_an_allocated_order_goes_into_a_supply_once_and_an_unfillable_one_is_cancelled_once(
    wb_shop: tuple[WildberriesEmulator, Shop],
) -> None:
    wb, shop = wb_shop
    wb.add_order(MUG[1], order_id=13833711)
    wb.add_order(VASE[1], order_id=13833712)
    (upkeep,) = shop.upkeep
    (fulfilment,) = shop.fulfilment
    assert await upkeep.pull_orders() == 2

    await fulfilment.run_once()
    await fulfilment.run_once()

    [supply] = wb.supplies()
    assert supply["orders"] == [13833711]
    async with shop.uow(read_only=True) as work:
        (task,) = await work.tasks.open_about("order:")
    assert task.id is not None and task.payload["external_id"] == "13833712"
    assert (await shop.office.answer(task.id, "cancel", Role.MANAGER, "anna")).accepted
    await fulfilment.run_once()
    await fulfilment.run_once()

    assert wb.order_status(13833712)[0] == "cancel"
    assert len([call for call in wb.calls() if call.method == "PATCH" and call.path.endswith("/cancel")]) == 1
    assert wb.supplies()[0]["orders"] == [13833711]
