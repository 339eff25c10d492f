"""Reconciliation on memory, SQLite and PostgreSQL: a correction never undoes a stock change that came
while the channel was being read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.fakes import FakeClock, assembled
from workflows.channels import ChannelOrder, PushOutcome, StockLine
from workflows.model import StockFigure
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Shop
from workflows.topology import Topology


@dataclass
class DriftingChannel:
    """Shows ``shown``; while it is being read, 1C's next figure arrives (``during_read``)."""

    shop: Shop | None = None
    name: str = "wildberries"
    batch_limit: int = 100
    shown: dict[str, int] = field(default_factory=dict)
    during_read: list[StockFigure] = field(default_factory=list)

    async def push_stock(self, lines: Sequence[StockLine]) -> PushOutcome:
        self.shown.update({line.sku: line.qty for line in lines})
        return PushOutcome(accepted=tuple(line.sku for line in lines))

    async def read_stock(self, lines: Sequence[StockLine]) -> dict[str, int]:
        answer = {line.sku: self.shown[line.sku] for line in lines if line.sku in self.shown}
        if self.during_read and self.shop is not None:
            shop, figures, self.during_read = self.shop, self.during_read, []
            await shop.ledger.apply_stock(shop.clock.now(), figures)
        return answer

    async def new_orders(self) -> list[ChannelOrder]:
        return []


async def queued(uow: UnitOfWorkFactory, sku: str) -> int | None:
    async with uow(read_only=True) as work:
        return (await work.outbox.known("wildberries", [sku])).get(sku)


async def test_a_correction_is_computed_from_the_stock_when_it_is_queued(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    channel = DriftingChannel()
    shop = channel.shop = assembled(uow, topology, clock, channels={"wildberries": channel})
    uow.hooks.after.clear()  # the dispatcher is driven by hand
    await shop.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 6)])
    await shop.dispatchers[0].drain()
    assert channel.shown == {"IRON": 5}  # the channel keeps a safety stock of 1
    channel.shown["IRON"] = 40  # typed by hand in the seller's cabinet
    clock.advance(minutes=1)
    channel.during_read = [StockFigure("IRON", "online", 2)]  # 1C: four sold meanwhile

    (upkeep,) = shop.upkeep
    report = await upkeep.reconcile()

    assert report.corrected == {"IRON": (40, 1)}  # not the 5 read before the channel answered
    assert await queued(uow, "IRON") == 1
    await shop.dispatchers[0].drain()
    assert channel.shown == {"IRON": 1}
