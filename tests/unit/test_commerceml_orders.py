"""1C's order documents (the ``type=sale`` upload) read by the streaming parser: what 1C says of each order
(paid, shipped, cancelled, marked for deletion) with the schema's namespace or without, in UTF-8 with a BOM or in
windows-1251, from bytes or in small pieces; a file that is not a usable orders file is refused whole."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from integrations.commerceml import CommerceMLError
from integrations.commerceml_orders import OrderDocuments, parse_order_documents
from tests.unit.test_commerceml_realworld import REALWORLD
from tests.unit.test_commerceml_streaming import Trickle
from workflows.onec_order_status import OrderDocument

DATA = Path(__file__).resolve().parent.parent / "data" / "commerceml"
SAMPLE = REALWORLD / "documents_orders__cml2.09_ns__argentcrusade.xml"


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"the real orders sample is not there: {SAMPLE}")
def test_the_real_sample_gives_both_orders_paid_and_the_first_shipped() -> None:
    package = parse_order_documents(SAMPLE.read_bytes())
    assert package.generated_at == datetime(2015, 6, 29, 18, 27, 13)
    first, second = package.documents
    assert first == OrderDocument(
        ref="142", number="142", onec_number="ТДЦУ-000001", posted=True,
        payment_number="ТДЦУ-000001", paid_at=datetime(2015, 6, 29, 15, 39, 10),
        shipment_number="ТДЦУ-000003", shipped_at=datetime(2015, 6, 29, 17, 32, 27), status_id="P",
    )  # fmt: skip
    assert (second.ref, second.onec_number, second.paid, second.shipped) == ("235", "ТДЦУ-000002", True, False)
    assert not (first.withdrawn or second.withdrawn)
    with SAMPLE.open("rb") as stream:  # from a file, as the exchange reads it
        assert parse_order_documents(stream) == package


def test_cancelled_deleted_unknown_and_other_operations_are_read_as_written() -> None:
    package = parse_order_documents((DATA / "documents_cancelled_bom.xml").read_bytes())
    cancelled, deleted, unknown, other = package.documents
    assert (cancelled.ref, cancelled.number, cancelled.cancelled, cancelled.deletion_mark) == ("1", "S-1", True, False)
    assert (cancelled.status_id, cancelled.final, cancelled.posted) == ("N", False, False)
    assert (deleted.deletion_mark, deleted.cancelled, deleted.withdrawn) == (True, False, True)
    assert (unknown.ref, unknown.payment_number, unknown.paid_at) == (
        "999999",
        "ТДЦУ-000900",
        datetime(2026, 12, 1, 10, 0),
    )
    assert (other.operation, other.cancelled) == ("Возврат товара", True)


def test_windows_1251_1c_dates_and_1c_s_empty_date() -> None:
    """Only the document's own requisites count (a line's «Отменен» does not); 1C's ``дд.мм.гггг`` dates are read
    and its year-one date is no date."""
    paid, nothing = parse_order_documents((DATA / "documents_1251.xml").read_bytes()).documents
    assert (paid.ref, paid.number, paid.onec_number) == ("", "S-10", "ТДЦУ-000110")
    assert (paid.paid_at, paid.shipped_at) == (datetime(2026, 12, 2, 9, 15), datetime(2026, 12, 2, 9, 20))
    assert (paid.payment_number, paid.shipment_number, paid.cancelled) == ("ТДЦУ-000210", "ТДЦУ-000310", False)
    assert (nothing.shipped_at, nothing.shipped, nothing.paid, nothing.cancelled) == (None, False, False, False)


@pytest.mark.parametrize("name", ["documents_cancelled_bom.xml", "documents_1251.xml"])
def test_a_file_read_in_pieces_gives_what_its_bytes_give(name: str) -> None:
    xml = (DATA / name).read_bytes()
    assert parse_order_documents(Trickle(xml, 7)) == parse_order_documents(xml)


def test_a_file_without_documents_is_an_empty_package() -> None:
    xml = '<КоммерческаяИнформация ВерсияСхемы="2.09"><Контрагенты/></КоммерческаяИнформация>'.encode()
    assert parse_order_documents(xml) == OrderDocuments(None, [])


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        ((DATA / "documents_malformed.xml").read_bytes(), "the file is not well-formed XML"),
        ((DATA / "doctype.xml").read_bytes(), "the file declares a DOCTYPE, which CommerceML never does"),
        (b"<html><body>502</body></html>", "the root element is <html>, not <КоммерческаяИнформация>"),
        ("<КоммерческаяИнформация><Документ><Дата>2026-12-01</Дата></Документ></КоммерческаяИнформация>".encode(),
         "document number 1 has neither <Ид> nor <Номер>"),
        ("<КоммерческаяИнформация><Документ><Ид>7</Ид><ЗначенияРеквизитов><ЗначениеРеквизита>"
         "<Наименование>Дата оплаты по 1С</Наименование><Значение>вчера</Значение></ЗначениеРеквизита>"
         "</ЗначенияРеквизитов></Документ></КоммерческаяИнформация>".encode(),
         "document 7 has a date 'вчера' that is not a date"),
    ],
)  # fmt: skip
def test_a_file_that_is_no_usable_orders_file_is_refused(xml: bytes, reason: str) -> None:
    with pytest.raises(CommerceMLError) as refused:
        parse_order_documents(xml)
    assert refused.value.reason.startswith(reason)
