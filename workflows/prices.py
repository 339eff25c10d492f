"""1C's prices to every channel: what each channel's price is, and which prices wait for a person.

1C keeps prices per price type ("Розничная", "Оптовая", "Минимальная", …). Each channel sells at one of them
(``[channels.<name>] price_type``), with an optional markup and a rounding (:func:`channel_price`). An upload of
prices from 1C (the exchange's offers or prices file, ``POST /api/1c/prices``) is applied by
:meth:`PriceIntake.apply` in one transaction:

1. 1C's ids go through its catalogue to our SKUs, as stock's do; a price of an offer the catalogue has not named
   is counted as unmapped and not used (it comes again with 1C's next upload). Where several offers make one SKU
   (1C's sizes summed into the product's article) the highest price is the SKU's.
2. The prices are kept per price type (``onec_prices``). Only SKUs whose 1C price changed, or that a channel has no
   price of ours for yet, go on: a price the managers rejected is not asked about again until 1C changes it.
3. For each channel selling at that price type, its price is computed and compared with what the channel will
   show (its pending, held or last accepted price). A changed price is queued in the price outbox, like stock, and
   the price dispatcher sends it (:mod:`workflows.sync`) — unless the guard holds it: a price more than
   ``drop_approval`` (``PRICE_DROP_APPROVAL``, 0.2) below what the channel shows now, or below the SKU's floor
   (``[prices]`` in the topology), waits in state ``held``.
4. Held prices of one price type from one upload make one batch and one question to the managers
   (:class:`workflows.price_guard.PriceGuard`): ``approve`` sends them all, ``reject`` keeps the channels' prices.

Money is kept in kopecks (whole numbers) from here to storage; a channel's client gets roubles as a ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from workflows.articles import check_sku
from workflows.catalogue import OneCOffer, ids_to_look_up, product_record, sku_of
from workflows.errors import WorkflowError
from workflows.ledger import Ledger
from workflows.payloads import PriceSample
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory
from workflows.price_guard import PriceGuard
from workflows.topology import Channel, Topology

MAX_PRICE = Decimal("100000000")  # 100 million roubles: more is a mistake in 1C, not a price


class InvalidPrice(WorkflowError):
    """A price that cannot be a price: not a number, not above 0, too large, or an unusable article."""

    code = "invalid_price"


@dataclass(frozen=True)
class OneCPrice:
    """One price as 1C sent it: per unit, in roubles, of one of 1C's price types (by name; ``price_type_id`` is
    1C's id of that type, when the file gave one, so a topology may name the type either way)."""

    sku: str  # our article, or 1C's id when ``offer`` is set and the article is to come from the catalogue
    price_type: str
    price: Decimal
    offer: OneCOffer | None = None
    price_type_id: str | None = None


@dataclass
class PriceResult:
    received: int = 0
    changed: int = 0  # SKU prices 1C changed (per price type)
    unmapped: int = 0  # prices of offers 1C's catalogue has not named yet: not used
    queued: dict[str, int] = field(default_factory=dict)  # channel -> prices queued to send
    held: dict[str, int] = field(default_factory=dict)  # channel -> prices held for a decision
    batches: list[int] = field(default_factory=list)  # the held batches, one question each
    unused_types: list[str] = field(default_factory=list)  # price types no channel sells at


def to_minor(value: Decimal) -> int:
    """Roubles → kopecks, halves up."""
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(value: int) -> Decimal:
    """Kopecks → roubles with two places."""
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def channel_price(onec_minor: int, channel: Channel) -> int:
    """The channel's price (kopecks) for 1C's: × (1 + markup), rounded to a multiple of the channel's rounding,
    halves up, and never below one step of it."""
    step = channel.price_rounding
    value = from_minor(onec_minor) * (1 + channel.price_markup)
    rounded = (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
    return max(to_minor(rounded), to_minor(step))


def sells_at(channel: Channel, price_type: str, price_type_id: str | None) -> bool:
    return channel.price_type is not None and channel.price_type in (price_type, price_type_id)


def checked_prices(prices: Sequence[OneCPrice]) -> list[OneCPrice]:
    """The prices with their articles normalised. Raises :class:`InvalidPrice` naming every bad one."""
    problems: list[dict[str, object]] = []
    good: list[OneCPrice] = []
    for index, line in enumerate(prices):
        try:
            finite = line.price.is_finite()
        except InvalidOperation:  # pragma: no cover - Decimal's own
            finite = False
        if not finite or line.price <= 0 or line.price > MAX_PRICE:
            problems.append({"field": f"prices.{index}.price", "problem": f"{line.price} is not a price above 0"})
            continue
        if not line.price_type.strip():
            problems.append({"field": f"prices.{index}.price_type", "problem": "empty"})
            continue
        if line.offer is not None:
            good.append(line)
            continue
        try:
            good.append(OneCPrice(check_sku(line.sku), line.price_type, line.price, None, line.price_type_id))
        except ValueError as error:
            problems.append({"field": f"prices.{index}.sku", "problem": str(error)})
    if problems:
        raise InvalidPrice(f"{len(problems)} price(s) refused; nothing applied", problems)
    return good


class PriceIntake:
    def __init__(
        self, uow: UnitOfWorkFactory, topology: Topology, ledger: Ledger, clock: Clock, guard: PriceGuard,
        *, drop_approval: Decimal = Decimal("0.2"),
    ) -> None:  # fmt: skip
        self._uow, self._topology, self._ledger, self._clock, self._guard = uow, topology, ledger, clock, guard
        self._drop = drop_approval

    async def apply(self, source: str, prices: Sequence[OneCPrice]) -> PriceResult:
        """Apply one upload of 1C's prices by the rules above, all or nothing. Raises :class:`InvalidPrice`."""
        given = checked_prices(prices)
        result = PriceResult(received=len(given))
        async with self._uow() as uow:
            by_type, ids = await self._on_skus(uow, given, result)
            now = self._clock.now()
            for price_type, values in sorted(by_type.items()):
                before = await uow.prices.onec(price_type, values)
                changed = {sku: v for sku, v in values.items() if before.get(sku) != v}
                await uow.prices.put_onec(price_type, changed, now)
                result.changed += len(changed)
                channels = [c for c in self._topology.channels.values() if sells_at(c, price_type, ids[price_type])]
                if not channels:
                    result.unused_types.append(price_type)
                    continue
                await self._ledger.register_offer_ids(uow, set(values))
                await self._to_channels(uow, source, price_type, values, set(changed), channels, result)
            await uow.commit()
        return result

    async def _on_skus(
        self, uow: UnitOfWork, prices: Sequence[OneCPrice], result: PriceResult
    ) -> tuple[dict[str, dict[str, int]], dict[str, str | None]]:
        """Per price type, each SKU's price (kopecks), the highest where several offers make one SKU; and each
        type's 1C id."""
        offers = [line.offer for line in prices if line.offer is not None]
        known = {}
        if offers:
            onec = self._topology.onec
            await uow.onec_catalogue.learn([r for offer in offers if (r := product_record(offer, onec))])
            known = await uow.onec_catalogue.get(ids_to_look_up(offers))
        by_type: dict[str, dict[str, int]] = {}
        ids: dict[str, str | None] = {}
        for line in prices:
            sku = line.sku if line.offer is None else sku_of(line.offer, known, self._topology.onec)
            if sku is None:
                result.unmapped += 1
                continue
            values = by_type.setdefault(line.price_type, {})
            values[sku] = max(values.get(sku, 0), to_minor(line.price))
            ids[line.price_type] = ids.get(line.price_type) or line.price_type_id
        return by_type, ids

    async def _to_channels(
        self, uow: UnitOfWork, source: str, price_type: str, onec: Mapping[str, int], changed: set[str],
        channels: Sequence[Channel], result: PriceResult,
    ) -> None:  # fmt: skip
        floors = await self._floors(uow, onec)
        held: dict[str, dict[str, int]] = {}
        samples: list[PriceSample] = []
        for channel in channels:
            desired = {sku: channel_price(v, channel) for sku, v in onec.items()}
            known = await uow.price_outbox.known(channel.name, desired)
            wanted = {s: v for s, v in desired.items() if (s in changed or s not in known) and known.get(s) != v}
            shown = await uow.prices.shown(channel.name, wanted)
            guarded: dict[str, int] = {}
            for sku, value in wanted.items():
                now_shown, floor = shown.get(sku), floors.get(sku)
                below_floor = floor is not None and value < floor
                if below_floor or (now_shown is not None and value < now_shown * (1 - self._drop)):
                    guarded[sku] = value
                    samples.append(PriceSample(channel.name, sku, now_shown, value, floor if below_floor else None))
            free = {sku: v for sku, v in wanted.items() if sku not in guarded}
            if free:
                await uow.price_outbox.enqueue(channel.name, free, self._clock.now())
                result.queued[channel.name] = result.queued.get(channel.name, 0) + len(free)
            if guarded:
                held[channel.name] = guarded
                result.held[channel.name] = result.held.get(channel.name, 0) + len(guarded)
        if held:
            batch = await self._guard.hold(uow, source, price_type, held, samples)
            result.batches.append(batch)

    async def _floors(self, uow: UnitOfWork, skus: Mapping[str, int]) -> dict[str, int]:
        rules = self._topology.prices
        floors = await uow.prices.onec(rules.floor_type, skus) if rules.floor_type else {}
        floors.update({sku: to_minor(value) for sku, value in rules.floors.items() if sku in skus})
        return floors
