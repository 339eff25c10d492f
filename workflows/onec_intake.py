"""1C's stock, however it arrives: one use-case, one set of rules, one transaction.

1C's figures reach storeops four ways — pushed as JSON (``POST /api/1c/stock``), uploaded through 1C's own
exchange with the site as CommerceML, given as a file on the command line (``storeops import-commerceml``),
or pulled from the OData stock register on a schedule. Each entrance only translates its format into
:class:`OneCLine` and calls :meth:`StockIntake.apply`; the rules live here:

- a line's warehouse is our code or 1C's id of it (1C's GUIDs compared case-insensitively);
- warehouses listed in ``[onec] ignore_warehouses`` (defects, in transit) are skipped;
- a message naming any other warehouse the topology does not know is refused whole, nothing applied — a
  half-understood message would leave the stock of that warehouse silently wrong;
- every line's article passes :func:`workflows.articles.check_sku` (normalised to NFC; invisible characters,
  empty or over-long articles refused) and its quantity lies within ``0..MAX_QTY``, whatever the source — a
  message with a line that does not is refused whole, each bad line named (``items.N.sku``, ``items.N.qty``);
- lines naming the same article and warehouse: a per-source rule. From CommerceML (the exchange, the file)
  and the OData register they are summed — 1C lists a product's characteristics apart. From the JSON API
  (:attr:`StockSource.API`) each item is already one article in one warehouse, so a repeat is refused as a
  duplicate rather than silently summed;
- ``as_of`` without an offset is 1C's local time, read in ``[onec] timezone``; a message dated more than the
  future tolerance ahead of our clock is refused (:class:`FigureFromFuture`) — taken, it would make every
  later true figure for its articles look stale;
- the OData register is the full truth and, like 1C's balance queries, leaves out what is at zero: a pull
  counts every row we hold above zero that it does not list as a figure of 0 (otherwise stock sold out in
  1C would stay on sale here);
- an offer 1C gives only as a total, with no warehouse (:class:`OneCTotal`, CommerceML's ``<Количество>``
  alone), goes to ``[onec] totals_warehouse``. Without that setting it cannot be placed: a message of nothing
  but totals is refused whole (:class:`TotalsWithoutWarehouse`, telling the operator to set it), one with
  warehouse lines too has those applied; either way the owner is alerted (``onec_totals_unplaced``), once
  per episode, and the first message whose totals are placed ends the alert;
- a CommerceML line carries 1C's id of its offer (:class:`~workflows.catalogue.OneCOffer`): its SKU is worked out
  through 1C's catalogue (:mod:`workflows.catalogue`: article, characteristics as sizes), and one nothing names
  yet is held until the catalogue arrives;
- the figures go through the ledger (older ones ignored, deductions absorbed), 1C counts as heard, and
  shortfalls (1C shows less than we promised) are alerted — all in one transaction, so the caller's answer
  is exactly what was committed: if any step fails, nothing of the message is applied.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import cast
from zoneinfo import ZoneInfo

from workflows.articles import check_sku
from workflows.catalogue import OneCOffer, hold, ids_to_look_up, product_record, release_held, sku_of
from workflows.errors import FigureFromFuture, InvalidStockLine, TotalsWithoutWarehouse, UnknownWarehouse
from workflows.ledger import Ledger, StockUpdateResult
from workflows.model import StockFigure
from workflows.operations import Operations
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.topology import Topology

MAX_QTY = 2_000_000_000  # as the JSON API's bound: a figure above it is a mistake, and overflows a column


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
    offer: OneCOffer | None = None  # CommerceML: 1C's id of the offer, resolved through the catalogue


@dataclass(frozen=True)
class OneCTotal:
    """An offer's stock as a total only: 1C named no warehouse for it."""

    sku: str
    qty: int
    offer: OneCOffer | None = None


# A figure from its three values without a Python call per figure (StockFigure(...) and _make are Python code).
_figure = cast(Callable[[tuple[str, str, int]], StockFigure], functools.partial(tuple.__new__, StockFigure))


def onec_time(value: datetime, topology: Topology) -> datetime:
    """A 1C timestamp: one without an offset is read in ``[onec] timezone``."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(topology.onec.timezone))
    return value


def resolve(lines: Sequence[OneCLine], topology: Topology, *, sum_repeats: bool = True) -> list[StockFigure]:
    """The lines as ledger figures on our warehouse codes, by the rules above. Raises :class:`UnknownWarehouse`,
    or :class:`InvalidStockLine` for a repeated article and warehouse when ``sum_repeats`` is false."""
    codes = {w.code for w in topology.warehouses}
    onec_ids = {w.onec_id.lower(): w.code for w in topology.warehouses if w.onec_id}
    code_of: dict[str, str] = {}  # each warehouse as 1C names it, resolved once ("" for none of ours)
    for name in set(map(attrgetter("warehouse"), lines)):
        code_of[name] = (name if name in codes else onec_ids.get(name.lower())) or ""
    if all(code_of.values()):  # the usual message: every line in a warehouse of ours, each article and warehouse once
        skus = list(map(attrgetter("sku"), lines))  # column by column, at C's speed: a snapshot has a million lines
        ours = list(map(code_of.__getitem__, map(attrgetter("warehouse"), lines)))
        if len(set(zip(skus, ours, strict=True))) == len(lines):
            return sorted(map(_figure, zip(skus, ours, map(attrgetter("qty"), lines), strict=True)))
    ignored = {name.lower() for name in topology.onec.ignore_warehouses}
    sums: dict[tuple[str, str], int] = {}
    first: dict[tuple[str, str], int] = {}
    unknown: list[tuple[int, str]] = []
    repeated: list[dict[str, object]] = []
    for index, line in enumerate(lines):
        if code := code_of[line.warehouse]:
            key = (line.sku, code)
            if key not in sums:
                sums[key] = line.qty
                if not sum_repeats:
                    first[key] = index
                continue
            if not sum_repeats:
                problem = f"repeats items.{first[key]}: {line.sku!r} in warehouse {code!r} (send one line each)"
                repeated.append({"field": f"items.{index}.sku", "problem": problem})
            sums[key] += line.qty
        elif line.warehouse.lower() not in ignored:
            unknown.append((index, line.warehouse))
    if unknown:
        raise _refusal(unknown, topology)
    if repeated:
        raise _bad_lines(repeated, "line(s) repeating an article and warehouse")
    return [StockFigure(sku, code, qty) for (sku, code), qty in sorted(sums.items())]


def checked(lines: Sequence[OneCLine]) -> list[OneCLine]:
    """The lines with their articles normalised. Raises :class:`InvalidStockLine` naming every bad line."""
    articles: dict[str, str | ValueError] = {}  # each article checked once: a snapshot names it in every warehouse
    for article in set(map(attrgetter("sku"), lines)):
        try:
            articles[article] = check_sku(article)
        except ValueError as error:
            articles[article] = error
    quantities = list(map(attrgetter("qty"), lines))
    if (
        all(sku == article for article, sku in articles.items())
        and min(quantities, default=0) >= 0
        and max(quantities, default=0) <= MAX_QTY
    ):
        return list(lines)  # the usual message: nothing to normalise, nothing to refuse
    problems: list[dict[str, object]] = []
    result: list[OneCLine] = []
    for index, line in enumerate(lines):
        if (sku := articles.get(line.sku)) is None:
            try:
                sku = articles[line.sku] = check_sku(line.sku)
            except ValueError as error:
                sku = articles[line.sku] = error
        if isinstance(sku, ValueError):
            problems.append({"field": f"items.{index}.sku", "problem": f"article {line.sku[:40]!r}: {sku}"})
            sku = line.sku
        if not 0 <= line.qty <= MAX_QTY:
            problems.append(
                {"field": f"items.{index}.qty", "problem": f"quantity {line.qty} is not within 0..{MAX_QTY}"}
            )
        result.append(line if sku == line.sku else OneCLine(sku, line.warehouse, line.qty, line.offer))
    if problems:
        raise _bad_lines(problems, "line(s) with a bad article or quantity")
    return result


def _bad_lines(problems: list[dict[str, object]], what: str) -> InvalidStockLine:
    shown = "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5]) + (" …" if len(problems) > 5 else "")
    return InvalidStockLine(f"{len(problems)} {what}: {shown}; nothing applied", problems[:100])


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
    def __init__(
        self, uow: UnitOfWorkFactory, topology: Topology, ledger: Ledger, operations: Operations, clock: Clock,
        future_tolerance: timedelta = timedelta(minutes=10),
    ) -> None:  # fmt: skip
        self._uow, self._topology, self._ledger, self._ops = uow, topology, ledger, operations
        self._clock, self._future_tolerance = clock, future_tolerance

    @property
    def totals_warehouse(self) -> str | None:
        """Where totals without a warehouse go (``[onec] totals_warehouse``), if anywhere."""
        return self._topology.onec.totals_warehouse

    async def apply(
        self, source: StockSource, as_of: datetime, lines: Sequence[OneCLine], totals: Sequence[OneCTotal] = ()
    ) -> StockUpdateResult:
        """Apply one 1C message by the rules above, all or nothing. Raises :class:`UnknownWarehouse`,
        :class:`InvalidStockLine`, :class:`FigureFromFuture` or :class:`TotalsWithoutWarehouse`."""
        when = self._not_ahead(onec_time(as_of, self._topology))
        where = self.totals_warehouse
        placed = [OneCLine(t.sku, where, t.qty, t.offer) for t in totals] if where else []
        unplaced = [] if placed else [t.sku for t in totals]
        if unplaced and not lines:
            await self._refuse_totals(source, unplaced)
        sum_repeats = source is not StockSource.API
        given = checked([*lines, *placed])
        figures = resolve(given, self._topology, sum_repeats=sum_repeats)  # refuses before anything is written
        from_catalogue = any(map(attrgetter("offer"), given))  # an offer (a dataclass) is true, None is not
        async with self._uow() as uow:
            held: list[StockFigure] = []
            if from_catalogue:
                figures, held = await self._through_catalogue(uow, given, sum_repeats)
            if source is StockSource.REGISTER:
                figures = [*figures, *await _absent_as_zero(uow, figures)]
            result = await self._ledger.apply_figures(uow, when, figures)
            await self._ops.heard_from_onec(uow, source)
            await self._ops.report_stock(uow, figures, result.shortfalls)
            if totals:
                await self._ops.report_totals(uow, source, unplaced)
            if from_catalogue:  # what this file says of its offers may name figures held before
                _, result.held_for_catalogue = await release_held(uow, self._topology, self._ledger, self._ops)
                await uow.onec_catalogue.hold(hold(held, when, self._clock.now()))
                result.held_for_catalogue += len(held)
            await uow.commit()
        return result

    async def _through_catalogue(
        self, uow: UnitOfWork, lines: Sequence[OneCLine], sum_repeats: bool
    ) -> tuple[list[StockFigure], list[StockFigure]]:
        """Lines from CommerceML on our SKUs through 1C's catalogue (:mod:`workflows.catalogue`), after keeping
        what this file says of its offers: the figures to apply, and those to hold (``sku`` = 1C's id)."""
        offers = [line.offer for line in lines if line.offer is not None]
        records = [record for offer in offers if (record := product_record(offer, self._topology.onec))]
        await uow.onec_catalogue.learn(records)
        known = await uow.onec_catalogue.get(ids_to_look_up(offers))
        mapped: list[OneCLine] = []
        waiting: list[OneCLine] = []
        for line in lines:
            if line.offer is None:
                mapped.append(line)
            elif (sku := sku_of(line.offer, known, self._topology.onec)) is not None:
                mapped.append(OneCLine(sku, line.warehouse, line.qty))
            else:
                waiting.append(OneCLine(line.offer.onec_id, line.warehouse, line.qty))
        figures = resolve(checked(mapped), self._topology, sum_repeats=sum_repeats)
        return figures, resolve(waiting, self._topology)

    async def _refuse_totals(self, source: StockSource, unplaced: Sequence[str]) -> None:
        """A message of totals only, with nowhere to put them: the owner is alerted (that much is committed)
        and the message refused."""
        async with self._uow() as uow:
            await self._ops.report_totals(uow, source, unplaced)
            await uow.commit()
        raise TotalsWithoutWarehouse(
            f"all {len(unplaced)} offer(s) give only a total, no warehouse (e.g. {unplaced[0][:60]!r}): set "
            "[onec] totals_warehouse to the code of our warehouse that holds them; nothing applied",
            [{"field": "totals_warehouse", "problem": "not set, and 1C gives no warehouse"}],
        )

    def _not_ahead(self, when: datetime) -> datetime:
        now = self._clock.now()
        if when <= now + self._future_tolerance:
            return when
        seconds = int(self._future_tolerance.total_seconds())
        problem = f"{when.isoformat()} is ahead of our clock ({now.isoformat()}) by more than {seconds} s"
        raise FigureFromFuture(
            f"as_of {problem} (ONEC_FUTURE_TOLERANCE_S): taken, it would make every later true figure look "
            "stale; check 1C's clock or the date sent; nothing applied",
            [{"field": "as_of", "problem": problem}],
        )


async def _absent_as_zero(uow: UnitOfWork, figures: Sequence[StockFigure], page: int = 500) -> list[StockFigure]:
    """A figure of 0 for every stock row held above zero that a full register read does not list."""
    listed = {(figure.sku, figure.warehouse) for figure in figures}
    zeros: list[StockFigure] = []
    after = ""
    while skus := await uow.stock.skus_after(after, page):
        levels = await uow.stock.for_skus(skus)
        zeros += [
            StockFigure(level.sku, level.warehouse, 0)
            for sku in skus
            for level in levels.get(sku, [])
            if level.on_hand > 0 and (level.sku, level.warehouse) not in listed
        ]
        after = skus[-1]
    return zeros
