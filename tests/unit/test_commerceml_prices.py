"""Prices in 1C's offers files: ``<ТипыЦен>`` name the types, each offer's ``<Цены><Цена>`` gives its price per base
unit; read from real files (skipped with the path when absent) and from files written here for what they lack."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from integrations.commerceml import CommerceMLError, intake_prices, parse_stock

REALWORLD = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "commerceml"
WITH_PRICES = [
    "offers0_1__cml2.07_bom_ns_sklad-attrs__dobromyslov.xml",
    "offers__cml2.04_1c-official-sample__irpsv.xml",
    "offers__cml2.07_bom_ns_sklad-attrs__carono.xml",
]
ROUBLES = ("RUB", "RUR", "РУБ", "РУБ.", "643")


def offers(
    prices: str, types: str = "<ТипыЦен><ТипЦены><Ид>PT</Ид><Наименование>Розничная</Наименование></ТипЦены></ТипыЦен>"
) -> bytes:
    return (
        '<?xml version="1.0" encoding="windows-1251"?>\n'
        '<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-12-03T10:00:00">'
        f"<ПакетПредложений>{types}<Предложения>{prices}</Предложения></ПакетПредложений></КоммерческаяИнформация>"
    ).encode("cp1251")


def offer(offer_id: str, article: str, *prices: str) -> str:
    return f"<Предложение><Ид>{offer_id}</Ид><Артикул>{article}</Артикул><Цены>{''.join(prices)}</Цены></Предложение>"


def price(value: str, type_id: str = "PT", currency: str = "RUB", factor: str | None = None) -> str:
    extra = f"<Коэффициент>{factor}</Коэффициент>" if factor is not None else ""
    return f"<Цена><ИдТипаЦены>{type_id}</ИдТипаЦены><ЦенаЗаЕдиницу>{value}</ЦенаЗаЕдиницу><Валюта>{currency}</Валюта>{extra}</Цена>"


def test_a_prices_only_file_gives_prices_by_the_type_s_name_and_no_stock() -> None:
    package = parse_stock(
        offers(offer("g1", "КР-7/2", price("1 259,50"), price("990", "MIN")) + offer("g2#c1", "ВАЗА", price("12.5")))
    )
    assert not package.has_stock
    assert [
        (p.sku, p.price_type, p.price, p.price_type_id, p.offer and p.offer.onec_id) for p in intake_prices(package)
    ] == [
        ("КР-7/2", "Розничная", Decimal("1259.50"), "PT", "g1"),
        ("КР-7/2", "MIN", Decimal(990), "MIN", "g1"),  # a type the file does not name goes by its id
        ("ВАЗА", "Розничная", Decimal("12.5"), "PT", "g2#c1"),
    ]


def test_a_price_per_pack_is_a_price_per_unit_and_a_foreign_currency_is_skipped() -> None:
    package = parse_stock(
        offers(offer("g1", "A", price("1200", factor="12")) + offer("g2", "B", price("10", currency="USD")))
    )
    assert [(p.sku, p.price) for p in intake_prices(package)] == [("A", Decimal(100))]
    assert package.warnings == ["offer g2: a price in USD skipped (only roubles are sold)"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "offer g1 price type PT has a price 'abc' that is not a number"),
        ("0", "offer g1 price type PT has a price 0 that is not above 0"),
        ("-5", "offer g1 price type PT has a price -5 that is not above 0"),
        ("", "offer g1 price type PT has a price '' that is not a number"),
    ],
)
def test_a_price_that_is_not_a_price_refuses_the_file(value: str, reason: str) -> None:
    with pytest.raises(CommerceMLError) as refused:
        parse_stock(offers(offer("g1", "A", price(value))))
    assert refused.value.reason == reason


def test_a_price_without_its_type_is_skipped_with_a_warning() -> None:
    package = parse_stock(offers(offer("g1", "A", "<Цена><ЦенаЗаЕдиницу>5</ЦенаЗаЕдиницу></Цена>", price("7"))))
    assert [(p.sku, p.price) for p in intake_prices(package)] == [("A", Decimal(7))]
    assert package.warnings == ["offer g1: a price without <ИдТипаЦены> skipped"]


def _rouble_prices(xml: bytes) -> list[tuple[str, str, Decimal]]:
    """(offer id, price type name, price) of every rouble price, read straight from the file with a tree."""
    root = ET.fromstring(xml)  # a known third-party sample, read to check the parser against
    names = {
        (t.findtext("{*}Ид") or "").strip(): (t.findtext("{*}Наименование") or "").strip()
        for t in root.iterfind("{*}ПакетПредложений/{*}ТипыЦен/{*}ТипЦены")
    }
    found = []
    for element in root.iterfind("{*}ПакетПредложений/{*}Предложения/{*}Предложение"):
        offer_id = (element.findtext("{*}Ид") or "").strip()
        for p in element.iterfind("{*}Цены/{*}Цена"):
            if (p.findtext("{*}Валюта") or "RUB").strip().upper() in ROUBLES:
                type_id = (p.findtext("{*}ИдТипаЦены") or "").strip()
                value = Decimal((p.findtext("{*}ЦенаЗаЕдиницу") or "").replace(",", "."))
                factor = Decimal(p.findtext("{*}Коэффициент") or "1")
                found.append((offer_id, names.get(type_id, type_id), value / factor if factor != 1 else value))
    return found


@pytest.mark.parametrize("name", WITH_PRICES)
def test_every_rouble_price_of_a_real_file_is_read_with_its_type(name: str) -> None:
    path = REALWORLD / name
    if not path.is_file():
        pytest.skip(f"no real CommerceML sample {name} in {REALWORLD}")
    xml = path.read_bytes()
    read = [(p.offer.onec_id if p.offer else "", p.price_type, p.price) for p in intake_prices(parse_stock(xml))]
    expected = _rouble_prices(xml)
    assert read == expected and read
