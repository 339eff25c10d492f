"""1C's stock register pulled on a schedule (OData) as the full truth: the rows go through the 1C intake
like any message from 1C (:mod:`workflows.onec_intake`: its warehouse rules, older figures ignored,
deductions absorbed, 1C heard, shortfalls alerted, all in one transaction). When 1C's price register is pulled
too, its last prices then go through the price intake (:mod:`workflows.prices`) as an upload from ``odata``. A
pull that cannot be read or is refused raises the owner's alert; the next good pull ends it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from workflows.alerts import AlertDesk
from workflows.articles import check_sku
from workflows.errors import WorkflowError
from workflows.onec_intake import OneCLine, StockIntake, StockSource
from workflows.outside import Unavailable
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.prices import OneCPrice, PriceIntake, PriceResult

log = logging.getLogger(__name__)

FAILING_KEY = "onec_pull_failing"
PRICE_SOURCE = "odata"  # the prices' source, as the price guard's batches record it


class SourceUnavailable(Unavailable):
    """1C's register could not be read (1C down, a wrong login, an answer we cannot read)."""


class BalanceSource(Protocol):
    async def balance(self) -> list[tuple[str, str, int]]:
        """``(article, 1C warehouse id, qty)`` of every register row now. Raises SourceUnavailable."""
        ...


class PriceSource(Protocol):
    async def prices(self) -> list[OneCPrice]:
        """The newest price of every item (by its article) and price type. Raises SourceUnavailable."""
        ...


@dataclass
class PullResult:
    applied: int = 0
    ignored_stale: int = 0
    failed: str | None = None
    prices: PriceResult | None = None  # when 1C's prices are pulled too


class OneCPull:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, intake: StockIntake, alerts: AlertDesk, source: BalanceSource,
        *, prices: PriceSource | None = None, price_intake: PriceIntake | None = None,
    ) -> None:  # fmt: skip
        self._uow, self._clock, self._intake, self._alerts, self._source = uow, clock, intake, alerts, source
        self._prices, self._price_intake = prices, price_intake

    async def run(self) -> PullResult:
        asked_at = self._clock.now()  # the register's balance is as of the moment we asked
        try:
            rows = await self._source.balance()
            applied = await self._intake.apply(
                StockSource.REGISTER, asked_at, [OneCLine(sku, warehouse, qty) for sku, warehouse, qty in rows]
            )
        except SourceUnavailable as error:
            return await self._failed(PullResult(), error.reason)
        except WorkflowError as error:
            return await self._failed(PullResult(), error.message)
        result = PullResult(applied.accepted, applied.ignored_stale)
        try:
            result.prices = await self._pull_prices()
        except SourceUnavailable as error:
            return await self._failed(result, f"prices: {error.reason}")
        except WorkflowError as error:
            return await self._failed(result, f"prices: {error.message}")
        async with self._uow() as uow:
            await self._alerts.resolve(uow, FAILING_KEY)
            await uow.commit()
        return result

    async def _pull_prices(self) -> PriceResult | None:
        if self._prices is None or self._price_intake is None:
            return None
        usable: list[OneCPrice] = []
        for price in await self._prices.prices():
            try:
                usable.append(OneCPrice(check_sku(price.sku), price.price_type, price.price, None, price.price_type_id))
            except ValueError as error:  # one odd article in 1C does not hold every other price back
                log.warning("1C OData price of %r left out: %s", price.sku, error)
        return await self._price_intake.apply(PRICE_SOURCE, usable)

    async def _failed(self, result: PullResult, reason: str) -> PullResult:
        log.warning("1C OData pull failed: %s", reason)
        async with self._uow() as uow:
            await self._alerts.raise_alert(uow, FAILING_KEY, FAILING_KEY, {"reason": reason})
            await uow.commit()
        result.failed = reason
        return result
