"""1C's catalogue (``import.xml``) read by the streaming parser: each product's 1C id, article, name, barcode and
characteristics; windows-1251, namespaces and a BOM as they come; a DOCTYPE or a broken file refused. Real
catalogues (1C's own 2.04 sample and two 2.07 exports) are checked against the XML itself when they are there."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from integrations.commerceml import CommerceMLError, parse_stock
from integrations.commerceml_catalogue import CataloguePackage, NoCatalogue, parse_catalogue
from tests.unit.test_commerceml_streaming import Trickle
from workflows.catalogue import CatalogueItem

DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
REALWORLD = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "commerceml"
CATALOGUES = sorted(REALWORLD.glob("import*.xml")) if REALWORLD.is_dir() else []
OFFERS = sorted(REALWORLD.glob("offers*.xml")) if REALWORLD.is_dir() else []
ABSENT = pytest.mark.skipif(not CATALOGUES, reason=f"no real CommerceML catalogues in {REALWORLD}")
BOOT = "7a0c1f00-1111-11e0-aaaa-000000000001"


def outcome(source: bytes | io.BytesIO) -> CataloguePackage | tuple[str, str]:
    try:
        return parse_catalogue(source)
    except CommerceMLError as error:
        return type(error).__name__, error.reason


def document(goods: str, catalogue: str = '<Каталог СодержитТолькоИзменения="false">') -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация ВерсияСхемы="2.07" '
        f'ДатаФормирования="2026-11-21T11:30:00">{catalogue}<Товары>{goods}</Товары></Каталог>'
        "</КоммерческаяИнформация>"
    ).encode()


def test_our_windows_1251_catalogue_gives_its_products() -> None:
    package = parse_catalogue((DATA / "import_rests_2_10.xml").read_bytes())
    assert package.changes_only is True
    assert package.generated_at == datetime(2026, 11, 21, 11, 0)
    assert package.products == [
        CatalogueItem(BOOT, "КР-7", "Кроссовки беговые", "4600000000017"),  # blanks around the article dropped
        CatalogueItem(f"{BOOT}#9b000001-2222-11e0-bbbb-000000000001", "", "Кроссовки беговые (42, синий)", "",
                      (("Цвет", "синий"), ("Размер", "42"))),
        CatalogueItem(f"{BOOT}#9b000001-2222-11e0-bbbb-000000000002", "", "Кроссовки беговые (44)", "",
                      (("Размер", "44"),)),
        CatalogueItem("7a0c1f00-1111-11e0-aaaa-0000000000b0", "", "Подарочная карта"),
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(path.name for path in DATA.glob("*.xml")))
def test_a_file_read_in_pieces_gives_what_its_bytes_give(name: str) -> None:
    xml = (DATA / name).read_bytes()
    assert outcome(Trickle(xml, 3)) == outcome(xml)


def test_a_bom_and_a_namespace_change_nothing() -> None:
    plain = document("<Товар><Ид>p1</Ид><Артикул>A-1</Артикул></Товар>")
    spaced = plain.replace(
        "<КоммерческаяИнформация".encode(), '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2"'.encode()
    )
    assert parse_catalogue(b"\xef\xbb\xbf" + spaced) == parse_catalogue(plain)


@pytest.mark.parametrize(
    ("xml", "error", "reason"),
    [
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', "CommerceMLError",
         "the file declares a DOCTYPE, which CommerceML never does"),
        (b"<!DOCTYPE html><html><body>502</body></html>", "CommerceMLError",
         "the file is a web page, not a CommerceML document"),
        (document("<Товар><Ид>p1</Ид>"), "CommerceMLError", "the file is not well-formed XML"),
        (document("<Товар><Артикул>A</Артикул></Товар>"), "CommerceMLError", "product number 1 has no <Ид>"),
        (document("<Товар><Ид>p1</Ид></Товар><Товар><Ид>p1</Ид></Товар>"), "CommerceMLError",
         "product p1 appears twice in the file"),
        ((DATA / "offers_2_07.xml").read_bytes(), "NoCatalogue", "the file has no <Каталог>: it is not a catalogue"),
        (b"<Other/>", "CommerceMLError", "the root element is <Other>"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_a_usable_catalogue_is_refused(xml: bytes, error: str, reason: str) -> None:
    refused = outcome(xml)
    assert isinstance(refused, tuple) and refused[0] == error and refused[1].startswith(reason), refused


def test_an_offers_file_keeps_what_its_offers_say_of_themselves() -> None:
    package = parse_stock((DATA / "rests_2_10.xml").read_bytes())
    assert package.without_article == {
        f"{BOOT}#9b000001-2222-11e0-bbbb-000000000001", f"{BOOT}#9b000001-2222-11e0-bbbb-000000000002",
    }  # fmt: skip
    assert package.characteristics == {}


def expected_products(xml: bytes) -> list[CatalogueItem]:
    """What the catalogue says of each product, read from the tree of the whole file."""
    root = ET.fromstring(xml)  # a known third-party sample, read to check the parser against
    return [
        CatalogueItem(
            (good.findtext("{*}Ид") or "").strip(), (good.findtext("{*}Артикул") or "").strip(),
            (good.findtext("{*}Наименование") or "").strip(), (good.findtext("{*}Штрихкод") or "").strip(),
            tuple(
                ((c.findtext("{*}Наименование") or "").strip(), (c.findtext("{*}Значение") or "").strip())
                for c in good.iterfind("{*}ХарактеристикиТовара/{*}ХарактеристикаТовара")
            ),
        )
        for good in root.iterfind("{*}Каталог/{*}Товары/{*}Товар")
    ]  # fmt: skip


@ABSENT
@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: path.name)
def test_a_real_catalogue_gives_every_product_as_the_xml_has_it(path: Path) -> None:
    xml = path.read_bytes()
    package = parse_catalogue(xml)
    expected = expected_products(xml)
    assert expected and package.products == expected
    assert outcome(Trickle(xml, 7)) == package
    assert package.generated_at is not None and package.changes_only is False


@ABSENT
def test_1c_s_own_sample_lists_characteristics_as_products_without_articles() -> None:
    package = parse_catalogue((REALWORLD / "import__cml2.04_1c-official-sample__irpsv.xml").read_bytes())
    assert len(package.products) == 4
    assert all("#" in p.onec_id and not p.article and p.characteristics for p in package.products)
    assert package.products[0].characteristics == (("Цвет", "Белый"),)


@ABSENT
def test_the_2_07_exports_give_articles_and_barcodes() -> None:
    carono = parse_catalogue((REALWORLD / "import__cml2.07_bom_ns__carono.xml").read_bytes())
    assert [(p.onec_id, p.article) for p in carono.products] == [
        ("bd72d910-55bc-11d9-848a-00112f43529a", "Б-130001"), ("bd72d913-55bc-11d9-848a-00112f43529a", "Б- 130005"),
    ]  # fmt: skip
    dobromyslov = parse_catalogue((REALWORLD / "import0_1__cml2.07_bom_ns__dobromyslov.xml").read_bytes())
    assert len(dobromyslov.products) == 36 and all(p.article for p in dobromyslov.products)
    assert sum(1 for p in dobromyslov.products if p.barcode) == 22


@ABSENT
@pytest.mark.parametrize("path", OFFERS, ids=lambda path: path.name)
def test_a_real_offers_file_gives_its_offers_characteristics_and_no_catalogue(path: Path) -> None:
    xml = path.read_bytes()
    with pytest.raises(NoCatalogue):
        parse_catalogue(xml)
    offers = ET.fromstring(xml).findall("{*}ПакетПредложений/{*}Предложения/{*}Предложение")
    expected = {
        (offer.findtext("{*}Ид") or "").strip(): tuple(
            ((c.findtext("{*}Наименование") or "").strip(), (c.findtext("{*}Значение") or "").strip())
            for c in offer.iterfind("{*}ХарактеристикиТовара/{*}ХарактеристикаТовара")
        )
        for offer in offers
    }
    package = parse_stock(xml)
    assert package.characteristics == {offer_id: chars for offer_id, chars in expected.items() if chars}
    assert package.without_article == {
        (offer.findtext("{*}Ид") or "").strip() for offer in offers if not (offer.findtext("{*}Артикул") or "").strip()
    }
