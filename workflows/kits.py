"""Kits: a SKU sold as a set of component SKUs, its composition possibly changing with a promotion.

A kit has no stock of its own. What may be sold of it is assembled from its components in one warehouse:
``min over components of floor(free(component) / qty per kit)`` there, and a channel gets the sum over the
warehouses it serves less its safety stock, as for any SKU. An order line of a kit reserves every component
in one warehouse, all or none (``workflows/orders.py``). The topology holds the compositions
(``[[kits]]``, validated in ``workflows/topology.py``); which one is in force is a function of the moment.
See docs/kits.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from workflows.model import Reservation, ReservationState, StockLevel, availability_of_free, channel_availability
from workflows.ports import UnitOfWork
from workflows.topology import Channel, Kit, Topology, WarehouseKind


@dataclass(frozen=True)
class Composition:
    """One composition of a kit and when it holds: ``[starts, ends)``, ``None`` for open-ended."""

    sku: str
    components: Mapping[str, int]
    starts: datetime | None
    ends: datetime | None

    def holds_at(self, moment: datetime) -> bool:
        return (self.starts is None or self.starts <= moment) and (self.ends is None or moment < self.ends)


def compositions(kits: Sequence[Kit], zone: str) -> list[Composition]:
    """The topology's kits with their validity read in the shop's time zone."""
    return [Composition(kit.sku, dict(kit.components), *kit.window(zone)) for kit in kits]


def composition_at(book: Sequence[Composition], sku: str, moment: datetime) -> Mapping[str, int] | None:
    """The components of one ``sku`` kit in force at ``moment``: ``None`` when ``sku`` is no kit then (the
    topology guarantees at most one composition holds at a time)."""
    return next((c.components for c in book if c.sku == sku and c.holds_at(moment)), None)


def kits_using(book: Sequence[Composition], components: Collection[str], moment: datetime) -> set[str]:
    """The kits in force at ``moment`` that are made with any of ``components``."""
    wanted = set(components)
    return {c.sku for c in book if c.holds_at(moment) and not wanted.isdisjoint(c.components)}


def kit_free(components: Mapping[str, int], free: Mapping[str, int]) -> int:
    """Kits that can be assembled from ``free`` units of each component (in one warehouse)."""
    return min(free.get(sku, 0) // per_kit for sku, per_kit in components.items())


def kit_levels(
    sku: str, components: Mapping[str, int], levels: Mapping[str, Sequence[StockLevel]], assembled_in: Collection[str]
) -> list[StockLevel]:
    """A kit's stock in each warehouse of ``assembled_in``, put as the stock of a SKU: ``on_hand`` kits the
    components on hand there would make, of which ``on_hand - reserved`` are free (the kits the free components
    make). ``as_of`` is the oldest component figure; a warehouse lacking a component's row has no kit."""
    by_warehouse: dict[str, dict[str, StockLevel]] = {}
    for component in components:
        for level in levels.get(component, ()):
            if level.warehouse in assembled_in:
                by_warehouse.setdefault(level.warehouse, {})[component] = level
    found: list[StockLevel] = []
    for warehouse, rows in sorted(by_warehouse.items()):
        if set(rows) != set(components):
            continue
        on_hand = kit_free(components, {sku: max(0, level.on_hand) for sku, level in rows.items()})
        free = kit_free(components, {sku: level.free for sku, level in rows.items()})
        suspects = [level.suspect_since for level in rows.values() if level.suspect_since is not None]
        as_of = min(level.as_of for level in rows.values())
        found.append(StockLevel(sku, warehouse, on_hand, on_hand - free, as_of, max(suspects) if suspects else None))
    return found


class KitBook:
    """The topology's kits, asked about at a moment."""

    def __init__(self, topology: Topology) -> None:
        self._book = compositions(topology.kits, topology.onec.timezone)
        self.skus = frozenset(c.sku for c in self._book)  # every kit SKU, whatever its validity
        # kits are assembled in online warehouses only: no store is asked to (docs/kits.md)
        self.assembled_in = frozenset(w.code for w in topology.warehouses if w.kind == WarehouseKind.ONLINE)

    def composition(self, sku: str, moment: datetime) -> Mapping[str, int] | None:
        return composition_at(self._book, sku, moment)

    def using(self, components: Collection[str], moment: datetime) -> set[str]:
        return kits_using(self._book, components, moment)

    def components(self, kits: Collection[str], moment: datetime) -> set[str]:
        """Every component of ``kits`` (those in force at ``moment``)."""
        return {sku for kit in kits for sku in self.composition(kit, moment) or {}}

    async def levels(self, uow: UnitOfWork, skus: Collection[str], moment: datetime) -> dict[str, list[StockLevel]]:
        """Stock rows of ``skus`` as ``uow`` sees them now, a kit's assembled from its components (a kit out of
        force has none); the rows 1C may hold under a kit's own SKU are not used."""
        kits = set(skus) & self.skus
        rows = await uow.stock.for_skus((set(skus) - kits) | self.components(kits, moment))
        found = {sku: rows[sku] for sku in set(skus) - kits if sku in rows}
        for kit in kits:
            components = self.composition(kit, moment)
            found[kit] = kit_levels(kit, components, rows, self.assembled_in) if components else []
        return found

    async def desired(
        self, uow: UnitOfWork, channel: Channel, skus: Collection[str], moment: datetime
    ) -> dict[str, int]:
        """What ``channel`` should show of each of ``skus`` (kits included); a SKU without stock rows is left
        out, a kit never is (one out of force shows 0)."""
        return channel_values(await self.levels(uow, skus, moment), channel)


def channel_values(levels: Mapping[str, Sequence[StockLevel]], channel: Channel) -> dict[str, int]:
    """What ``channel`` should show of each SKU of ``levels`` (its rows, as :meth:`KitBook.levels` gives them)."""
    return {
        sku: channel_availability({lv.warehouse: lv for lv in rows}, channel.serves, channel.safety_stock)
        for sku, rows in levels.items()
    }


def channels_values(
    levels: Mapping[str, Sequence[StockLevel]], channels: Mapping[str, Channel]
) -> dict[str, dict[str, int]]:
    """:func:`channel_values` of each of ``channels`` (by name), each SKU's rows gathered once for all of them."""
    free_of = {sku: {lv.warehouse: lv.free for lv in rows} for sku, rows in levels.items()}
    return {
        name: {sku: availability_of_free(free, channel.serves, channel.safety_stock) for sku, free in free_of.items()}
        for name, channel in channels.items()
    }


def kit_needs(components: Mapping[str, int], kits: int) -> dict[str, int]:
    """Units of each component ``kits`` kits take, in SKU order (the order their stock rows are locked in)."""
    return {sku: per_kit * kits for sku, per_kit in sorted(components.items())}


async def reserve_kit(
    uow: UnitOfWork, order_id: int, line_no: int, needs: Mapping[str, int], warehouse: str, now: datetime
) -> bool:
    """Reserve every component of a kit line in ``warehouse``, all or none: each take is the ledger's atomic
    conditional update, and when one is short the ones taken before it are undone in the same transaction."""
    taken: list[Reservation] = []
    for sku, qty in needs.items():
        reservation = Reservation(None, order_id, line_no, sku, warehouse, qty, ReservationState.ACTIVE, now)
        if not await uow.reservations.take(reservation):
            for earlier in reversed(taken):
                await uow.reservations.untake(earlier)
            return False
        taken.append(reservation)
    return True
