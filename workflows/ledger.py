"""The stock ledger: 1C's figures, the reservation buffer and availability.

Rules:
- a figure older than the one we hold for that SKU and warehouse is ignored;
- an order is held as an *active* reservation until 1C reflects it: it is *released* when the
  order is cancelled and *absorbed* only once 1C sends stock for that SKU and warehouse computed
  at or after the moment 1C deducted the order — never because "some new stock arrived";
- available = on-hand over the warehouses a channel serves − active reservations − the channel's
  safety stock, never below 0.
"""

from __future__ import annotations

import logging
import operator
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from workflows.errors import UnknownWarehouse
from workflows.kits import KitBook
from workflows.model import Reservation, ReservationState, StockFigure, StockLevel, channel_availability
from workflows.offer_ids import OfferIdConflict, OfferIdRule, offer_id_for, plan_offer_ids
from workflows.ports import Clock, StockKey, UnitOfWork, UnitOfWorkFactory
from workflows.topology import Topology
from workflows.typed_names import case_forms, same_name

log = logging.getLogger(__name__)


async def free_stock(uow: UnitOfWork, sku: str) -> dict[str, int]:
    """Free units of ``sku`` per warehouse now, read without locking. Routing uses it to skip
    warehouses that cannot hold a line instead of trying each one: a skipped warehouse is one
    that was short a moment ago, the same as if the order had come a moment earlier. The take
    itself stays the atomic conditional update, so nothing is ever oversold."""
    return {level.warehouse: level.free for level in await uow.stock.for_sku(sku)}


@dataclass(frozen=True)
class Shortfall:
    """1C now reports less on hand than we have promised from that warehouse: stock went
    "negative" from the buffer's point of view, and someone must look (an alert, later)."""

    sku: str
    warehouse: str
    on_hand: int
    reserved: int


@dataclass
class StockUpdateResult:
    accepted: int = 0
    ignored_stale: int = 0
    ignored_kits: int = 0  # figures 1C sent for a kit's own SKU
    absorbed: int = 0
    shortfalls: list[Shortfall] = field(default_factory=list)
    offer_id_conflicts: list[OfferIdConflict] = field(default_factory=list)
    held_for_catalogue: int = 0  # 1C figures keyed by an id nothing names yet, this and earlier messages


@dataclass(frozen=True)
class Availability:
    sku: str
    by_warehouse: dict[str, StockLevel]
    by_channel: dict[str, int]
    components: Mapping[str, int] | None = None  # a kit's composition in force; its levels are assembled from it

    @property
    def on_hand(self) -> int:
        return sum(level.on_hand for level in self.by_warehouse.values())

    @property
    def reserved(self) -> int:
        return sum(level.reserved for level in self.by_warehouse.values())

    @property
    def available(self) -> int:
        return sum(level.free for level in self.by_warehouse.values())


def availability(
    sku: str, levels: Sequence[StockLevel], topology: Topology, components: Mapping[str, int] | None = None
) -> Availability:
    by_warehouse = {level.warehouse: level for level in levels}
    by_channel = {
        name: channel_availability(by_warehouse, channel.serves, channel.safety_stock)
        for name, channel in topology.channels.items()
    }
    return Availability(sku, by_warehouse, by_channel, components)


# a row's as_of once cleared: before any figure 1C can send, so the next one applies
CLEARED_AS_OF = datetime(1970, 1, 1, tzinfo=UTC)


KEY = operator.itemgetter(0, 1)  # a figure's (SKU, warehouse)


def in_key_order(figures: list[StockFigure]) -> list[StockFigure]:
    """``figures`` by (SKU, warehouse), a row named twice by its last figure. Figures already so (as
    :func:`workflows.onec_intake.resolve` gives them) come back as they are, checked in one pass."""
    keys = list(map(KEY, figures))
    if all(map(operator.lt, keys, islice(keys, 1, None))):
        return figures
    return sorted({f[:2]: f for f in figures}.values())  # one figure per key: qty never decides the order


class Ledger:
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: Clock) -> None:
        self._uow = uow
        self._topology = topology
        self._clock = clock
        self._kits = KitBook(topology)

    async def stock(self, sku: str) -> Availability:
        """``sku``'s stock; a kit's is assembled from its components in force now (see workflows/kits.py)."""
        if sku in self._kits.skus:
            now = self._clock.now()
            async with self._uow(read_only=True) as uow:
                levels = (await self._kits.levels(uow, [sku], now)).get(sku, [])
            return availability(sku, levels, self._topology, self._kits.composition(sku, now) or {})
        async with self._uow(read_only=True) as uow:
            levels = await uow.stock.for_sku(sku)
        return availability(sku, levels, self._topology)

    async def skus_named(self, typed: str) -> list[str]:
        """The SKUs ``typed`` names: itself when it is a kit's or 1C reported it, else those it names in another
        case (``кр-7/2`` for ``КР-7/2``; several when two differ only in case), sorted; empty when none."""
        sku = typed.strip()
        forms = case_forms(sku)
        async with self._uow(read_only=True) as uow:
            stocked = await uow.stock.for_skus(forms)
        if sku in self._kits.skus or sku in stocked:
            return [sku]
        kits = {kit for kit in self._kits.skus if same_name(kit, sku)}
        return sorted(kits | {found for found in stocked if same_name(found, sku)})

    async def clear_stock_time(self, sku: str, warehouse: str | None = None) -> int:
        """Forget when 1C computed ``sku``'s figures (in ``warehouse`` only, when given), so the next figure 1C
        sends applies whatever its time — the way out of a wrong ``as_of`` stored (one far in the future makes
        every true figure look stale). The quantities stay as they are. The number of rows cleared; raises
        :class:`UnknownWarehouse` for a code the topology does not know."""
        if warehouse is not None and self._topology.warehouse(warehouse) is None:
            known = ", ".join(w.code for w in self._topology.warehouses)
            raise UnknownWarehouse(f"no warehouse {warehouse!r} in the topology (known: {known})")
        async with self._uow() as uow:
            cleared = await uow.stock.set_as_of(sku, warehouse, CLEARED_AS_OF)
            await uow.commit()
        return cleared

    async def apply_stock(self, as_of: datetime, figures: Sequence[StockFigure]) -> StockUpdateResult:
        """Apply figures on our warehouse codes in a unit of work of their own, all or nothing. 1C's
        messages go through :class:`workflows.onec_intake.StockIntake`, which adds 1C's rules."""
        async with self._uow() as uow:
            result = await self.apply_figures(uow, as_of, figures)
            await uow.commit()
        return result

    async def apply_figures(
        self, uow: UnitOfWork, as_of: datetime, figures: Sequence[StockFigure]
    ) -> StockUpdateResult:
        """Inside the caller's unit of work: figures computed at ``as_of`` on our warehouse codes."""
        result = StockUpdateResult()
        kits = self._kits.skus
        # a message naming one row twice: its last figure counts; a kit's stock is its components' (docs/kits.md)
        rows = [f for f in figures if f.sku not in kits] if kits else list(figures)
        result.ignored_kits = len(figures) - len(rows)
        rows = in_key_order(rows)  # rows are written in key order (the order PostgreSQL locks them in)
        newer = await uow.stock.save_figures(rows, as_of)
        fresh = [f for f in rows if f[:2] not in newer] if newer else rows
        result.accepted = len(fresh)
        result.ignored_stale = len(rows) - len(fresh)
        keys = list(map(KEY, fresh))
        result.absorbed = await self._absorb_reflected(uow, keys, computed_at=as_of)
        result.shortfalls = [
            Shortfall(level.sku, level.warehouse, level.on_hand, level.reserved)
            for level in await uow.stock.overdrawn(keys)
        ]
        touched = {f.sku for f in fresh}
        using = self._kits.using(touched, self._clock.now())  # their offer ids come with their components
        result.offer_id_conflicts = await self.register_offer_ids(uow, touched | using)
        if result.ignored_kits:
            log.info("1C's figures for %d rows of kit SKUs ignored: a kit's are its components'", result.ignored_kits)
        return result

    async def _absorb_reflected(
        self, uow: UnitOfWork, keys: Sequence[StockKey], computed_at: datetime | None = None
    ) -> int:
        """Absorb every active reservation that 1C's figure now reflects: its row's figure was computed at or after
        1C deducted the order. ``computed_at``: when the figures of every row of ``keys`` were computed, where the
        caller has just saved them; otherwise each row's is read."""
        deducted = await uow.reservations.deducted_active(keys) if keys else []
        if not deducted:
            return 0
        if computed_at is None:
            computed = {key: level.as_of for key, level in (await uow.stock.for_keys(keys)).items()}
        else:
            computed = dict.fromkeys(keys, computed_at)
        due = [r for r in deducted if r.deducted_at is not None and computed[(r.sku, r.warehouse)] >= r.deducted_at]
        await self._end(uow, due, ReservationState.ABSORBED)
        return len(due)

    async def receive(self, uow: UnitOfWork, warehouse: str, goods: Mapping[str, int]) -> None:
        """Inside the caller's unit of work: ``goods`` (units by SKU) arrived at ``warehouse``; they count at once
        (1C's next figure for the row, computed later, replaces ours as always). The commit queues the pushes."""
        for sku, qty in sorted(goods.items()):
            await uow.stock.receive(sku, warehouse, qty, CLEARED_AS_OF)

    async def write_off(self, uow: UnitOfWork, warehouse: str, goods: Mapping[str, int]) -> None:
        """Inside the caller's unit of work: ``goods`` left ``warehouse`` (never below 0)."""
        for sku, qty in sorted(goods.items()):
            await uow.stock.write_off(sku, warehouse, qty)

    async def release(self, uow: UnitOfWork, reservations: Sequence[Reservation]) -> None:
        """Release active reservations inside the caller's unit of work."""
        await self._end(uow, reservations, ReservationState.RELEASED)

    async def _end(self, uow: UnitOfWork, reservations: Sequence[Reservation], state: ReservationState) -> None:
        if not reservations:
            return
        per_key: dict[StockKey, int] = defaultdict(int)
        for reservation in reservations:
            per_key[(reservation.sku, reservation.warehouse)] += reservation.qty
        for (sku, warehouse), qty in sorted(per_key.items()):
            await uow.stock.unreserve(sku, warehouse, qty)
        await uow.reservations.end([r.id for r in reservations if r.id is not None], state, self._clock.now())

    async def register_offer_ids(self, uow: UnitOfWork, skus: set[str]) -> list[OfferIdConflict]:
        """Give ``skus`` their offer id on every channel where they have none yet (a kit gets one as soon as its
        components are reported, having no figures of its own)."""
        conflicts: list[OfferIdConflict] = []
        if skus:  # a SKU 1C reported before has its offer ids already, unless a channel came since
            skus = skus - await uow.offer_ids.on_every_channel(self._topology.channels.keys(), skus)
        if not skus:
            return conflicts
        channels = sorted(self._topology.channels.items())  # every channel in one statement of each kind
        mapped = await uow.offer_ids.mapped_on([name for name, _ in channels], skus)
        unmapped = {name: skus - set(mapped.get(name, {})) for name, _ in channels}
        by_rule: dict[OfferIdRule, dict[str, str]] = {}  # channels of one rule share their ids: each worked out once
        for name, channel in channels:
            known = by_rule.setdefault(channel.offer_id, {})
            known.update((sku, offer_id_for(sku, channel.offer_id)) for sku in unmapped[name] - known.keys())
        ids = {name: {sku: by_rule[channel.offer_id][sku] for sku in unmapped[name]} for name, channel in channels}
        owners = await uow.offer_ids.owners_on({name: set(of.values()) for name, of in ids.items()})
        plans = [
            plan_offer_ids(name, rule.offer_id, unmapped[name], mapped.get(name, {}), owners.get(name, {}), ids[name])
            for name, rule in channels
        ]
        await uow.offer_ids.add({plan.channel: plan.new for plan in plans})
        for plan in plans:
            if plan.conflicts:
                found = [(c.offer_id, c.sku, c.existing_sku) for c in plan.conflicts]
                await uow.offer_ids.add_conflicts(plan.channel, found, self._clock.now())
            conflicts.extend(plan.conflicts)
        return conflicts

    async def record_deduction(self, order_id: int, deducted_at: datetime) -> int:
        """1C says it deducted ``order_id`` at ``deducted_at`` (1C's clock). The order's active
        reservations wait for a figure computed at or after that moment; one we already hold is
        enough. Returns how many reservations were absorbed now."""
        async with self._uow() as uow:
            active = await uow.reservations.active_for_order(order_id)
            await uow.reservations.mark_deducted([r.id for r in active if r.id is not None], deducted_at)
            absorbed = await self._absorb_reflected(uow, sorted({(r.sku, r.warehouse) for r in active}))
            await uow.commit()
        return absorbed

    async def offer_id_conflicts(self) -> list[OfferIdConflict]:
        async with self._uow(read_only=True) as uow:
            return [OfferIdConflict(*row) for row in await uow.offer_ids.conflicts()]
