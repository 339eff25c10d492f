"""1C's catalogue on memory, SQLite and PostgreSQL: stock keyed by 1C's ids meets our SKUs through it, whichever
arrives first, sizes become SKUs of their own when the topology says so, and the ledger's "newer figure wins"
keeps a held figure from overwriting a newer one."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.fakes import FakeClock
from tests.unit.test_onec_intake import Shop
from workflows.catalogue import CatalogueItem, OneCCatalogue, OneCOffer
from workflows.errors import InvalidCatalogue
from workflows.onec_intake import OneCLine, OneCTotal, StockSource
from workflows.operations import Operations
from workflows.ports import HeldFigure, OneCProduct, UnitOfWorkFactory
from workflows.topology import Topology

BOOT = "7a0c1f00-1111-11e0-aaaa-000000000001"  # a product, and two of its characteristics (sizes)
S42, S44 = f"{BOOT}#9b000001-0000-0000-0000-000000000042", f"{BOOT}#9b000001-0000-0000-0000-000000000044"
CARD = "7a0c1f00-1111-11e0-aaaa-0000000000b0"  # a product 1C gives no article
SIZES = ((S42, "42"), (S44, "44"))


def configured(topology: Topology, **onec: object) -> Topology:
    return topology.model_copy(update={"onec": topology.onec.model_copy(update=onec)})


class CatalogueShop(Shop):
    def __init__(self, uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> None:
        super().__init__(uow, topology, clock, Operations)
        self.catalogue = OneCCatalogue(uow, topology, self.ledger, self.operations, clock)

    async def stock(self, lines: list[OneCLine], at: datetime | None = None) -> int:
        result = await self.intake.apply(StockSource.EXCHANGE, at or self.clock.now(), lines)
        return result.held_for_catalogue

    async def held(self) -> list[HeldFigure]:
        async with self.uow(read_only=True) as uow:
            return await uow.onec_catalogue.held()


def rests(online_42: int = 3, online_44: int = 2, tverskaya_42: int = 1) -> list[OneCLine]:
    """A rests.xml: 1C's ids and quantities only, no article (the guid stands in, as the parser does)."""
    return [
        OneCLine(BOOT, "online", online_42, OneCOffer(S42)),
        OneCLine(BOOT, "tverskaya", tverskaya_42, OneCOffer(S42)),
        OneCLine(BOOT, "online", online_44, OneCOffer(S44)),
    ]


CATALOGUE = [
    CatalogueItem(BOOT, "КР-7", "Кроссовки", "4600000000017"),
    *[CatalogueItem(i, "", f"Кроссовки ({size})", "", (("Цвет", "синий"), ("Размер", size))) for i, size in SIZES],
    CatalogueItem(CARD, "", "Подарочная карта"),
]


@pytest.fixture
def shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> CatalogueShop:
    return CatalogueShop(uow, topology, clock)


async def test_stock_before_its_catalogue_waits_and_lands_at_1c_s_time(shop: CatalogueShop) -> None:
    computed = shop.clock.now() - timedelta(minutes=5)
    assert await shop.stock(rests(), computed) == 3
    assert await shop.on_hand("КР-7") == {} and await shop.on_hand(BOOT) == {}  # never under the guid
    assert [(f.onec_id, f.warehouse, f.qty, f.as_of) for f in await shop.held()] == [
        (S42, "online", 3, computed), (S42, "tverskaya", 1, computed), (S44, "online", 2, computed),
    ]  # fmt: skip

    shop.clock.advance(minutes=1)
    result = await shop.catalogue.learn(CATALOGUE)
    assert (result.products, result.still_held, result.released.accepted) == (4, 0, 2)
    assert result.without_article == [CARD]  # the sizes have no article of their own, their product has
    assert await shop.on_hand("КР-7") == {"online": 5, "tverskaya": 1}  # characteristics summed into the article
    assert (await shop.ledger.stock("КР-7")).by_warehouse["online"].as_of == computed
    assert await shop.held() == []


async def test_stock_after_its_catalogue_is_applied_at_once(shop: CatalogueShop) -> None:
    await shop.catalogue.learn(CATALOGUE)
    assert await shop.stock(rests()) == 0
    assert await shop.on_hand("КР-7") == {"online": 5, "tverskaya": 1}


@pytest.mark.parametrize("catalogue_first", [True, False])
async def test_sizes_become_skus_of_their_own_in_either_order(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock, catalogue_first: bool
) -> None:
    shop = CatalogueShop(uow, configured(topology, variant_skus="article_size"), clock)
    if catalogue_first:
        await shop.catalogue.learn(CATALOGUE)
    await shop.stock(rests())
    if not catalogue_first:
        await shop.catalogue.learn(CATALOGUE)
    assert await shop.on_hand("КР-7/42") == {"online": 3, "tverskaya": 1}
    assert await shop.on_hand("КР-7/44") == {"online": 2}
    assert await shop.on_hand("КР-7") == {}


async def test_an_offers_file_that_names_article_and_size_needs_no_catalogue(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = CatalogueShop(uow, configured(topology, variant_skus="article_size", variant_separator="_"), clock)
    offer = OneCOffer(S42, "КР-7", characteristics=(("РАЗМЕР", "42"), ("Цвет", "синий")))
    assert await shop.stock([OneCLine("КР-7", "online", 4, offer)]) == 0
    assert await shop.on_hand("КР-7_42") == {"online": 4}
    # what it said is kept: a later rests.xml with the id alone lands on the same SKU
    assert await shop.stock([OneCLine(BOOT, "online", 6, OneCOffer(S42))]) == 0
    assert await shop.on_hand("КР-7_42") == {"online": 6}


async def test_a_characteristic_without_a_size_property_is_named_by_its_values(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = CatalogueShop(uow, configured(topology, variant_skus="article_size"), clock)
    offer = OneCOffer(S42, "КР-7", characteristics=(("Цвет", "синий"), ("Рост", "170")))
    await shop.stock([OneCLine("КР-7", "online", 1, offer)])
    assert await shop.on_hand("КР-7/синий 170") == {"online": 1}


async def test_a_held_figure_older_than_the_one_applied_meanwhile_is_stale(shop: CatalogueShop) -> None:
    old = shop.clock.now() - timedelta(hours=1)
    await shop.stock([OneCLine(BOOT, "online", 9, OneCOffer(BOOT))], old)  # held
    # a newer offers.xml names the article itself: applied, and the product is known from now on
    await shop.stock([OneCLine("КР-7", "online", 2, OneCOffer(BOOT, "КР-7"))])
    assert await shop.on_hand("КР-7") == {"online": 2}
    result = await shop.catalogue.learn(CATALOGUE)
    assert await shop.on_hand("КР-7") == {"online": 2}  # the held 9 is older: ignored
    assert result.still_held == 0


async def test_the_later_held_figure_of_an_id_replaces_the_earlier(shop: CatalogueShop) -> None:
    now = shop.clock.now()
    await shop.stock([OneCLine(BOOT, "online", 5, OneCOffer(BOOT))], now - timedelta(minutes=2))
    await shop.stock([OneCLine(BOOT, "online", 7, OneCOffer(BOOT))], now - timedelta(minutes=1))
    await shop.stock([OneCLine(BOOT, "online", 6, OneCOffer(BOOT))], now - timedelta(minutes=3))  # older: kept out
    assert [(f.qty, f.as_of) for f in await shop.held()] == [(7, now - timedelta(minutes=1))]
    await shop.catalogue.learn(CATALOGUE[:1])
    assert await shop.on_hand("КР-7") == {"online": 7}


async def test_a_product_without_an_article_is_keyed_by_its_guid_and_listed(shop: CatalogueShop) -> None:
    await shop.stock([OneCLine(CARD, "online", 3, OneCOffer(CARD))])
    await shop.catalogue.learn(CATALOGUE)
    assert await shop.on_hand(CARD) == {"online": 3}
    listed = await shop.catalogue.unmapped()
    assert [(p.onec_id, p.name) for p in listed] == [(CARD, "Подарочная карта")]  # sizes of КР-7 are not


async def test_totals_without_a_warehouse_wait_for_the_catalogue_too(
    uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock
) -> None:
    shop = CatalogueShop(uow, configured(topology, totals_warehouse="arbat"), clock)
    result = await shop.intake.apply(StockSource.EXCHANGE, clock.now(), [], [OneCTotal(BOOT, 4, OneCOffer(S44))])
    assert result.held_for_catalogue == 1
    await shop.catalogue.learn(CATALOGUE)
    assert await shop.on_hand("КР-7") == {"arbat": 4}


async def test_a_catalogue_with_an_unusable_article_is_refused_whole(shop: CatalogueShop) -> None:
    await shop.stock(rests())
    bad = [*CATALOGUE, CatalogueItem("7a0c1f00-1111-11e0-aaaa-0000000000c0", "ШК\u200b-1", "Шкаф")]
    with pytest.raises(InvalidCatalogue) as refused:
        await shop.catalogue.learn(bad)
    assert "1 product(s) with an article that cannot be a SKU" in refused.value.message
    assert "nothing applied" in refused.value.message
    assert len(await shop.held()) == 3 and await shop.on_hand("КР-7") == {}
    async with shop.uow(read_only=True) as work:
        assert await work.onec_catalogue.get([BOOT]) == {}


async def test_what_a_later_file_does_not_say_is_kept(shop: CatalogueShop) -> None:
    await shop.catalogue.learn(CATALOGUE)
    async with shop.uow() as work:
        await work.onec_catalogue.learn([OneCProduct(BOOT, size="45")])
        await work.commit()
    async with shop.uow(read_only=True) as work:
        kept = (await work.onec_catalogue.get([BOOT, "nothing"]))[BOOT]
    assert (kept.article, kept.name, kept.barcode, kept.size) == ("КР-7", "Кроссовки", "4600000000017", "45")
    assert kept.updated_at == shop.clock.now()


async def test_a_json_api_message_is_not_touched_by_the_catalogue(shop: CatalogueShop) -> None:
    await shop.catalogue.learn(CATALOGUE)
    await shop.intake.apply(StockSource.API, shop.clock.now(), [OneCLine(BOOT, "online", 2)])
    assert await shop.on_hand(BOOT) == {"online": 2}
