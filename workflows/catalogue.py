"""1C's catalogue: which of our SKUs a 1C product (or one characteristic of it) is.

1C names a product by its guid and a characteristic (a size, a colour) by ``product#characteristic``. Our SKUs are
articles. Stock files from CML 2.08 on (``rests.xml``) carry only the ids, so what 1C says of its products — in the
catalogue (``import.xml``: ``Ид``, ``Артикул``, ``Наименование``, ``Штрихкод``, ``ХарактеристикиТовара``) and in
offers files (an offer's own ``Артикул`` and ``ХарактеристикиТовара``) — is kept by 1C id
(:class:`~workflows.ports.OneCProduct`), and every stock line keyed by 1C's id is resolved through it:

- the article is the offer's own, else the one 1C gave that id, else the one it gave the product;
- a product 1C gives no article keeps a stable key, its 1C guid, and is listed for the operator
  (:meth:`OneCCatalogue.unmapped`, ``storeops catalogue --unmapped``);
- ``[onec] variant_skus = "article"`` sums characteristics into the article; ``"article_size"`` makes each its own
  SKU, ``<article><variant_separator><size>`` — the size being the characteristic named ``size_characteristic``
  (``Размер``), else all its values — and a characteristic whose size is not known yet waits like an unknown id;
- a line whose 1C id nothing names yet is *held* with the time 1C computed it (never applied under the guid) and
  applied when the catalogue or an offers file names it, in that transaction, through the ledger: a figure older
  than the one stored by then is ignored as stale, as any other. So the order in which files arrive does not matter.

The SKU is worked out when a line is read, not stored: changing ``variant_skus`` changes where the next figures go.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from workflows.articles import check_sku
from workflows.errors import InvalidCatalogue
from workflows.ledger import Ledger, StockUpdateResult
from workflows.model import StockFigure
from workflows.operations import Operations
from workflows.ports import Clock, HeldFigure, OneCProduct, UnitOfWork, UnitOfWorkFactory
from workflows.topology import OneC, Topology

Characteristics = tuple[tuple[str, str], ...]  # (name, value) as 1C lists them


@dataclass(frozen=True)
class OneCOffer:
    """Who 1C says a stock line is: its id, and the article and characteristics the file itself gave (if any)."""

    onec_id: str  # product or product#characteristic
    article: str = ""
    name: str = ""
    characteristics: Characteristics = ()


@dataclass(frozen=True)
class CatalogueItem:
    """One ``<Товар>`` of 1C's catalogue."""

    onec_id: str
    article: str = ""
    name: str = ""
    barcode: str = ""
    characteristics: Characteristics = ()


@dataclass
class CatalogueResult:
    products: int = 0
    without_article: list[str] = field(default_factory=list)  # 1C ids whose product has no article: guid as SKU
    released: StockUpdateResult = field(default_factory=StockUpdateResult)  # held figures now applied
    still_held: int = 0


def size_of(characteristics: Characteristics, onec: OneC) -> str | None:
    """The size among a characteristic's properties; without one named so, all their values; none → ``None``."""
    wanted = onec.size_characteristic.casefold()
    for name, value in characteristics:
        if name.strip().casefold() == wanted and value.strip():
            return value.strip()
    values = [value.strip() for _, value in characteristics if value.strip()]
    return " ".join(values) or None


def product_record(offer: OneCOffer, onec: OneC) -> OneCProduct | None:
    """What a stock file's offer says of its 1C id worth keeping, if anything."""
    size = size_of(offer.characteristics, onec) if "#" in offer.onec_id else None
    if not offer.article and size is None:
        return None
    return OneCProduct(offer.onec_id, offer.article or None, offer.name or None, None, size)


def ids_to_look_up(offers: Sequence[OneCOffer]) -> set[str]:
    return {offer.onec_id for offer in offers} | {offer.onec_id.partition("#")[0] for offer in offers}


def sku_of(offer: OneCOffer, known: Mapping[str, OneCProduct], onec: OneC) -> str | None:
    """Our SKU for the offer by the rules above, or ``None`` when it must wait for the catalogue."""
    product, _, variant = offer.onec_id.partition("#")
    own, parent = known.get(offer.onec_id), known.get(product) if variant else None
    article = offer.article or (own.article if own else None) or (parent.article if parent else None)
    if not article and own is None and parent is None:
        return None
    base = article or product
    if onec.variant_skus == "article" or not variant:
        return base
    size = size_of(offer.characteristics, onec) or (own.size if own else None)
    if size is not None:
        return f"{base}{onec.variant_separator}{size}"
    return base if own is not None else None  # 1C named the characteristic and gave it no size


async def release_held(
    uow: UnitOfWork, topology: Topology, ledger: Ledger, operations: Operations
) -> tuple[StockUpdateResult, int]:
    """Inside the caller's unit of work: apply every held figure whose 1C id is now known, grouped by the time 1C
    computed it (oldest first, variants summed as in their own message); the rest stay held. Returns what the
    ledger did and how many stay."""
    held = await uow.onec_catalogue.held()
    total = StockUpdateResult()
    if not held:
        return total, 0
    offers = [OneCOffer(figure.onec_id) for figure in held]
    known = await uow.onec_catalogue.get(ids_to_look_up(offers))
    by_time: dict[datetime, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    released: list[tuple[str, str]] = []
    for figure, offer in zip(held, offers, strict=True):
        sku = sku_of(offer, known, topology.onec)
        if sku is not None:
            by_time[figure.as_of][(sku, figure.warehouse)] += figure.qty
            released.append((figure.onec_id, figure.warehouse))
    for as_of in sorted(by_time):
        figures = [StockFigure(sku, warehouse, qty) for (sku, warehouse), qty in sorted(by_time[as_of].items())]
        result = await ledger.apply_figures(uow, as_of, figures)
        await operations.report_stock(uow, figures, result.shortfalls)
        total.accepted += result.accepted
        total.ignored_stale += result.ignored_stale
        total.absorbed += result.absorbed
        total.shortfalls += result.shortfalls
        total.offer_id_conflicts += result.offer_id_conflicts
    await uow.onec_catalogue.release(released)
    return total, len(held) - len(released)


def hold(figures: Sequence[StockFigure], as_of: datetime, now: datetime) -> list[HeldFigure]:
    """Figures keyed by 1C id (``sku`` holds the id) as held figures."""
    return [HeldFigure(figure.sku, figure.warehouse, figure.qty, as_of, now) for figure in figures]


class OneCCatalogue:
    def __init__(
        self, uow: UnitOfWorkFactory, topology: Topology, ledger: Ledger, operations: Operations, clock: Clock
    ) -> None:
        self._uow, self._topology, self._ledger, self._ops, self._clock = uow, topology, ledger, operations, clock

    async def learn(self, items: Sequence[CatalogueItem]) -> CatalogueResult:
        """Keep what 1C's catalogue says of its products and apply the figures that were waiting for it, in one
        transaction. A product with an article that is not a usable SKU refuses the whole catalogue
        (:class:`InvalidCatalogue`), nothing kept."""
        problems = [item for item in items if item.article and not _usable(item.article)]
        if problems:
            named = ", ".join(f"{item.onec_id} {item.article[:40]!r}" for item in problems[:5])
            raise InvalidCatalogue(
                f"{len(problems)} product(s) with an article that cannot be a SKU (invisible characters, too long): "
                f"{named}{' …' if len(problems) > 5 else ''}; nothing applied",
                [{"field": item.onec_id, "problem": f"article {item.article[:40]!r}"} for item in problems[:100]],
            )
        now = self._clock.now()
        records = [self._record(item, now) for item in items]
        async with self._uow() as uow:
            await uow.onec_catalogue.learn(records)
            released, still_held = await release_held(uow, self._topology, self._ledger, self._ops)
            bare = await _without_article(uow, [item.onec_id for item in items if not item.article])
            await self._ops.heard_from_onec(uow, "catalogue")
            await uow.commit()
        return CatalogueResult(len(items), bare, released, still_held)

    async def unmapped(self, limit: int = 1000) -> list[OneCProduct]:
        """1C's products with no article (their characteristics too, unless the product has one), by 1C id."""
        found: list[OneCProduct] = []
        after = ""
        async with self._uow(read_only=True) as uow:
            while len(found) < limit and (page := await uow.onec_catalogue.without_article(after, 500)):
                parents = await uow.onec_catalogue.get({p.onec_id.partition("#")[0] for p in page})
                for product in page:
                    parent = parents.get(product.onec_id.partition("#")[0])
                    if parent is None or not parent.article:
                        found.append(product)
                after = page[-1].onec_id
        return found[:limit]

    def _record(self, item: CatalogueItem, now: datetime) -> OneCProduct:
        size = size_of(item.characteristics, self._topology.onec) if "#" in item.onec_id else None
        article = check_sku(item.article) if item.article else None
        return OneCProduct(item.onec_id, article, item.name or None, item.barcode or None, size, updated_at=now)


async def _without_article(uow: UnitOfWork, bare: list[str]) -> list[str]:
    """Of these 1C ids without an article of their own, those whose product has none either."""
    parents = await uow.onec_catalogue.get({onec_id.partition("#")[0] for onec_id in bare if "#" in onec_id})
    return [
        onec_id for onec_id in bare
        if "#" not in onec_id or not getattr(parents.get(onec_id.partition("#")[0]), "article", None)
    ]  # fmt: skip


def _usable(article: str) -> bool:
    try:
        check_sku(article)
    except ValueError:
        return False
    return True
