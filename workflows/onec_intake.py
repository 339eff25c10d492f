"""1C's stock, however it arrives: one use-case, one set of rules, one transaction.

1C's figures reach storeops four ways — pushed as JSON (``POST /api/1c/stock``), uploaded through 1C's own
exchange with the site as CommerceML, given as a file on the command line (``storeops import-commerceml``),
or pulled from the OData stock register on a schedule. Each entrance only translates its format into
:class:`OneCLine` and calls :meth:`StockIntake.apply`; the rules live here:

- a line's warehouse is our code or 1C's id of it (1C's GUIDs compared case-insensitively);
- warehouses listed in ``[onec] ignore_warehouses`` (defects, in transit) are skipped;
- a message naming any other warehouse the topology does not know is refused whole, nothing applied — a
  half-understood message would leave the stock of that warehouse silently wrong;
- lines naming the same article and warehouse are summed (1C lists a product's characteristics apart);
- ``as_of`` without an offset is 1C's local time, read in ``[onec] timezone``;
- the figures go through the ledger (older ones ignored, deductions absorbed), 1C counts as heard, and
  shortfalls (1C shows less than we promised) are alerted — all in one transaction, so the caller's answer
  is exactly what was committed: if any step fails, nothing of the message is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from workflows.errors import UnknownWarehouse
from workflows.ledger import Ledger, StockUpdateResult
from workflows.model import StockFigure
from workflows.operations import Operations
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology


class StockSource(StrEnum):
    """Where a 1C message came from (said in logs and in 1C's heartbeat)."""

    API = "api"  # POST /api/1c/stock
    EXCHANGE = "exchange"  # CommerceML through 1C's exchange with the site
    FILE = "file"  # storeops import-commerceml
    REGISTER = "register"  # the OData stock register, pulled


@dataclass(frozen=True)
class OneCLine:
    """One figure as 1C sent it: ``warehouse`` is our code or 1C's id of it."""

    sku: str
    warehouse: str
    qty: int


def onec_time(value: datetime, topology: Topology) -> datetime:
    """A 1C timestamp: one without an offset is read in ``[onec] timezone``."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(topology.onec.timezone))
    return value


def resolve(lines: Sequence[OneCLine], topology: Topology) -> list[StockFigure]:
    """The lines as ledger figures on our warehouse codes, by the rules above. Raises :class:`UnknownWarehouse`."""
    codes = {w.code for w in topology.warehouses}
    onec_ids = {w.onec_id.lower(): w.code for w in topology.warehouses if w.onec_id}
    ignored = {name.lower() for name in topology.onec.ignore_warehouses}
    sums: dict[tuple[str, str], int] = {}
    unknown: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        code = line.warehouse if line.warehouse in codes else onec_ids.get(line.warehouse.lower())
        if code is not None:
            sums[(line.sku, code)] = sums.get((line.sku, code), 0) + line.qty
        elif line.warehouse.lower() not in ignored:
            unknown.append((index, line.warehouse))
    if unknown:
        raise _refusal(unknown, topology)
    return [StockFigure(sku, code, qty) for (sku, code), qty in sorted(sums.items())]


def _refusal(unknown: list[tuple[int, str]], topology: Topology) -> UnknownWarehouse:
    names = sorted({repr(name) for _, name in unknown})
    named = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
    known = ", ".join(w.code for w in topology.warehouses)
    return UnknownWarehouse(
        f"{len(names)} warehouse(s) not in the topology: {named} (known: {known}); give each our warehouse's "
        "onec_id, or list it in [onec] ignore_warehouses; nothing applied",
        [{"field": f"items.{i}.warehouse", "problem": f"unknown warehouse {name!r}"} for i, name in unknown[:100]],
    )


class StockIntake:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, ledger: Ledger, operations: Operations) -> None:
        self._uow, self._topology, self._ledger, self._ops = uow, topology, ledger, operations

    async def apply(self, source: StockSource, as_of: datetime, lines: Sequence[OneCLine]) -> StockUpdateResult:
        """Apply one 1C message by the rules above, all or nothing. Raises :class:`UnknownWarehouse`."""
        figures = resolve(lines, self._topology)
        async with self._uow() as uow:
            result = await self._ledger.apply_figures(uow, onec_time(as_of, self._topology), figures)
            await self._ops.heard_from_onec(uow, source)
            await self._ops.report_stock(uow, figures, result.shortfalls)
            await uow.commit()
        return result
