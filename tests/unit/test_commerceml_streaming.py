"""The CommerceML parser reads a file as a stream: the figures are kept, the XML tree is not.

Memory is measured with :mod:`tracemalloc` (allocations, not time), on a generated offers file of a few MiB
shaped as 1C writes one for clothes: an offer per characteristic (size), with a name, a unit, the
characteristic, a price and two warehouses in the 2.07 attribute form.
"""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pytest

from integrations.commerceml import CommerceMLError, OfferTotal, StockLine, StockPackage, parse_stock

DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
MIB = 1024 * 1024
WAREHOUSES = ("03ce4b6e-3ff7-11e0-af05-0015e9b8c48d", "3f86a8a6-4a24-11e0-af0f-0015e9b8c48d")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
PRODUCTS = 800  # x 6 sizes: 4 800 offers, about 6.4 MiB


def product_id(product: int) -> str:
    return f"7a0c1f00-1111-11e0-aaaa-{product:012d}"


def offer_id(product: int, size: int) -> str:
    return f"{product_id(product)}#9b000001-2222-11e0-bbbb-{size:012d}"


def stock(product: int, size: int, warehouse: int) -> int:
    return (product + size + warehouse) % 5


def large_offers(products: int) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" '
        'ВерсияСхемы="2.07" ДатаФормирования="2026-11-21T11:30:00"><ПакетПредложений СодержитТолькоИзменения="false">'
        "<Ид>package</Ид><Наименование>Пакет предложений</Наименование><Предложения>"
    ]
    for product in range(products):
        for size, label in enumerate(SIZES):
            warehouses = "".join(
                f'<Склад ИдСклада="{warehouse}" КоличествоНаСкладе="{stock(product, size, number)}"/>'
                for number, warehouse in enumerate(WAREHOUSES)
            )
            parts.append(
                f"<Предложение><Ид>{offer_id(product, size)}</Ид><Артикул>ART-{product}-{label}</Артикул>"
                f"<Наименование>Футболка хлопковая, размер {label}</Наименование>"
                '<БазоваяЕдиница Код="796" НаименованиеПолное="Штука" МеждународноеСокращение="PCE">шт</БазоваяЕдиница>'
                "<ХарактеристикиТовара><ХарактеристикаТовара><Наименование>Размер</Наименование>"
                f"<Значение>{label}</Значение></ХарактеристикаТовара></ХарактеристикиТовара>"
                "<Цены><Цена><Представление>1 290 руб. за шт</Представление>"
                "<ИдТипаЦены>b4d8b7a2-5d8c-11e0-8f3a-0015e9b8c48d</ИдТипаЦены><ЦенаЗаЕдиницу>1290</ЦенаЗаЕдиницу>"
                "<Валюта>руб</Валюта><Единица>шт</Единица><Коэффициент>1</Коэффициент></Цена></Цены>"
                f"<Количество>{product % 7 + size}</Количество>{warehouses}</Предложение>\n"
            )
    parts.append("</Предложения></ПакетПредложений></КоммерческаяИнформация>")
    return "".join(parts).encode()


def expected_lines(products: int) -> list[StockLine]:
    return [
        StockLine(f"ART-{product}-{label}", offer_id(product, size), warehouse, stock(product, size, number))
        for product in range(products)
        for size, label in enumerate(SIZES)
        for number, warehouse in enumerate(WAREHOUSES)
    ]


@pytest.mark.parametrize("from_disk", [False, True], ids=["bytes", "file"])
def test_a_large_offers_file_costs_the_figures_it_keeps_not_its_tree(tmp_path: Path, from_disk: bool) -> None:
    xml = large_offers(PRODUCTS)
    assert 5 * MIB < len(xml) < 8 * MIB
    path = tmp_path / "offers0_1.xml"
    path.write_bytes(xml)
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            package = parse_stock(stream if from_disk else xml)
            kept, peak = (figure - before for figure in tracemalloc.get_traced_memory())
        finally:
            tracemalloc.stop()
    assert package.lines == expected_lines(PRODUCTS)
    assert package.warnings == []
    shown = f"peak {peak / MIB:.1f} MiB, kept {kept / MIB:.1f} MiB, for a file of {len(xml) / MIB:.1f} MiB"
    assert peak < 3 * len(xml), shown
    # beyond what the package holds, reading costs a small fraction of the file: no tree of it is built
    assert peak - kept < len(xml) // 4, shown


class Trickle(io.BytesIO):
    """A file that hands out at most ``step`` bytes per read, so that chunks end anywhere, mid-character too."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self._step = step

    def read(self, size: int | None = -1) -> bytes:
        return super().read(self._step if size is None or size < 0 else min(size, self._step))


def outcome(source: bytes | io.BytesIO) -> StockPackage | tuple[str, str]:
    try:
        return parse_stock(source)
    except CommerceMLError as error:
        return type(error).__name__, error.reason


@pytest.mark.parametrize("name", sorted(path.name for path in DATA.glob("*.xml")))
def test_a_file_read_in_pieces_gives_what_its_bytes_give(name: str) -> None:
    xml = (DATA / name).read_bytes()
    whole = outcome(xml)
    assert outcome(Trickle(xml, 3)) == whole
    assert outcome(io.BytesIO(xml)) == whole


def test_the_first_problem_is_reported_as_if_the_whole_file_were_read_first() -> None:
    """An offer's problem does not hide a later one that refuses the file as such."""
    offers = "<Предложение><Ид>o1</Ид></Предложение>" * 2  # o1 twice
    head = '<КоммерческаяИнформация ДатаФормирования="2026-11-21T11:30:00">'
    package = f"<ПакетПредложений><Предложения>{offers}</Предложения></ПакетПредложений>"
    duplicate = "offer o1 appears twice in the file"
    assert outcome(f"{head}{package}</КоммерческаяИнформация>".encode()) == ("CommerceMLError", duplicate)
    assert outcome(f"{head}{package}{package}</КоммерческаяИнформация>".encode()) == (
        "CommerceMLError",
        "the file has more than one offers package",
    )
    dated = head.replace("2026-11-21T11:30:00", "вчера")
    assert outcome(f"{dated}{package}</КоммерческаяИнформация>".encode()) == (
        "CommerceMLError",
        "ДатаФормирования 'вчера' is not a date and time",
    )
    malformed = outcome(f"{head}{package}</КоммерческаяИнформац".encode())
    assert isinstance(malformed, tuple) and malformed[1].startswith("the file is not well-formed XML")


def test_an_offer_inside_an_offer_is_part_of_it_not_a_line_of_its_own() -> None:
    xml = (
        '<КоммерческаяИнформация ДатаФормирования="2026-11-21T11:30:00"><ПакетПредложений><Предложения>'
        "<Предложение><Ид>outer</Ид><Артикул>A</Артикул><Предложение><Ид>inner</Ид><Количество>9</Количество>"
        "</Предложение><Количество>3</Количество></Предложение></Предложения></ПакетПредложений>"
        "</КоммерческаяИнформация>"
    ).encode()
    package = parse_stock(xml)
    assert package.lines == []
    assert package.totals_without_warehouse == [OfferTotal("A", "outer", 3)]
