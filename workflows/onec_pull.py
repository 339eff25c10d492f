"""1C's stock register pulled on a schedule (OData) as the full truth: the rows go through the 1C intake
like any message from 1C (:mod:`workflows.onec_intake`: its warehouse rules, older figures ignored,
deductions absorbed, 1C heard, shortfalls alerted, all in one transaction). A pull that cannot be read or
is refused raises the owner's alert; the next good pull ends it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from workflows.alerts import AlertDesk
from workflows.errors import WorkflowError
from workflows.onec_intake import OneCLine, StockIntake, StockSource
from workflows.outside import Unavailable
from workflows.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)

FAILING_KEY = "onec_pull_failing"


class SourceUnavailable(Unavailable):
    """1C's register could not be read (1C down, a wrong login, an answer we cannot read)."""


class BalanceSource(Protocol):
    async def balance(self) -> list[tuple[str, str, int]]:
        """``(article, 1C warehouse id, qty)`` of every register row now. Raises SourceUnavailable."""
        ...


@dataclass
class PullResult:
    applied: int = 0
    ignored_stale: int = 0
    failed: str | None = None


class OneCPull:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, intake: StockIntake, alerts: AlertDesk, source: BalanceSource
    ) -> None:
        self._uow, self._clock, self._intake, self._alerts, self._source = uow, clock, intake, alerts, source

    async def run(self) -> PullResult:
        asked_at = self._clock.now()  # the register's balance is as of the moment we asked
        try:
            rows = await self._source.balance()
            applied = await self._intake.apply(
                StockSource.REGISTER, asked_at, [OneCLine(sku, warehouse, qty) for sku, warehouse, qty in rows]
            )
        except SourceUnavailable as error:
            return await self._failed(error.reason)
        except WorkflowError as error:
            return await self._failed(error.message)
        async with self._uow() as uow:
            await self._alerts.resolve(uow, FAILING_KEY)
            await uow.commit()
        return PullResult(applied.accepted, applied.ignored_stale)

    async def _failed(self, reason: str) -> PullResult:
        log.warning("1C OData pull failed: %s", reason)
        async with self._uow() as uow:
            await self._alerts.raise_alert(uow, FAILING_KEY, FAILING_KEY, {"reason": reason})
            await uow.commit()
        return PullResult(failed=reason)
