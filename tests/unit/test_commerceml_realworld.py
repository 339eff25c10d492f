"""Real CommerceML files (2.03–2.09) written by 1C and by other projects' exchange modules, read by the streaming
parser: each offer's warehouses become its lines, a catalogue or an orders document is no stock file, and a file
read in small pieces gives what its bytes give.

The files are third parties' and are not part of the repository: they are read from the folder below when it is
there (named ``<kind>__<version and traits>__<source>.xml``), and the tests are skipped otherwise.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from integrations.commerceml import NoOffersPackage, StockPackage, parse_stock
from tests.unit.test_commerceml_streaming import Trickle, outcome

REALWORLD = Path(__file__).resolve().parents[3] / "shared" / "realworld" / "commerceml"
FILES = sorted(REALWORLD.glob("*.xml")) if REALWORLD.is_dir() else []
OFFERS = [path for path in FILES if path.name.startswith("offers")]
NOT_STOCK = [path for path in FILES if not path.name.startswith("offers")]
ABSENT = pytest.mark.skipif(not FILES, reason=f"no real CommerceML samples in {REALWORLD}")


def names(paths: list[Path]) -> list[str]:
    return [path.name for path in paths] or ["none"]


def path_of(name: str) -> Path:
    return REALWORLD / name


def offers_of(xml: bytes) -> list[ET.Element]:
    root = ET.fromstring(xml)  # a known third-party sample, read to check the parser against
    return root.findall("{*}ПакетПредложений/{*}Предложения/{*}Предложение")


def attribute_stock(offer: ET.Element) -> list[tuple[str, str, int]]:
    """(offer id, 1C warehouse, quantity) of the 2.04–2.07 ``<Склад ИдСклада КоличествоНаСкладе/>`` elements."""
    offer_id = (offer.findtext("{*}Ид") or "").strip()
    return [
        (offer_id, warehouse.attrib["ИдСклада"], max(0, int(Decimal(warehouse.get("КоличествоНаСкладе") or "0"))))
        for warehouse in offer.findall("{*}Склад")
        if "ИдСклада" in warehouse.attrib
    ]


@ABSENT
@pytest.mark.parametrize("name", names(OFFERS))
def test_each_offer_s_warehouses_become_its_lines(name: str) -> None:
    xml = path_of(name).read_bytes()
    offers = offers_of(xml)
    package = parse_stock(xml)
    assert isinstance(package, StockPackage) and offers
    assert [(line.onec_offer_id, line.warehouse_onec_id, line.qty) for line in package.lines] == [
        figure for offer in offers for figure in attribute_stock(offer)
    ]
    with_total_only = [
        offer for offer in offers if not attribute_stock(offer) and offer.find("{*}Количество") is not None
    ]
    assert [total.onec_offer_id for total in package.totals_without_warehouse] == [
        (offer.findtext("{*}Ид") or "").strip() for offer in with_total_only
    ]
    assert package.generated_at is not None


@ABSENT
@pytest.mark.parametrize("name", names(NOT_STOCK))
def test_a_catalogue_or_an_orders_document_is_not_a_stock_file(name: str) -> None:
    with pytest.raises(NoOffersPackage):
        parse_stock(path_of(name).read_bytes())


@ABSENT
@pytest.mark.parametrize("name", names(FILES))
def test_a_real_file_read_in_pieces_gives_what_its_bytes_give(name: str) -> None:
    xml = path_of(name).read_bytes()
    assert outcome(Trickle(xml, 5)) == outcome(xml)
