"""1C's stock in CommerceML 2 (``offers.xml``, ``rests.xml``): bytes in, a typed stock package out.

What 1C writes: a ``<КоммерческаяИнформация>`` root (``ДатаФормирования`` = when 1C built the
file, usually local time without an offset) holding one offers package, ``<ПакетПредложений>`` (its
``СодержитТолькоИзменения="true"`` marks a delta) or ``<ИзмененияПакетаПредложений>`` (always a delta). Each
``<Предложение>`` carries stock per 1C warehouse in one of two forms, and both are read:

* CML 2.04–2.07, attributes: ``<Склад ИдСклада="…" КоличествоНаСкладе="…"/>`` directly in the offer (some writers
  spell the element ``<Склады …/>``);
* CML 2.08+, nested: ``<Остатки><Остаток><Склад><Ид>…</Ид><Количество>…</Количество></Склад></Остаток></Остатки>``.

Choices, each a rule of this module:

* **Article.** ``<Артикул>`` of the offer; without one, the part of the offer's ``<Ид>`` before ``#`` (the 1C
  product guid), with a warning: it will not match one of our SKUs unless they are 1C guids.
* **Characteristics.** An offer ``<Ид>`` ``product#characteristic`` (or ``<Ид>`` plus ``<ИдХарактеристики>``,
  joined the same way) is a line of its own; the 1C intake (:mod:`workflows.onec_intake`) then sums the lines
  that share an article and a warehouse, so variants without their own article add up to the product's stock.
* **Quantities.** Decimal comma or point; empty → 0 (1C writes ``КоличествоНаСкладе=""`` for none); negative
  → 0 with a warning; fractional → rounded down (never promise part of an item) with a warning. Anything
  else that is not a number refuses the package.
* **Totals only.** An offer with a total ``<Количество>`` but no warehouse split names none of our
  warehouses: it is listed in ``totals_without_warehouse``, not among the lines, and the 1C intake decides
  (``[onec] totals_warehouse``, see :func:`intake_totals`). With a split, the total is ignored.
* **Absence.** A warehouse or offer that the file does not name is not set to zero, in a full package either:
  ``changes_only`` is reported, never acted on here.
* **Prices.** ``<ТипыЦен><ТипЦены>`` name the package's price types (``Ид`` → ``Наименование``); each offer's
  ``<Цены><Цена>`` gives ``ИдТипаЦены`` and ``ЦенаЗаЕдиницу`` (decimal comma or point, spaces as thousands
  separators), per ``<Коэффициент>`` base units when it is given and not 1. A price in another currency than
  roubles (``RUB``, ``руб``, ``643``), or without its type, is skipped with a warning; a price that is not a
  number above 0 refuses the package. A prices-only file (``prices.xml``) is a package with prices and no stock.

A file is parsed whole or refused with :class:`CommerceMLError` (``reason`` is one short sentence): malformed
XML, a DOCTYPE, another root, no offers package (:class:`NoOffersPackage`: a catalogue ``import.xml``), an
offer without ``<Ид>`` or twice in the file, a warehouse without an id, a quantity that is not a number.

The file is read as :mod:`integrations.commerceml_reading` reads every CommerceML file: in chunks, the namespace
and the declared encoding as they come, a DOCTYPE refused before anything in it is read. Only the ``<Предложение>``
being read is built, and it is dropped once its figures are taken. What stays is what the package holds (its
lines, totals and warnings) and the set of offer ids seen, so a large catalogue's ``import.xml`` or the prices and
names of an ``offers.xml`` cost next to nothing. The refusal is the one a tree of the whole file would get: a
DOCTYPE as soon as it is met; then malformed XML anywhere; then another root, no offers package or two, a
``ДатаФормирования`` that is not a date; only then the first offer with a problem.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import IO

from integrations.commerceml_reading import CommerceMLError as CommerceMLError  # re-exported: callers catch it here
from integrations.commerceml_reading import CommerceMLReader, RecordHandler, flag, read
from workflows.catalogue import Characteristics, OneCOffer
from workflows.clients import client_key, has_contact
from workflows.model import Customer, Delivery, Order
from workflows.onec_intake import OneCLine, OneCTotal
from workflows.onec_orders import OrderForOneC
from workflows.prices import OneCPrice

OFFER_PACKAGES = ("ПакетПредложений", "ИзмененияПакетаПредложений")
_QUANTITY = re.compile(r"[+-]?[0-9]{1,15}(?:[.,][0-9]{0,15})?")
_SPACES = re.compile(r"\s+")


class NoOffersPackage(CommerceMLError):
    """A well-formed CommerceML document with no offers package: a catalogue (``import.xml``), not stock."""


@dataclass(frozen=True)
class StockLine:
    """What 1C says one offer has in one of its warehouses."""

    article: str
    onec_offer_id: str
    warehouse_onec_id: str
    qty: int


@dataclass(frozen=True)
class OfferTotal:
    """An offer with only a total quantity: no warehouse to put it in, so it is reported and not applied."""

    article: str
    onec_offer_id: str
    qty: int


@dataclass(frozen=True)
class OfferPrice:
    """One offer's price of one of 1C's price types (by 1C's id of the type), per base unit, in roubles."""

    article: str
    onec_offer_id: str
    price_type_id: str
    price: Decimal


@dataclass(frozen=True)
class StockPackage:
    changes_only: bool
    generated_at: datetime | None  # the root's ДатаФормирования as written: naive when 1C gives no offset
    lines: list[StockLine] = field(default_factory=list)
    totals_without_warehouse: list[OfferTotal] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # what offers say of themselves, for the 1C catalogue (workflows.catalogue): ids that gave no <Артикул>,
    # and each characteristic's (name, value) pairs (ХарактеристикиТовара) when it lists them
    without_article: set[str] = field(default_factory=set)
    characteristics: dict[str, Characteristics] = field(default_factory=dict)
    prices: list[OfferPrice] = field(default_factory=list)
    price_types: dict[str, str] = field(default_factory=dict)  # 1C's id of a price type -> its name

    @property
    def has_stock(self) -> bool:
        """False for an offers file that carries prices only (``prices.xml``)."""
        return bool(self.lines or self.totals_without_warehouse)


def parse_stock(source: bytes | IO[bytes]) -> StockPackage:
    """A whole ``offers.xml`` / ``rests.xml`` (the encoding comes from its XML declaration) as a stock package,
    from its bytes or from a binary file read to its end (which the caller closes)."""
    return read(source, _StockReader())


class _StockReader(CommerceMLReader[StockPackage]):
    """Notes the offers package as it opens, and reads each of its offers as it closes.

    A problem with an offer is kept, not raised, so that a file that also turns out malformed, or to have another
    root or two packages, is refused for that instead (as when the whole tree is checked first).
    """

    def __init__(self) -> None:
        super().__init__()
        self._packages: list[tuple[str, dict[str, str]]] = []
        self._offers = 0
        self._seen: set[str] = set()
        self._found = StockPackage(changes_only=False, generated_at=None)

    def _opens(self, tag: str, attributes: dict[str, str]) -> RecordHandler | None:
        depth = len(self._path)
        if depth == 1 and tag in OFFER_PACKAGES:
            self._packages.append((tag, attributes))
        elif depth == 3 and tag == "Предложение" and self._reads_offers():
            return self._take_offer
        elif depth == 3 and tag == "ТипЦены" and self._path[2] == "ТипыЦен" and self._path[1] in OFFER_PACKAGES:
            return self._take_price_type
        return None

    def _take_price_type(self, element: ET.Element) -> None:
        type_id = (element.findtext("Ид") or "").strip()
        if type_id:
            self._found.price_types[type_id] = (element.findtext("Наименование") or "").strip() or type_id

    def _reads_offers(self) -> bool:
        """Whether the element opening now, at root/package/Предложения, is an offer worth reading."""
        package, offers = self._path[1], self._path[2]
        return (
            self._reads_records() and len(self._packages) == 1
            and package in OFFER_PACKAGES and offers == "Предложения"
        )  # fmt: skip

    def _take_offer(self, offer: ET.Element) -> None:
        self._offers += 1
        offer_id = _offer_id(offer, self._offers)
        if offer_id in self._seen:
            raise CommerceMLError(f"offer {offer_id} appears twice in the file")
        self._seen.add(offer_id)
        _read_offer(offer, offer_id, self._found)

    def _check_kind(self) -> None:
        if not self._packages:
            raise NoOffersPackage("the file has no <ПакетПредложений>: it is not a stock file")
        if len(self._packages) > 1:
            raise CommerceMLError("the file has more than one offers package")

    def _package(self, generated_at: datetime | None) -> StockPackage:
        tag, attributes = self._packages[0]
        changes_only = tag == "ИзмененияПакетаПредложений" or flag(attributes.get("СодержитТолькоИзменения"))
        return replace(self._found, changes_only=changes_only, generated_at=generated_at)


def _offer_id(offer: ET.Element, index: int) -> str:
    offer_id = (offer.findtext("Ид") or "").strip()
    if not offer_id:
        raise CommerceMLError(f"offer number {index} has no <Ид>")
    characteristic = (offer.findtext("ИдХарактеристики") or "").strip()
    if characteristic and "#" not in offer_id:
        offer_id = f"{offer_id}#{characteristic}"
    return offer_id


def _read_offer(offer: ET.Element, offer_id: str, into: StockPackage) -> None:
    article = (offer.findtext("Артикул") or "").strip()
    if not article:
        article = offer_id.partition("#")[0]
        into.without_article.add(offer_id)
        into.warnings.append(f"offer {offer_id} has no <Артикул>: its 1C id {article} is used as the article")
    if characteristics := characteristics_of(offer):
        into.characteristics[offer_id] = characteristics
    where = f"offer {offer_id}"
    into.prices.extend(_prices(offer, article, offer_id, where, into.warnings))
    split = _warehouse_split(offer, where, into.warnings)
    if split:
        into.lines.extend(StockLine(article, offer_id, warehouse, qty) for warehouse, qty in split.items())
        return
    total = offer.findtext("Количество")
    if total is None:
        total = offer.findtext("Остатки/Остаток/Количество")
    if total is not None:
        into.totals_without_warehouse.append(OfferTotal(article, offer_id, _quantity(total, where, into.warnings)))


def _prices(offer: ET.Element, article: str, offer_id: str, where: str, warnings: list[str]) -> list[OfferPrice]:
    found: list[OfferPrice] = []
    for price in offer.iterfind("Цены/Цена"):
        type_id = (price.findtext("ИдТипаЦены") or "").strip()
        currency = (price.findtext("Валюта") or "RUB").strip()
        if not type_id:  # no channel can sell at a type it cannot name
            warnings.append(f"{where}: a price without <ИдТипаЦены> skipped")
            continue
        if currency.upper() not in _ROUBLES:
            warnings.append(f"{where}: a price in {currency[:10]} skipped (only roubles are sold)")
            continue
        value = _money(price.findtext("ЦенаЗаЕдиницу") or "", f"{where} price type {type_id}")
        factor = _money(price.findtext("Коэффициент") or "1", f"{where} price type {type_id} coefficient")
        found.append(OfferPrice(article, offer_id, type_id, value / factor if factor != 1 else value))
    return found


_ROUBLES = ("RUB", "RUR", "РУБ", "РУБ.", "643")


def _money(raw: str, where: str) -> Decimal:
    text = _SPACES.sub("", raw)  # thousands separated by spaces, no-break ones too
    if not _QUANTITY.fullmatch(text):
        raise CommerceMLError(f"{where} has a price {raw.strip()[:20]!r} that is not a number")
    value = Decimal(text.replace(",", "."))
    if value <= 0:
        raise CommerceMLError(f"{where} has a price {text} that is not above 0")
    return value


def intake_prices(package: StockPackage) -> list[OneCPrice]:
    """The package's prices as the price intake takes them: by the price type's name (and 1C's id of it), each
    with 1C's id of its offer, so that the intake finds its SKU through 1C's catalogue."""
    names = package.price_types
    return [
        OneCPrice(
            p.article,
            names.get(p.price_type_id, p.price_type_id),
            p.price,
            _offer(package, p.onec_offer_id, p.article),
            p.price_type_id,
        )
        for p in package.prices
    ]


def characteristics_of(element: ET.Element) -> Characteristics:
    """``ХарактеристикиТовара/ХарактеристикаТовара`` as (name, value) pairs, in 1C's order (tags without namespace)."""
    return tuple(
        ((item.findtext("Наименование") or "").strip(), (item.findtext("Значение") or "").strip())
        for item in element.iterfind("ХарактеристикиТовара/ХарактеристикаТовара")
    )


def _warehouse_split(offer: ET.Element, where: str, warnings: list[str]) -> dict[str, int]:
    """1C warehouse id → quantity, from either form; the same warehouse twice must agree."""
    raw: list[tuple[str | None, str | None]] = []
    for child in offer:
        if child.tag in ("Склад", "Склады") and "ИдСклада" in child.attrib:  # 2.04–2.07
            raw.append((child.get("ИдСклада"), child.get("КоличествоНаСкладе")))
        elif child.tag == "Склады":  # the same, inside a <Склады> wrapper
            raw.extend((w.get("ИдСклада"), w.get("КоличествоНаСкладе")) for w in child.iterfind("Склад"))
        elif child.tag == "Склад":  # the nested form, without the Остатки wrapper
            raw.append((child.findtext("Ид"), child.findtext("Количество")))
    for warehouse in offer.iterfind("Остатки/Остаток/Склад"):  # 2.08+
        raw.append((warehouse.findtext("Ид"), warehouse.findtext("Количество")))
    split: dict[str, int] = {}
    for warehouse_id, quantity in raw:
        warehouse_id = (warehouse_id or "").strip()
        if not warehouse_id:
            raise CommerceMLError(f"{where} names a warehouse without an id")
        qty = _quantity(quantity or "", f"{where} in warehouse {warehouse_id}", warnings)
        if split.setdefault(warehouse_id, qty) != qty:
            raise CommerceMLError(f"{where} gives warehouse {warehouse_id} two different quantities")
    return split


def _quantity(raw: str, where: str, warnings: list[str]) -> int:
    text = _SPACES.sub("", raw)
    if not text:
        return 0
    if not _QUANTITY.fullmatch(text):
        raise CommerceMLError(f"{where} has a quantity {raw.strip()[:20]!r} that is not a number")
    value = Decimal(text.replace(",", "."))
    if value < 0:
        warnings.append(f"{where}: negative quantity {text} read as 0")
        return 0
    whole = int(value)  # rounds down: value is not negative
    if whole != value:
        warnings.append(f"{where}: fractional quantity {text} rounded down to {whole}")
    return whole


def intake_lines(package: StockPackage) -> list[OneCLine]:
    """The package's lines as the 1C intake takes them (warehouses as 1C names them), each with 1C's id of its
    offer, so that the intake finds its SKU through 1C's catalogue."""
    return [
        OneCLine(line.article, line.warehouse_onec_id, line.qty, _offer(package, line.onec_offer_id, line.article))
        for line in package.lines
    ]


def intake_totals(package: StockPackage) -> list[OneCTotal]:
    """The package's offers given as a total only: the 1C intake puts them in ``[onec] totals_warehouse``."""
    return [
        OneCTotal(total.article, total.qty, _offer(package, total.onec_offer_id, total.article))
        for total in package.totals_without_warehouse
    ]


def _offer(package: StockPackage, offer_id: str, article: str) -> OneCOffer:
    own = "" if offer_id in package.without_article else article
    return OneCOffer(offer_id, own, characteristics=package.characteristics.get(offer_id, ()))


def stock_time(package: StockPackage) -> datetime:
    """When 1C computed the figures: ``ДатаФормирования`` (without an offset it is 1C's local time, which the
    1C intake reads in ``[onec] timezone``).

    The ledger compares this with 1C's deduction times, so the time the file *arrived* is no substitute: a file
    without ``ДатаФормирования`` is refused (1C's own modules always write it).
    """
    if package.generated_at is None:
        raise CommerceMLError("the file has no ДатаФормирования, so the stock's time is unknown")
    return package.generated_at


def render_orders(
    orders: Sequence[OrderForOneC], generated_at: datetime, warehouse_onec_ids: Mapping[str, str]
) -> bytes:
    """Our orders as a CommerceML 2.05 ``КоммерческаяИнформация`` of ``Документ`` elements (the
    answer to ``type=sale&mode=query``), in windows-1251 as 1C's exchange expects. Each line
    names the article and the 1C warehouse holding it; a total is given when the order has one.

    The client is a ``Контрагент`` as Bitrix writes one: an ``Ид`` that stays the same for the same client (from
    the phone, else the e-mail, else the name), the name, the delivery address when the order has one
    (``АдресРегистрации``) and ``Контакты`` («Телефон рабочий», «Почта»). The document's ``ЗначенияРеквизитов``
    say whether it is paid (``Заказ оплачен``, with ``Дата оплаты``), that it is not cancelled, and its status."""
    root = ET.Element("КоммерческаяИнформация", {"ВерсияСхемы": "2.05", "ДатаФормирования": _stamp(generated_at)})
    for sent in orders:
        order = sent.order
        document = ET.SubElement(root, "Документ")
        for tag, value in (
            ("Ид", str(order.id)), ("Номер", order.external_id), ("Дата", order.created_at.date().isoformat()),
            ("Время", order.created_at.strftime("%H:%M:%S")), ("ХозОперация", "Заказ товара"), ("Роль", "Продавец"),
            ("Валюта", "руб" if order.currency.upper() == "RUB" else order.currency.upper()),
            ("Сумма", "" if order.total is None else f"{order.total:.2f}"), ("Комментарий", f"канал {order.channel}"),
        ):  # fmt: skip
            ET.SubElement(document, tag).text = value
        _client(ET.SubElement(document, "Контрагенты"), order, sent.delivery)
        goods = ET.SubElement(document, "Товары")
        for line in order.lines:
            item = ET.SubElement(goods, "Товар")
            ET.SubElement(item, "Ид").text = line.sku
            ET.SubElement(item, "Артикул").text = line.sku
            ET.SubElement(item, "Наименование").text = line.sku
            ET.SubElement(item, "Количество").text = str(line.qty)
            if line.warehouse is not None:
                ET.SubElement(item, "Склад", {"Ид": warehouse_onec_ids.get(line.warehouse, line.warehouse)})
        _requisites(ET.SubElement(document, "ЗначенияРеквизитов"), sent)
    document_bytes: bytes = ET.tostring(root, encoding="windows-1251", xml_declaration=True)
    return document_bytes


_CLIENT_IDS = uuid.UUID("5b0f3a52-9a43-4c5e-8f0e-6f1c0a1e7d21")  # our namespace of 1C ids of clients by name
_STATUS_WORDS = {"reserved": "Зарезервирован", "awaiting_store_confirmation": "Ждёт ответа магазина",
                 "partially_reserved": "Зарезервирован частично", "out_of_stock": "Нет в наличии",
                 "cancelled": "Отменён"}  # fmt: skip


def client_id(customer: Customer) -> str:
    """The client's ``Ид`` in 1C: the key RetailCRM knows the client by too (:func:`workflows.clients.client_key`:
    the same for every order of one phone, else e-mail, never the data itself); without either, one from the
    name; empty when the order names no client at all."""
    if has_contact(customer.phone, customer.email):
        return client_key(customer.phone, customer.email)
    name = " ".join(customer.name.lower().split())
    return str(uuid.uuid5(_CLIENT_IDS, f"name:{name}")) if name else ""


def _client(parties: ET.Element, order: Order, delivery: Delivery | None) -> None:
    customer = order.customer
    party = ET.SubElement(parties, "Контрагент")
    name = customer.name.strip() or customer.phone.strip() or customer.email.strip() or "—"
    ET.SubElement(party, "Ид").text = client_id(customer) or f"order-{order.id}"
    ET.SubElement(party, "Наименование").text = name
    ET.SubElement(party, "ПолноеНаименование").text = name
    ET.SubElement(party, "Роль").text = "Покупатель"
    if delivery is not None:
        address = ET.SubElement(party, "АдресРегистрации")
        ET.SubElement(address, "Представление").text = delivery_address(delivery)
        for kind, value in (("Почтовый индекс", delivery.postal_code), ("Страна", delivery.country_code.upper()),
                            ("Город", delivery.city), ("Улица", delivery.address)):  # fmt: skip
            if value.strip():
                field_ = ET.SubElement(address, "АдресноеПоле")
                ET.SubElement(field_, "Тип").text = kind
                ET.SubElement(field_, "Значение").text = value.strip()
    contacts = [("Телефон рабочий", customer.phone.strip()), ("Почта", customer.email.strip())]
    if any(value for _, value in contacts):
        listed = ET.SubElement(party, "Контакты")
        for kind, value in contacts:
            if value:
                contact = ET.SubElement(listed, "Контакт")
                ET.SubElement(contact, "Тип").text = kind
                ET.SubElement(contact, "Значение").text = value


def delivery_address(delivery: Delivery) -> str:
    """The delivery as one line: the door address, or the carrier's pick-up point."""
    where = delivery.address.strip() or (f"пункт выдачи {delivery.pickup_point}" if delivery.pickup_point else "")
    parts = (delivery.postal_code.strip(), delivery.city.strip(), where)
    return ", ".join(part for part in parts if part)


def _requisites(values: ET.Element, sent: OrderForOneC) -> None:
    status = sent.order.status.value
    named = [("Заказ оплачен", "true" if sent.paid else "false")]
    if sent.paid_at is not None:
        named.append(("Дата оплаты", sent.paid_at.strftime("%d.%m.%Y %H:%M:%S")))
    if sent.delivery is not None:
        named.append(("Адрес доставки", delivery_address(sent.delivery)))
    named += [("Отменен", "false"), ("Статус заказа", f"[{status}] {_STATUS_WORDS.get(status, status)}")]
    for name, value in named:
        requisite = ET.SubElement(values, "ЗначениеРеквизита")
        ET.SubElement(requisite, "Наименование").text = name
        ET.SubElement(requisite, "Значение").text = value


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")
