"""Price reconciliation: read back the prices a channel shows for the SKUs we priced on it, and send again what
drifted (a price changed by hand in the channel's cabinet, an upload the marketplace took and did not apply).

It runs with the channel's stock reconciliation (:meth:`workflows.channel_upkeep.ChannelUpkeep.reconcile`: every
6 hours and on ``/sync``), for a channel whose client sets prices and that sells at one of 1C's price types.

What the channel should show is what the price outbox says it will show (``price_outbox.known``), with two
exceptions. A SKU whose line is still *pending* is not judged: the dispatcher is about to send it, and the channel
showing the old price until then is no drift. A SKU whose line is *held* for the managers' decision should show what
the channel last accepted from us, since the held price has not gone out; when it does not, the drift is reported,
but the SKU is never queued again: that would send a price a person has not decided on, or undo their decision
(:meth:`workflows.ports.PriceBook.resend` leaves a held or pending line alone even if it was held meanwhile). A
channel that shows prices rounded (Wildberries: whole roubles, :class:`~workflows.channels.RoundsPricesRead`) is
compared with ours rounded the same way. A SKU the channel does not list is not judged either (it has no card
there yet): sending it again would only be refused again.

Drift is reported per channel in the log and the reconciliation's summary, and by the owner's alert
``price_drift:<channel>`` with the count and one example; a later reconciliation that finds none resolves it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from workflows.alerts import AlertDesk
from workflows.channels import ChannelRefused, ChannelUnavailable, PriceLine, RoundsPricesRead, SetsPrices
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.prices import from_minor

log = logging.getLogger(__name__)

DRIFT = "price_drift"  # the owner's alert, keyed per channel
PENDING, HELD = "pending", "held"


@dataclass
class PriceDrift:
    channel: str
    checked: int = 0  # prices read back and compared
    drifted: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # sku -> (the channel's, ours)
    resent: int = 0  # of the drifted, queued to send again (not the held ones)
    failed: str | None = None  # the channel could not be read (the reconciliation stopped there)

    def summary(self) -> str:
        text = f"prices_checked={self.checked} price_drift={len(self.drifted)} prices_resent={self.resent}"
        return text + (f" prices_failed={self.failed}" if self.failed else "")


@dataclass(frozen=True)
class _Page:
    skus: list[str]
    ours: dict[str, int]  # sku -> kopecks the channel should show, of the SKUs judged on this page
    held: set[str]
    lines: list[PriceLine]


class PriceUpkeep:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, client: SetsPrices, alerts: AlertDesk, *, name: str
    ) -> None:
        self._uow, self._clock, self._client, self._alerts = uow, clock, client, alerts
        self.name = name
        self._step = client.price_read_step if isinstance(client, RoundsPricesRead) else None

    async def reconcile(self) -> PriceDrift:
        """Read the channel's prices page by page, compare, queue again what drifted, and tell the owner."""
        report = PriceDrift(self.name)
        after = ""
        while True:
            async with self._uow(read_only=True) as uow:
                page = await self._page(uow, after)
            if not page.skus:
                break
            after = page.skus[-1]
            if not page.lines:
                continue
            try:
                shown = await self._client.read_prices(page.lines)
            except (ChannelUnavailable, ChannelRefused) as error:
                report.failed = error.reason
                break
            report.checked += len([line for line in page.lines if line.sku in shown])
            await self._correct(report, page, shown)
        await self._report(report)
        return report

    async def _page(self, uow: UnitOfWork, after: str) -> _Page:
        """The next SKUs we priced, and what the channel should show of those to be judged."""
        skus = await uow.prices.priced_after(self.name, after, self._client.price_batch_limit)
        if not skus:
            return _Page([], {}, set(), [])
        offer_ids = await uow.offer_ids.for_skus(self.name, skus)
        known = await uow.price_outbox.known(self.name, skus)
        states = await uow.prices.waiting(self.name, skus)
        held = {sku for sku, state in states.items() if state == HELD}
        accepted = await uow.prices.shown(self.name, held) if held else {}
        ours = {sku: v for sku, v in known.items() if states.get(sku) not in (PENDING, HELD)}
        ours.update(accepted)  # a held SKU should still show what the channel accepted last
        lines = [PriceLine(sku, offer_ids[sku], from_minor(v)) for sku, v in sorted(ours.items()) if sku in offer_ids]
        return _Page(skus, ours, held, lines)

    async def _correct(self, report: PriceDrift, page: _Page, shown: dict[str, Decimal]) -> None:
        drifted = {
            line.sku: (shown[line.sku], line.price)
            for line in page.lines
            if line.sku in shown and shown[line.sku] != self._as_shown(line.price)
        }
        report.drifted.update(drifted)
        again = {sku: page.ours[sku] for sku in drifted if sku not in page.held}
        if not again:
            return
        async with self._uow() as uow:
            # as it stands now: a price accepted or queued while the channel was being read is not undone
            fresh = await uow.price_outbox.known(self.name, again)
            again = {sku: v for sku, v in again.items() if fresh.get(sku) == v}
            await uow.prices.resend(self.name, again, self._clock.now())
            await uow.commit()
        report.resent += len(again)

    def _as_shown(self, price: Decimal) -> Decimal:
        if self._step is None:
            return price
        return (price / self._step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * self._step

    async def _report(self, report: PriceDrift) -> None:
        key = f"{DRIFT}:{self.name}"
        async with self._uow() as uow:
            if report.drifted:
                sku, (theirs, ours) = sorted(report.drifted.items())[0]
                detail: dict[str, object] = {
                    "channel": self.name, "count": len(report.drifted), "sku": sku, "shown": str(theirs),
                    "ours": str(ours),
                }  # fmt: skip
                await self._alerts.raise_alert(uow, key, DRIFT, detail)
            elif report.failed is None:  # a whole read found none
                await self._alerts.resolve(uow, key)
            await uow.commit()
        log.info("prices reconciled on %s: %s", self.name, report.summary())
