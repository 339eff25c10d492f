"""1C's catalogue in CommerceML 2 (``import.xml``): bytes in, its products out — which article each 1C id is.

What 1C writes: a ``<КоммерческаяИнформация>`` root holding a ``<Классификатор>`` (groups, properties) and a
``<Каталог>`` (``СодержитТолькоИзменения="true"`` marks a delta) whose ``<Товары>`` list ``<Товар>`` elements. Of each
product only what maps it to our SKUs is read: ``<Ид>`` (a product guid, or ``product#characteristic`` when 1C
lists each characteristic as a product of its own, as its 2.04 sample does), ``<Артикул>``, ``<Наименование>``,
``<Штрихкод>`` and ``<ХарактеристикиТовара>`` (name and value of each, e.g. «Размер» = 42). Pictures, groups,
properties and requisites are skipped.

The parse is the stock parser's (:mod:`integrations.commerceml`): read in chunks and never kept as a tree (only
the ``<Товар>`` being read is built), namespace, BOM and the encoding of the XML declaration (windows-1251
included) taken as they come, a ``DOCTYPE`` refused before anything it declares is read. A file is read whole or
refused with :class:`~integrations.commerceml.CommerceMLError`: malformed XML, another root, no ``<Каталог>``
(:class:`NoCatalogue`: a stock or orders file), two catalogues, a product without ``<Ид>`` or twice in the file.
Blanks around values are dropped (as the stock parser does with an offer's article); an empty article is
no article.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from integrations.commerceml import characteristics_of
from integrations.commerceml_reading import _CHUNK, ROOT, CommerceMLError, _feed, _generated_at
from integrations.commerceml_reading import flag as _flag
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
    reader = _CatalogueReader()
    parser = ET.XMLParser(target=reader)  # noqa: S314  # safe: a DOCTYPE is refused, see the module doc
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    while chunk := stream.read(_CHUNK):
        _feed(parser, chunk)
    _feed(parser, None)
    return reader.package()


class _CatalogueReader:
    """The parser's target: notes the root and the catalogue as they open, builds each product on its own and
    reads it as it closes. A problem with a product is kept and raised at the end, so that a file that also
    turns out malformed is refused for that instead."""

    def __init__(self) -> None:
        self._path: list[str] = []  # the open elements above the product being read
        self._root_tag = ""
        self._root_attributes: dict[str, str] = {}
        self._catalogues: list[dict[str, str]] = []
        self._product: ET.TreeBuilder | None = None
        self._depth = 0
        self._seen: set[str] = set()
        self._products: list[CatalogueItem] = []
        self._problem: CommerceMLError | None = None

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise CommerceMLError("the file declares a DOCTYPE, which CommerceML never does")

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        tag = tag.rpartition("}")[2]
        if self._product is not None:
            self._depth += 1
            self._product.start(tag, attributes)
            return
        depth = len(self._path)
        if depth == 0:
            self._root_tag, self._root_attributes = tag, attributes
        elif depth == 1 and tag == "Каталог":
            self._catalogues.append(attributes)
        elif depth == 3 and tag == "Товар" and self._reads_products():
            self._product, self._depth = ET.TreeBuilder(), 1
            self._product.start(tag, attributes)
            return
        self._path.append(tag)

    def data(self, text: str) -> None:
        if self._product is not None:
            self._product.data(text)

    def end(self, tag: str) -> None:
        if self._product is None:
            self._path.pop()
            return
        self._product.end(tag.rpartition("}")[2])
        self._depth -= 1
        if self._depth == 0:
            product, self._product = self._product.close(), None
            self._take(product)

    def close(self) -> None:
        """The end of the document: what was read is asked for with :meth:`package`."""

    def _reads_products(self) -> bool:
        return (
            self._problem is None and self._root_tag == ROOT and len(self._catalogues) == 1
            and self._path[1] == "Каталог" and self._path[2] == "Товары"
        )  # fmt: skip

    def _take(self, product: ET.Element) -> None:
        onec_id = (product.findtext("Ид") or "").strip()
        if not onec_id:
            self._problem = CommerceMLError(f"product number {len(self._seen) + 1} has no <Ид>")
        elif onec_id in self._seen:
            self._problem = CommerceMLError(f"product {onec_id} appears twice in the file")
        else:
            self._seen.add(onec_id)
            self._products.append(
                CatalogueItem(
                    onec_id, _text(product, "Артикул"), _text(product, "Наименование"), _text(product, "Штрихкод"),
                    characteristics_of(product),
                )
            )  # fmt: skip

    def package(self) -> CataloguePackage:
        if self._root_tag != ROOT:
            raise CommerceMLError(f"the root element is <{self._root_tag[:40]}>, not <{ROOT}>")
        if not self._catalogues:
            raise NoCatalogue("the file has no <Каталог>: it is not a catalogue")
        if len(self._catalogues) > 1:
            raise CommerceMLError("the file has more than one catalogue")
        changes_only = _flag(self._catalogues[0].get("СодержитТолькоИзменения"))
        generated_at = _generated_at(self._root_attributes.get("ДатаФормирования"))
        if self._problem is not None:
            raise self._problem
        return CataloguePackage(changes_only, generated_at, self._products)


def _text(element: ET.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()
