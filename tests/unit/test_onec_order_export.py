"""Our orders as 1C's exchange is told them (``type=sale&mode=query``): beside the lines, the client as a
``Контрагент`` with a stable ``Ид`` and its contacts, the delivery address, and whether the client's money cleared —
on each backend, read back as XML and against the shape of real Bitrix answers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal

import pytest

from integrations.commerceml import client_id, render_orders
from integrations.commerceml_orders import parse_order_documents
from tests.fakes import FakeClock, assembled
from tests.unit.test_commerceml_realworld import REALWORLD
from workflows.model import Customer, Delivery, LineStatus, Order, OrderLine, StockFigure
from workflows.office_model import Phase
from workflows.onec_orders import OrderExport, OrderForOneC
from workflows.orders import LineRequest, PlaceOrder
from workflows.payments import PaymentEvent
from workflows.ports import UnitOfWorkFactory
from workflows.shop import Shop
from workflows.topology import Topology

IVAN = Customer("Иван Петров", "+7 (916) 123-45-67", "Ivan@Example.ru")
TO_DOOR = Delivery(137, "RU", "Москва", "ул. Тверская, д. 1, кв. 5", "125009")
BITRIX_ANSWERS = ("orders__cml2.03_cp1251__carono.xml", "orders_query_response__cml2.05_cp1251__dobromyslov.xml")


@pytest.fixture
async def shop(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> Shop:
    s = assembled(uow, topology, clock)
    await s.ledger.apply_stock(clock.now(), [StockFigure("IRON", "online", 10)])
    return s


async def place(shop: Shop, external_id: str, customer: Customer, delivery: Delivery | None = None) -> int:
    command = PlaceOrder("site", external_id, [LineRequest("IRON", 1)], customer, Decimal(5000), delivery=delivery)
    order = (await shop.orders.place(command)).order
    assert order.id is not None
    return order.id


def requisites(document: ET.Element) -> dict[str, str]:
    return {
        value.findtext("Наименование") or "": value.findtext("Значение") or ""
        for value in document.findall("ЗначенияРеквизитов/ЗначениеРеквизита")
    }


async def test_the_client_its_contacts_address_and_payment_go_to_1c(
    shop: Shop, uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    paid = await place(shop, "S-1", IVAN, TO_DOOR)
    again = await place(shop, "S-2", Customer("И. Петров", "89161234567"))  # the same phone, written otherwise
    await shop.payments.record(PaymentEvent("e1", "p1", paid, "idem-1", Phase.CLEARED, Decimal(5000), "RUB"))
    pending = await OrderExport(uow, clock).pending()
    assert [(sent.order.id, sent.paid, sent.delivery) for sent in pending] == [
        (paid, True, TO_DOOR),
        (again, False, None),
    ]

    root = ET.fromstring(render_orders(pending, clock.now(), {"online": "onec-online"}))
    first, second = root.findall("Документ")
    party = first.find("Контрагенты/Контрагент")
    assert party is not None
    assert party.findtext("Ид") == client_id(IVAN) == second.findtext("Контрагенты/Контрагент/Ид")
    assert (party.findtext("Наименование"), party.findtext("ПолноеНаименование"), party.findtext("Роль")) == (
        "Иван Петров", "Иван Петров", "Покупатель"
    )  # fmt: skip
    contacts = [(c.findtext("Тип"), c.findtext("Значение")) for c in party.findall("Контакты/Контакт")]
    assert contacts == [("Телефон рабочий", "+7 (916) 123-45-67"), ("Почта", "Ivan@Example.ru")]
    assert party.findtext("АдресРегистрации/Представление") == "125009, Москва, ул. Тверская, д. 1, кв. 5"
    fields = [(f.findtext("Тип"), f.findtext("Значение")) for f in party.findall("АдресРегистрации/АдресноеПоле")]
    assert ("Почтовый индекс", "125009") in fields and ("Город", "Москва") in fields
    assert requisites(first) == {
        "Заказ оплачен": "true",
        "Дата оплаты": clock.now().strftime("%d.%m.%Y %H:%M:%S"),
        "Адрес доставки": "125009, Москва, ул. Тверская, д. 1, кв. 5",
        "Отменен": "false",
        "Статус заказа": "[reserved] Зарезервирован",
    }
    assert requisites(second) == {
        "Заказ оплачен": "false",
        "Отменен": "false",
        "Статус заказа": "[reserved] Зарезервирован",
    }
    assert second.find("Контрагенты/Контрагент/АдресРегистрации") is None
    # what 1C sends back names the same orders, by our id and the channel's number
    echoed = parse_order_documents(render_orders(pending, clock.now(), {})).documents
    assert [(d.ref, d.number, d.operation, d.withdrawn) for d in echoed] == [
        (str(paid), "S-1", "Заказ товара", False), (str(again), "S-2", "Заказ товара", False)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("customer", "same_as"),
    [
        (Customer("Другое имя", "+7 916 123 45 67"), IVAN),  # a phone names the client, whatever the name
        (Customer("", "", "IVAN@example.ru "), Customer("Кто-то", "", "ivan@example.ru")),  # else the e-mail
        (Customer("Пётр  Сидоров"), Customer("пётр сидоров")),  # else the name
    ],
)
def test_a_client_s_id_in_1c_is_stable(customer: Customer, same_as: Customer) -> None:
    assert client_id(customer) == client_id(same_as) != ""
    assert "916" not in client_id(customer) and "@" not in client_id(customer)  # not the client's data itself
    assert client_id(Customer("Другой", "+79160000000")) != client_id(IVAN)
    assert client_id(Customer()) == ""


@pytest.mark.skipif(
    not all((REALWORLD / name).is_file() for name in BITRIX_ANSWERS), reason=f"no Bitrix order answers in {REALWORLD}"
)
def test_the_document_has_the_shape_of_bitrix_s_answers() -> None:
    """Every element we write under a document is one Bitrix writes there too (the contacts, absent from these two
    answers, aside); the requisites 1C reads for payment and cancel are named and valued as Bitrix does."""

    def paths(element: ET.Element, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for child in element:
            path = f"{prefix}/{child.tag.rpartition('}')[2]}"
            found |= {path} | paths(child, path)
        return found

    theirs: set[str] = set()
    names: set[str] = set()
    for name in BITRIX_ANSWERS:
        for document in ET.fromstring((REALWORLD / name).read_bytes()).iter("Документ"):
            theirs |= paths(document)
            names |= set(requisites(document))
    order = OrderForOneC(
        order=_order(), paid_at=datetime(2026, 12, 1, 10, 0), delivery=TO_DOOR
    )  # a paid order with a delivery: every element we may write
    (ours,) = ET.fromstring(render_orders([order], datetime(2026, 12, 1, 12, 0), {})).iter("Документ")
    contacts = {"/Контрагенты/Контрагент/Контакты/Контакт" + tail for tail in ("", "/Тип", "/Значение")}
    assert paths(ours) - contacts - {"/Товары/Товар/Склад", "/Товары/Товар/Артикул"} <= theirs
    assert {"Заказ оплачен", "Отменен", "Статус заказа"} <= names & set(requisites(ours))


def _order() -> Order:
    return Order(7, "site", "S-7", IVAN, Decimal(5000), "RUB", datetime(2026, 12, 1, 9, 0),
                 [OrderLine(1, "IRON", 1, LineStatus.RESERVED, "online")])  # fmt: skip
