"""1C's stock register pulled on a schedule (OData) as the full truth: every figure goes through
the ledger like a push from 1C (older figures ignored, deductions absorbed by the rule), then 1C
counts as heard and shortfalls are reported. Warehouses the topology does not know are left out
and counted (the register lists every 1C warehouse, also those we do not sell from)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from workflows.alerts import AlertDesk
from workflows.ledger import Ledger
from workflows.model import StockFigure
from workflows.operations import Operations
from workflows.ports import Clock, UnitOfWorkFactory
from workflows.topology import Topology

log = logging.getLogger(__name__)

FAILING_KEY = "onec_pull_failing"


class SourceUnavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BalanceSource(Protocol):
    async def balance(self) -> list[tuple[str, str, int]]:
        """``(article, 1C warehouse id, qty)`` of every register row now. Raises SourceUnavailable."""
        ...


@dataclass
class PullResult:
    applied: int = 0
    ignored_stale: int = 0
    unknown_warehouses: set[str] = field(default_factory=set)
    failed: str | None = None


class OneCPull:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        topology: Topology,
        ledger: Ledger,
        operations: Operations,
        alerts: AlertDesk,
        source: BalanceSource,
    ) -> None:
        self._uow, self._clock, self._topology, self._ledger = uow, clock, topology, ledger
        self._ops, self._alerts, self._source = operations, alerts, source

    async def run(self) -> PullResult:
        result = PullResult()
        asked_at = self._clock.now()  # the register's balance is as of the moment we asked
        try:
            rows = await self._source.balance()
        except SourceUnavailable as error:
            result.failed = error.reason
            log.warning("1C OData pull failed: %s", error.reason)
            async with self._uow() as uow:
                await self._alerts.raise_alert(uow, FAILING_KEY, FAILING_KEY, {"reason": error.reason})
                await uow.commit()
            return result
        totals: dict[tuple[str, str], int] = {}
        for article, onec_id, qty in rows:
            warehouse = self._topology.warehouse(onec_id)
            if warehouse is None:
                result.unknown_warehouses.add(onec_id)
                continue
            totals[(article, warehouse.code)] = totals.get((article, warehouse.code), 0) + qty
        figures = [StockFigure(sku, code, qty) for (sku, code), qty in sorted(totals.items())]
        applied = await self._ledger.apply_stock(asked_at, figures)
        result.applied, result.ignored_stale = applied.accepted, applied.ignored_stale
        await self._ops.onec_heard()
        await self._ops.report_stock(figures, applied.shortfalls)
        async with self._uow() as uow:
            await self._alerts.resolve(uow, FAILING_KEY)
            await uow.commit()
        return result
