"""1C's catalogue in CommerceML 2 (``import.xml``): bytes in, its products out — which article each 1C id is.

What 1C writes: a ``<КоммерческаяИнформация>`` root holding a ``<Классификатор>`` (groups, properties) and a
``<Каталог>`` (``СодержитТолькоИзменения="true"`` marks a delta) whose ``<Товары>`` list ``<Товар>`` elements. Of each
product only what maps it to our SKUs is read: ``<Ид>`` (a product guid, or ``product#characteristic`` when 1C
lists each characteristic as a product of its own, as its 2.04 sample does), ``<Артикул>``, ``<Наименование>``,
``<Штрихкод>`` and ``<ХарактеристикиТовара>`` (name and value of each, e.g. «Размер» = 42). Pictures, groups,
properties and requisites are skipped.

The parse is every CommerceML file's (:mod:`integrations.commerceml_reading`): read in chunks and never kept as a
tree (only the ``<Товар>`` being read is built), namespace, BOM and the encoding of the XML declaration
(windows-1251 included) taken as they come, a ``DOCTYPE`` refused before anything it declares is read. A file is
read whole or refused with :class:`~integrations.commerceml.CommerceMLError`: a DOCTYPE (a web page named as one),
malformed XML, another root, no ``<Каталог>`` (:class:`NoCatalogue`: a stock or orders file), two catalogues, a
product without ``<Ид>`` or twice in the file.
Blanks around values are dropped (as the stock parser does with an offer's article); an empty article is
no article.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from integrations.commerceml import characteristics_of
from integrations.commerceml_reading import CommerceMLError, CommerceMLReader, RecordHandler, flag, read
from workflows.catalogue import CatalogueItem


class NoCatalogue(CommerceMLError):
    """A well-formed CommerceML document with no ``<Каталог>``: stock or orders, not the catalogue."""


@dataclass(frozen=True)
class CataloguePackage:
    changes_only: bool
    generated_at: datetime | None
    products: list[CatalogueItem] = field(default_factory=list)


def parse_catalogue(source: bytes | IO[bytes]) -> CataloguePackage:
    """A whole ``import.xml`` as its products, from its bytes or from a binary file read to its end."""
    return read(source, _CatalogueReader())


class _CatalogueReader(CommerceMLReader[CataloguePackage]):
    """Notes the catalogue as it opens, and reads each of its products as it closes. A problem with a product
    is kept and raised at the end, so that a file that also turns out malformed is refused for that instead."""

    def __init__(self) -> None:
        super().__init__()
        self._catalogues: list[dict[str, str]] = []
        self._seen: set[str] = set()
        self._products: list[CatalogueItem] = []

    def _opens(self, tag: str, attributes: dict[str, str]) -> RecordHandler | None:
        depth = len(self._path)
        if depth == 1 and tag == "Каталог":
            self._catalogues.append(attributes)
        elif depth == 3 and tag == "Товар" and self._reads_products():
            return self._take_product
        return None

    def _reads_products(self) -> bool:
        return (
            self._reads_records() and len(self._catalogues) == 1
            and self._path[1] == "Каталог" and self._path[2] == "Товары"
        )  # fmt: skip

    def _take_product(self, product: ET.Element) -> None:
        onec_id = (product.findtext("Ид") or "").strip()
        if not onec_id:
            raise CommerceMLError(f"product number {len(self._seen) + 1} has no <Ид>")
        if onec_id in self._seen:
            raise CommerceMLError(f"product {onec_id} appears twice in the file")
        self._seen.add(onec_id)
        self._products.append(
            CatalogueItem(
                onec_id, _text(product, "Артикул"), _text(product, "Наименование"), _text(product, "Штрихкод"),
                characteristics_of(product),
            )
        )  # fmt: skip

    def _check_kind(self) -> None:
        if not self._catalogues:
            raise NoCatalogue("the file has no <Каталог>: it is not a catalogue")
        if len(self._catalogues) > 1:
            raise CommerceMLError("the file has more than one catalogue")

    def _package(self, generated_at: datetime | None) -> CataloguePackage:
        changes_only = flag(self._catalogues[0].get("СодержитТолькоИзменения"))
        return CataloguePackage(changes_only, generated_at, self._products)


def _text(element: ET.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()
