"""1C's prices from its standard OData interface: the information register of item prices, on the connection of
:class:`integrations.onec_odata.ODataStock` (same publication, login and paging).

What is read:

* ``InformationRegister_<register>/SliceLast()`` — the register's slice of last values (each item's, size's and
  price type's newest price as of now), with ``$select=Номенклатура_Key,Характеристика_Key,ВидЦен_Key,Цена``.
  The register is ``ЦеныНоменклатуры`` in УТ 11 / КА 2 / ERP (later releases keep the new prices in
  ``ЦеныНоменклатуры25``: the name is a setting).
* ``Catalog_ВидыЦен`` (``Ref_Key``, ``Description``) — the price types' names, which the topology's
  ``price_type`` names; the type's ``Ref_Key`` goes along as its id, so a topology may name it either way.
* ``Catalog_Номенклатура`` (``Ref_Key``, ``Артикул``) — the article, as the stock pull maps it.

A row of an item missing from the catalog or without an article is left out with a warning; so is a price of 0
or less (1C keeps a 0 for "no price") and one that is not a number. Sizes (``Характеристика_Key``) of one article
are several prices of one SKU: the intake takes the highest, as for 1C's other price uploads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.onec_odata import ODataStock, ODataUnavailable
from workflows.onec_pull import SourceUnavailable
from workflows.prices import OneCPrice

log = logging.getLogger(__name__)

PRICE_TYPES = "Catalog_ВидыЦен"
FIELDS = "Номенклатура_Key,Характеристика_Key,ВидЦен_Key,Цена"


@dataclass(frozen=True)
class ItemPrices:
    """The register's last prices by article, and what was left out on the way (sentences for a person)."""

    prices: list[OneCPrice]
    warnings: list[str] = field(default_factory=list)


class ODataPrices:
    """Reads the last prices of the information register ``register`` (``ЦеныНоменклатуры``) over ``odata``."""

    def __init__(self, odata: ODataStock, *, register: str = "ЦеныНоменклатуры") -> None:
        self._odata, self._register = odata, register

    async def last_prices(self) -> ItemPrices:
        """Every item's newest price of every price type. Raises :class:`ODataUnavailable`."""
        rows = await self._odata.read_all(f"InformationRegister_{self._register}/SliceLast()", FIELDS)
        types = {
            _key(row, "Ref_Key").lower(): str(row.get("Description") or "").strip()
            for row in await self._odata.read_all(PRICE_TYPES, "Ref_Key,Description")
        }
        articles = await self._odata.articles()
        found: list[OneCPrice] = []
        warnings: list[str] = []
        for row in rows:
            item, type_key = _key(row, "Номенклатура_Key"), _key(row, "ВидЦен_Key")
            article, price = articles.get(item.lower()), _price(row.get("Цена"))
            if not article:
                why = "is not in the catalog" if article is None else "has no article (Артикул)"
                warnings.append(f"item {item} {why}; its price is left out")
            elif price is None:
                warnings.append(f"{article}: 1C's price {row.get('Цена')} is not a price above 0; left out")
            else:
                found.append(OneCPrice(article, types.get(type_key.lower()) or type_key, price, None, type_key))
        log.info("1C prices read: %d prices, %d warnings", len(found), len(warnings))
        return ItemPrices(found, warnings)


def _key(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise ODataUnavailable(f"a row of 1C's answer has no {name}")
    return value


def _price(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


class ODataPriceSource:
    """The pull's port (``workflows.onec_pull.PriceSource``) on 1C's OData."""

    def __init__(self, prices: ODataPrices) -> None:
        self._prices = prices

    async def prices(self) -> list[OneCPrice]:
        try:
            found = await self._prices.last_prices()
        except ODataUnavailable as error:
            raise SourceUnavailable(error.reason) from None
        for warning in found.warnings[:20]:
            log.warning("1C OData: %s", warning)
        return found.prices
