"""Keeping a channel honest beyond the outbox: new orders pulled from it into our intake, and a
reconciliation that reads what the channel shows and corrects any drift (a change made by hand
in the channel's cabinet, a push lost on their side)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from workflows.channels import ChannelClient, ChannelRefused, ChannelUnavailable, StockLine
from workflows.errors import ClientBlocked, OrderConflict
from workflows.kits import KitBook
from workflows.orders import LineRequest, OrderDesk, PlaceOrder
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.price_upkeep import PriceDrift, PriceUpkeep
from workflows.topology import Topology

log = logging.getLogger(__name__)


@dataclass
class Reconciliation:
    channel: str
    checked: int = 0
    corrected: dict[str, tuple[int | None, int]] = field(default_factory=dict)  # sku -> (shown, truth)
    failed: str | None = None
    prices: PriceDrift | None = None  # the channel's prices, when it sells at one of 1C's price types


class ChannelUpkeep:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, topology: Topology, client: ChannelClient, orders: OrderDesk,
        prices: PriceUpkeep | None = None,
    ) -> None:  # fmt: skip
        self._uow, self._clock, self._topology, self._client, self._orders = uow, clock, topology, client, orders
        self._prices = prices
        self.name = client.name
        self._kits = KitBook(topology)

    async def pull_orders(self) -> int:
        """New orders of the channel into intake (idempotent on the channel's order id); how many were new."""
        try:
            found = await self._client.new_orders()
        except (ChannelUnavailable, ChannelRefused) as error:
            log.warning("new orders from %s not read: %s", self.name, error.reason)
            return 0
        offer_ids = {line.offer_id for order in found for line in order.lines}
        async with self._uow(read_only=True) as uow:
            owners = await uow.offer_ids.owners(self.name, offer_ids) if offer_ids else {}
        taken = 0
        for order in found:
            unknown = [line.offer_id for line in order.lines if line.offer_id not in owners]
            if unknown:
                log.warning("order %s from %s names offers we do not know: %s", order.external_id, self.name, unknown)
                continue
            lines = [LineRequest(owners[line.offer_id], line.qty) for line in order.lines]
            try:
                intake = await self._orders.place(
                    PlaceOrder(self.name, order.external_id, lines, ship_by=order.ship_by)
                )
            except (OrderConflict, ClientBlocked) as error:
                log.warning("order %s from %s not taken: %s", order.external_id, self.name, error.message)
                continue
            taken += intake.created
        return taken

    async def reconcile(self) -> Reconciliation:
        """Read the channel's stock page by page, compare with what it should show, queue corrections; then its
        prices likewise (:mod:`workflows.price_upkeep`), when it has them."""
        report = Reconciliation(self.name)
        after = ""
        while True:
            async with self._uow(read_only=True) as uow:
                skus = await self._page(uow, after)
                if not skus:
                    break
                offer_ids = await uow.offer_ids.for_skus(self.name, skus)
                truth = await self._truth(uow, [sku for sku in skus if sku in offer_ids])
            after = skus[-1]
            lines = [StockLine(sku, offer_ids[sku], qty) for sku, qty in truth.items()]
            try:
                shown = await self._client.read_stock(lines)
            except (ChannelUnavailable, ChannelRefused) as error:
                report.failed = error.reason
                break
            report.checked += len(lines)
            await self._correct(report, {sku: qty for sku, qty in truth.items() if shown.get(sku) != qty}, shown)
        if self._prices is not None:
            report.prices = await self._prices.reconcile()
        async with self._uow() as uow:
            summary = f"checked={report.checked} corrected={len(report.corrected)}"
            if report.failed:
                summary += f" failed={report.failed}"
            if report.prices is not None:
                summary += f" {report.prices.summary()}"
            await uow.channel_states.reconciled(self.name, summary, self._clock.now())
            await uow.commit()
        log.info("reconciled %s: %s", self.name, summary)
        return report

    async def _page(self, uow: UnitOfWork, after: str) -> list[str]:
        """The next SKUs after ``after``, in order: those 1C reported and the kits."""
        limit = self._client.batch_limit
        stocked = await uow.stock.skus_after(after, limit)
        kits = sorted(sku for sku in self._kits.skus if sku > after)[:limit]
        return sorted(set(stocked) | set(kits))[:limit]

    async def _truth(self, uow: UnitOfWork, skus: list[str]) -> dict[str, int]:
        """What the channel should show of each SKU (a kit's from its components), by the stock as ``uow`` sees
        it now."""
        channel = self._topology.channels[self.name]
        desired = await self._kits.desired(uow, channel, skus, self._clock.now()) if skus else {}
        return {sku: desired.get(sku, 0) for sku in skus}

    async def _correct(self, report: Reconciliation, wrong: dict[str, int], shown: dict[str, int]) -> None:
        """Queue the corrections, each computed again from the stock at the moment it is queued: stock that
        changed while the channel was being read queued its own push, which an older figure must not undo.
        The first write takes the SKUs' outbox rows, so a stock change racing this one waits for it (or this
        one for the change) before the stock is read again."""
        if not wrong:
            return
        async with self._uow() as uow:
            now = self._clock.now()
            await uow.outbox.enqueue(self.name, wrong, now)
            fresh = await self._truth(uow, sorted(wrong))
            await uow.outbox.enqueue(self.name, fresh, now)
            await uow.commit()
        report.corrected.update({sku: (shown.get(sku), qty) for sku, qty in fresh.items() if shown.get(sku) != qty})

    async def reconcile_if_asked(self) -> Reconciliation | None:
        """Scheduled every 30 s: runs when ``/sync`` asked for this channel since the last run."""
        async with self._uow(read_only=True) as uow:
            state = await uow.channel_states.get(self.name)
        asked, done = state.sync_requested_at, state.reconciled_at
        if asked is None or (done is not None and done >= asked):
            return None
        return await self.reconcile()
