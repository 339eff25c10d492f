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

**Memory.** As for every CommerceML file (:mod:`integrations.commerceml_reading`): the file is fed to the
parser in chunks and only the ``<Документ>`` being read is built, then reduced to an
:class:`~workflows.onec_order_status.OrderDocument` and dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from integrations.commerceml_reading import CommerceMLError, CommerceMLReader, RecordHandler, flag, read
from workflows.onec_order_status import ORDER_OPERATION, OrderDocument

_DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


@dataclass(frozen=True)
class OrderDocuments:
    generated_at: datetime | None  # the root's ДатаФормирования as written
    documents: list[OrderDocument] = field(default_factory=list)


def parse_order_documents(source: bytes | IO[bytes]) -> OrderDocuments:
    """A whole orders file from 1C as its documents, from its bytes or a binary file read to its end."""
    return read(source, _DocumentReader())


class _DocumentReader(CommerceMLReader[OrderDocuments]):
    """Reads each ``<Документ>`` directly under the root as it closes. A document's problem is kept, not raised,
    so a file that also turns out malformed is refused for that instead (the order of refusals a whole-tree
    reading gives)."""

    def __init__(self) -> None:
        super().__init__()
        self._documents: list[OrderDocument] = []

    def _opens(self, tag: str, attributes: dict[str, str]) -> RecordHandler | None:
        if len(self._path) == 1 and tag == "Документ" and self._reads_records():
            return self._take_document
        return None

    def _take_document(self, document: ET.Element) -> None:
        self._documents.append(_read_document(document, len(self._documents) + 1))

    def _package(self, generated_at: datetime | None) -> OrderDocuments:
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
        deletion_mark=flag(_text(document, "ПометкаУдаления")),
        posted=flag(values.get("проведен")),
        cancelled=flag(values.get("отменен")),
        payment_number=values.get("номер оплаты по 1с", ""),
        paid_at=_date(values.get("дата оплаты по 1с"), where),
        shipment_number=values.get("номер отгрузки по 1с", ""),
        shipped_at=_date(values.get("дата отгрузки по 1с"), where),
        status_id=values.get("статуса заказа ид", ""),
        final=flag(values.get("финальный статус")),
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
