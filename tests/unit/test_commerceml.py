"""CommerceML 2 stock packages (offers.xml, rests.xml): both stock forms, deltas, quantities, refusals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from integrations.commerceml import (
    CommerceMLError,
    NoOffersPackage,
    OfferTotal,
    StockLine,
    StockPackage,
    intake_lines,
    parse_stock,
    stock_time,
)
from workflows.model import StockFigure
from workflows.onec_intake import resolve
from workflows.topology import Topology

DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
ONLINE = "03ce4b6e-3ff7-11e0-af05-0015e9b8c48d"
TVERSKAYA = "3f86a8a6-4a24-11e0-af0f-0015e9b8c48d"
ARBAT = "5a1c7e20-4a24-11e0-af0f-0015e9b8c48d"
PRODUCT = "7a0c1f00-1111-11e0-aaaa-000000000001"


def sample(name: str) -> StockPackage:
    return parse_stock((DATA / name).read_bytes())


def document(offers: str, *, package: str = "ПакетПредложений", root_attributes: str = "") -> bytes:
    attributes = root_attributes or ' ДатаФормирования="2026-11-21T11:30:00"'
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2"{attributes}>'
        f"<{package}><Предложения>{offers}</Предложения></{package}></КоммерческаяИнформация>"
    ).encode()


def offer(body: str, offer_id: str = "o1", article: str | None = "A-1") -> str:
    article_element = f"<Артикул>{article}</Артикул>" if article is not None else ""
    return f"<Предложение><Ид>{offer_id}</Ид>{article_element}{body}</Предложение>"


def refusal(xml: bytes) -> str:
    with pytest.raises(CommerceMLError) as caught:
        parse_stock(xml)
    return caught.value.reason


def test_the_2_07_attribute_form_is_read_with_empty_negative_and_decimal_comma_quantities() -> None:
    package = sample("offers_2_07.xml")
    assert package.changes_only is False
    assert package.generated_at == datetime(2026, 11, 21, 11, 30)  # naive, as 1C wrote it
    sku2, sku3 = "d1e2f3a4-0000-11e0-0000-000000000002", "d1e2f3a4-0000-11e0-0000-000000000003"
    assert package.lines == [
        StockLine("УТ-0001365", "cbcf4931-55bc-11d9-848a-00112f43529a", ONLINE, 2),
        StockLine("УТ-0001365", "cbcf4931-55bc-11d9-848a-00112f43529a", TVERSKAYA, 31),
        StockLine("SKU-2", sku2, ONLINE, 0),  # КоличествоНаСкладе="": none, no warning
        StockLine("SKU-2", sku2, ARBAT, 0),  # -3
        StockLine("SKU-3", sku3, ONLINE, 4),  # 4,000
        StockLine("SKU-3", sku3, TVERSKAYA, 2),  # 2,5 rounded down
    ]
    assert package.totals_without_warehouse == [OfferTotal("SKU-4", "d1e2f3a4-0000-11e0-0000-000000000004", 7)]
    assert package.warnings == [
        f"offer {sku2} in warehouse {ARBAT}: negative quantity -3 read as 0",
        f"offer {sku3} in warehouse {TVERSKAYA}: fractional quantity 2,5 rounded down to 2",
    ]
    assert package.has_stock


def test_the_2_10_nested_form_keeps_each_characteristic_on_its_own_line() -> None:
    package = sample("rests_2_10.xml")
    assert package.changes_only is False
    assert package.generated_at == datetime(2026, 11, 21, 11, 30, tzinfo=timezone(timedelta(hours=3)))
    char = "9b000001-2222-11e0-bbbb-00000000000"
    assert package.lines == [
        StockLine(PRODUCT, f"{PRODUCT}#{char}1", ONLINE, 3),  # no Артикул: the product guid stands in
        StockLine(PRODUCT, f"{PRODUCT}#{char}1", TVERSKAYA, 1),
        StockLine(PRODUCT, f"{PRODUCT}#{char}2", ONLINE, 2),
        # <Ид> plus <ИдХарактеристики> is joined as product#characteristic
        StockLine("SKU-9", f"7a0c1f00-1111-11e0-aaaa-000000000009#{char}9", ARBAT, 1),
    ]
    assert package.totals_without_warehouse == [OfferTotal("SKU-T", "7a0c1f00-1111-11e0-aaaa-00000000000a", 2)]
    assert package.warnings == [
        f"offer {PRODUCT}#{char}1 has no <Артикул>: its 1C id {PRODUCT} is used as the article",
        f"offer {PRODUCT}#{char}2 has no <Артикул>: its 1C id {PRODUCT} is used as the article",
        f"offer 7a0c1f00-1111-11e0-aaaa-000000000009#{char}9 in warehouse {ARBAT}: "
        "fractional quantity 1,5 rounded down to 1",
    ]


def test_a_windows_1251_delta_package_with_the_skladi_spelling() -> None:
    package = sample("offers_delta_1251.xml")
    assert package.changes_only is True
    assert package.lines == [StockLine("УТ-0001365", "cbcf4931-55bc-11d9-848a-00112f43529a", ONLINE, 1)]
    assert package.warnings == []


def test_the_changes_package_element_is_always_a_delta_and_a_bom_is_fine() -> None:
    xml = document(offer(f'<Склад ИдСклада="{ONLINE}" КоличествоНаСкладе="5"/>'), package="ИзмененияПакетаПредложений")
    package = parse_stock(b"\xef\xbb\xbf" + xml)
    assert package.changes_only is True
    assert package.lines == [StockLine("A-1", "o1", ONLINE, 5)]


@pytest.mark.parametrize(
    ("raw", "qty", "warned"),
    [("12", 12, False), ("12.000", 12, False), ("12,0", 12, False), (" 1 234 ", 1234, False), ("", 0, False),
     ("0,999", 0, True), ("-0,5", 0, True), ("+3", 3, False)],
)  # fmt: skip
def test_quantities(raw: str, qty: int, warned: bool) -> None:
    package = parse_stock(document(offer(f'<Склад ИдСклада="{ONLINE}" КоличествоНаСкладе="{raw}"/>')))
    assert package.lines == [StockLine("A-1", "o1", ONLINE, qty)]
    assert bool(package.warnings) is warned


def test_both_forms_in_one_offer_count_a_warehouse_once_when_they_agree() -> None:
    body = (
        f'<Склад ИдСклада="{ONLINE}" КоличествоНаСкладе="4"/>'
        f"<Остатки><Остаток><Склад><Ид>{ONLINE}</Ид><Количество>4</Количество></Склад>"
        f"<Склад><Ид>{ARBAT}</Ид><Количество>1</Количество></Склад></Остаток></Остатки>"
    )
    assert parse_stock(document(offer(body))).lines == [
        StockLine("A-1", "o1", ONLINE, 4),
        StockLine("A-1", "o1", ARBAT, 1),
    ]


def test_a_prices_only_offers_file_has_no_stock() -> None:
    package = parse_stock(
        document(offer("<Цены><Цена><ИдТипаЦены>PT</ИдТипаЦены><ЦенаЗаЕдиницу>10,5</ЦенаЗаЕдиницу></Цена></Цены>"))
    )
    assert package.lines == [] and package.totals_without_warehouse == []
    assert not package.has_stock and [p.price for p in package.prices] == [Decimal("10.5")]


def test_a_catalogue_is_not_a_stock_file() -> None:
    with pytest.raises(NoOffersPackage) as caught:
        sample("import.xml")
    assert caught.value.reason == "the file has no <ПакетПредложений>: it is not a stock file"


def test_malformed_xml_is_refused_whole() -> None:
    with pytest.raises(CommerceMLError) as caught:
        sample("malformed.xml")
    assert caught.value.reason.startswith("the file is not well-formed XML")


def test_a_doctype_is_refused_before_its_entities_are_read() -> None:
    with pytest.raises(CommerceMLError) as caught:
        sample("doctype.xml")
    assert caught.value.reason == "the file declares a DOCTYPE, which CommerceML never does"


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b"<ValCurs/>", "the root element is <ValCurs>, not <КоммерческаяИнформация>"),
        (b"<html><body>502</body></html>", "the root element is <html>, not <КоммерческаяИнформация>"),
        (document(offer("", offer_id=" ")), "offer number 1 has no <Ид>"),
        (document(offer("<Количество>1</Количество>") * 2), "offer o1 appears twice in the file"),
        (document(offer('<Склад ИдСклада="" КоличествоНаСкладе="1"/>')), "offer o1 names a warehouse without an id"),
        (
            document(offer(f'<Склад ИдСклада="{ONLINE}" КоличествоНаСкладе="1e3"/>')),
            f"offer o1 in warehouse {ONLINE} has a quantity '1e3' that is not a number",
        ),
        (
            document(offer(f'<Склад ИдСклада="{ONLINE}" КоличествоНаСкладе="1"/><Склады ИдСклада="{ONLINE}" '
                           'КоличествоНаСкладе="2"/>')),
            f"offer o1 gives warehouse {ONLINE} two different quantities",
        ),
        (document("", root_attributes=' ДатаФормирования="вчера"'), "ДатаФормирования 'вчера' is not a date and time"),
        (b"<!DOCTYPE html><html><body>502</body></html>", "the file is a web page, not a CommerceML document"),
        (b"<?xml version='1.0' encoding='x-nonsense'?><a/>", "the file is in an encoding that cannot be read"),
    ],
)  # fmt: skip
def test_refusals_name_the_problem(xml: bytes, reason: str) -> None:
    assert refusal(xml) == reason


def test_the_intake_sums_characteristics_and_resolves_warehouses(topology: Topology) -> None:
    assert resolve(intake_lines(sample("rests_2_10.xml")), topology) == [
        StockFigure(PRODUCT, "online", 5),  # 3 + 2: two characteristics of one product
        StockFigure(PRODUCT, "tverskaya", 1),
        StockFigure("SKU-9", "arbat", 1),
    ]


def test_stock_time_is_the_formation_date_as_1c_wrote_it() -> None:
    assert stock_time(sample("offers_2_07.xml")) == datetime(2026, 11, 21, 11, 30)  # naive: the intake reads it
    aware = sample("rests_2_10.xml")
    assert stock_time(aware) == aware.generated_at


def test_stock_time_refuses_a_package_without_a_formation_date() -> None:
    package = parse_stock(document("", root_attributes=' ВерсияСхемы="2.03"'))
    assert package.generated_at is None
    with pytest.raises(CommerceMLError, match="no ДатаФормирования"):
        stock_time(package)
