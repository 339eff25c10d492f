"""1C's order documents in CommerceML 2 (the ``type=sale`` upload): bytes in, plain order documents out.

What 1C writes: a ``<КоммерческаяИнформация>`` root holding ``<Документ>`` elements, one per order, each with
``Ид`` and ``Номер`` (the order as the site sent it), ``Номер1С``, ``ПометкаУдаления``, ``ХозОперация`` and
``<ЗначенияРеквизитов>`` named by Bitrix's convention: ``Проведен``, ``Номер оплаты по 1С``/``Дата оплаты по 1С``,
``Номер отгрузки по 1С``/``Дата отгрузки по 1С``, ``Отменен``, ``Статуса заказа ИД``, ``Финальный статус``. Only
these are read; goods, parties and taxes are skipped. A file with no documents (1C's counterparties file, say)
is an empty package, not an error.

A document without ``ХозОперация`` is read as a customer's order («Заказ товара»), which is what 1C sends the
site; one with another operation is passed on as it is and skipped by the workflow.

Dates are 1C's local time: ISO (``2015-06-29T15:39:10``) or 1C's ``29.06.2015 15:39:10``; 1C's empty date
(year 1) is no date. A flag is ``true``/``1``/``да``.

A file is read whole or refused with :class:`~integrations.commerceml.CommerceMLError`: malformed XML, a DOCTYPE
(refused before any entity exists, as the stock parser does), an encoding that cannot be read, another root, a
document with neither ``Ид`` nor ``Номер``, a date that is not a date. The schema's namespace (or none) plays no
part, windows-1251 comes from the XML declaration and a UTF-8 byte-order mark is taken.

**Memory.** As for stock files: the file is fed to the parser in chunks and only the ``<Документ>`` being read is
built, then reduced to an :class:`~workflows.onec_order_status.OrderDocument` and dropped.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from integrations.commerceml_reading import _CHUNK, ROOT, CommerceMLError, _feed, _generated_at
from integrations.commerceml_reading import flag as _flag
from workflows.onec_order_status import ORDER_OPERATION, OrderDocument

_DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


@dataclass(frozen=True)
class OrderDocuments:
    generated_at: datetime | None  # the root's ДатаФормирования as written
    documents: list[OrderDocument] = field(default_factory=list)


def parse_order_documents(source: bytes | IO[bytes]) -> OrderDocuments:
    """A whole orders file from 1C as its documents, from its bytes or a binary file read to its end."""
    reader = _DocumentReader()
    parser = ET.XMLParser(target=reader)  # noqa: S314  # safe: a DOCTYPE is refused, see the module doc
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    while chunk := stream.read(_CHUNK):
        _feed(parser, chunk)
    _feed(parser, None)
    return reader.package()


class _DocumentReader:
    """The parser's target: notes the root, builds each ``<Документ>`` directly under it and reduces it as it
    closes. A document's problem is kept, not raised, so a file that also turns out malformed is refused for
    that instead (the order of refusals a whole-tree reading gives)."""

    def __init__(self) -> None:
        self._depth = 0
        self._root_tag = ""
        self._root_attributes: dict[str, str] = {}
        self._document: ET.TreeBuilder | None = None
        self._document_depth = 0
        self._documents: list[OrderDocument] = []
        self._problem: CommerceMLError | None = None

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        if name.lower() == "html":
            raise CommerceMLError("the file is a web page, not a CommerceML document")
        raise CommerceMLError("the file declares a DOCTYPE, which CommerceML never does")

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        tag = tag.rpartition("}")[2]
        if self._document is not None:
            self._document_depth += 1
            self._document.start(tag, attributes)
            return
        if self._depth == 0:
            self._root_tag, self._root_attributes = tag, attributes
        elif self._depth == 1 and tag == "Документ" and self._root_tag == ROOT and self._problem is None:
            self._document, self._document_depth = ET.TreeBuilder(), 1
            self._document.start(tag, attributes)
            return
        self._depth += 1

    def data(self, text: str) -> None:
        if self._document is not None:
            self._document.data(text)

    def end(self, tag: str) -> None:
        if self._document is None:
            self._depth -= 1
            return
        self._document.end(tag.rpartition("}")[2])
        self._document_depth -= 1
        if self._document_depth == 0:
            document, self._document = self._document.close(), None
            try:
                self._documents.append(_read_document(document, len(self._documents) + 1))
            except CommerceMLError as problem:
                self._problem = problem

    def close(self) -> None:
        """The end of the document: what was read is asked for with :meth:`package`."""

    def package(self) -> OrderDocuments:
        if self._root_tag != ROOT:
            raise CommerceMLError(f"the root element is <{self._root_tag[:40]}>, not <{ROOT}>")
        generated_at = _generated_at(self._root_attributes.get("ДатаФормирования"))
        if self._problem is not None:
            raise self._problem
        return OrderDocuments(generated_at, self._documents)


def _read_document(document: ET.Element, index: int) -> OrderDocument:
    ref, number = _text(document, "Ид"), _text(document, "Номер")
    if not ref and not number:
        raise CommerceMLError(f"document number {index} has neither <Ид> nor <Номер>")
    where = f"document {ref or number}"
    values = _requisites(document)
    return OrderDocument(
        ref=ref,
        number=number,
        onec_number=_text(document, "Номер1С"),
        operation=_text(document, "ХозОперация") or ORDER_OPERATION,
        deletion_mark=_flag(_text(document, "ПометкаУдаления")),
        posted=_flag(values.get("проведен")),
        cancelled=_flag(values.get("отменен")),
        payment_number=values.get("номер оплаты по 1с", ""),
        paid_at=_date(values.get("дата оплаты по 1с"), where),
        shipment_number=values.get("номер отгрузки по 1с", ""),
        shipped_at=_date(values.get("дата отгрузки по 1с"), where),
        status_id=values.get("статуса заказа ид", ""),
        final=_flag(values.get("финальный статус")),
    )


def _text(element: ET.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


def _requisites(document: ET.Element) -> dict[str, str]:
    """The document's own ``ЗначенияРеквизитов`` (not its goods'), by lower-cased name; ``ё`` read as ``е``."""
    values: dict[str, str] = {}
    for requisite in document.iterfind("ЗначенияРеквизитов/ЗначениеРеквизита"):
        name = " ".join(_text(requisite, "Наименование").lower().replace("ё", "е").split())
        if name:
            values.setdefault(name, _text(requisite, "Значение"))
    return values


def _date(raw: str | None, where: str) -> datetime | None:
    text = (raw or "").strip()
    if not text:
        return None
    moment: datetime | None = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for pattern in _DATE_FORMATS:
            try:
                moment = datetime.strptime(text, pattern)  # 1C's local time, as written
                break
            except ValueError:
                continue
    if moment is None:
        raise CommerceMLError(f"{where} has a date {text[:30]!r} that is not a date")
    return None if moment.year <= 1 else moment  # 0001-01-01: 1C's empty date
