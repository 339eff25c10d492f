"""A purchase's boxes on memory, SQLite and PostgreSQL: barcodes whose check digit refuses a mistyped one, scans
recorded once per box and status, never back, stock received and written off once, and each earmark releasing the
box's share as materialised once and never above what was drawn."""

from __future__ import annotations

import contextlib
import itertools
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from bot.order_history import history_line
from bot.telegram.box_card import box_card
from bot.texts import Locale
from bot.wording import Names
from tests.fakes import FakeClock
from tests.people_words import raw_codes, topology_codes
from tests.unit.test_client_money import TIR_FULL, MoneyOffice
from workflows.box_model import (
    STATUSES,
    BadBarcode,
    Box,
    BoxesConflict,
    BoxLine,
    BoxNotFound,
    BoxScan,
    BoxStatus,
    ClientStatus,
    InvalidBoxes,
    InvalidScanTime,
    NotAPurchase,
    PurchaseNotDrawn,
    ScanBackwards,
    ScanConflict,
    barcode,
    read_barcode,
)
from workflows.boxes import BoxDesk, ScanOutcome
from workflows.errors import OrderNotFound
from workflows.money_model import MoneyAccount, PayoutNotFound, PayoutRequest, Purpose
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology

BOXES = [[BoxLine("IRON", 6)], [BoxLine("IRON", 3), BoxLine("KETTLE", 1)]]  # 6 and 4 units of 10


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> MoneyOffice:
    return MoneyOffice(uow, topology, clock)


def _desk(office: MoneyOffice) -> BoxDesk:
    assert office.shop.boxes is not None
    return office.shop.boxes


async def _funded(office: MoneyOffice, *, customs: bool = True) -> int:
    """An order planned and paid in full; the supplier (590 000 ₽), the carrier (1 150 000 ₽) and, unless told
    not to, customs (222 000 ₽) drawn."""
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-all", Decimal(1_994_400))
    due = office.clock.now() + timedelta(days=2)
    draws = [
        PayoutRequest("cn-inv-7", order_id, Purpose.GOODS, "Guangzhou Textile", "CNY", Decimal(50_000), due,
                      Decimal("11.80")),
        PayoutRequest("tir-1", order_id, Purpose.LOGISTICS, "TIR carrier", "EUR", Decimal(11_500), due, Decimal(100)),
    ]  # fmt: skip
    if customs:
        draws.append(PayoutRequest("fts-1", order_id, Purpose.CUSTOMS, "ФТС", "RUB", Decimal(222_000), due))
    for request in draws:
        await office.money.draw(request)
    return order_id


async def _on_hand(office: MoneyOffice, sku: str, warehouse: str = "online") -> int:
    found = (await office.shop.ledger.stock(sku)).by_warehouse.get(warehouse)
    return 0 if found is None else found.on_hand


def _plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


def _books_hold(account: MoneyAccount) -> None:
    for earmark in account.earmarks:
        assert 0 <= earmark.released <= earmark.drawn <= earmark.reserved, earmark


def test_a_barcode_names_its_purchase_and_box_and_refuses_any_single_typo() -> None:
    code = barcode(42, 3)
    assert code.startswith("BX-00000042-0003-") and len(code) == 18
    assert set(code) <= set("BX0123456789-")  # Code 128 set B and GS1's characters
    assert read_barcode(code) == (42, 3)
    assert read_barcode("BX-00000042-0003-6") == (42, 3)  # the example the texts and docs give
    assert read_barcode(f"  {code.lower()} ") == (42, 3)  # typed by a person
    assert read_barcode(barcode(123_456_789, 9999)) == (123_456_789, 9999)  # a wider id takes more digits
    digits = [i for i, c in enumerate(code) if c.isdigit()]
    for i in digits:  # every single mistyped digit, the check digit's own included
        for other in "0123456789":
            if other != code[i]:
                with pytest.raises(BadBarcode):
                    read_barcode(code[:i] + other + code[i + 1 :])
    for i, j in itertools.pairwise(digits):  # every swap of neighbouring digits that changes it
        if j == i + 1 and code[i] != code[j]:
            with pytest.raises(BadBarcode):
                read_barcode(code[:i] + code[j] + code[i] + code[j + 1 :])
    for wrong in ("", "BX-42-3-1", "SO-00000042-0003-6", "BX-00000000-0000-0"):
        with pytest.raises(BadBarcode):
            read_barcode(wrong)


async def test_registering_boxes_releases_the_goods_and_a_repeat_changes_nothing(office: MoneyOffice) -> None:
    order_id = await _funded(office)
    desk = _desk(office)
    done = await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)
    assert not done.duplicate
    payout = await office.payout("cn-inv-7")
    assert [b.barcode for b in done.boxes] == [barcode(payout.id or 0, 1), barcode(payout.id or 0, 2)]
    assert [b.value_rub for b in done.boxes] == [Decimal(354_000), Decimal(236_000)]  # by units, to the kopeck
    assert {b.status for b in done.boxes} == {BoxStatus.PURCHASED}
    goods = (await office.account(order_id)).earmark(Purpose.GOODS)
    assert (goods.drawn, goods.released) == (Decimal(590_000), Decimal(590_000))

    again = await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)
    assert again.duplicate and [b.barcode for b in again.boxes] == [b.barcode for b in done.boxes]
    assert (await office.account(order_id)).earmark(Purpose.GOODS).released == Decimal(590_000)
    with pytest.raises(BoxesConflict):  # other contents
        await desk.register(order_id, "cn-inv-7", "reg-1", BOXES[:1])
    with pytest.raises(BoxesConflict):  # another key for the same purchase
        await desk.register(order_id, "cn-inv-7", "reg-2", BOXES)
    releases = [e for e in (await office.money.account_of(order_id)).entries if e.kind == "release"]
    assert len(releases) == 2


async def test_boxes_are_refused_clearly_and_nothing_is_written(office: MoneyOffice) -> None:
    order_id = await _funded(office)
    desk = _desk(office)
    with pytest.raises(OrderNotFound):
        await desk.register(order_id + 999, "cn-inv-7", "k", BOXES)
    with pytest.raises(PayoutNotFound):
        await desk.register(order_id, "no-such", "k", BOXES)
    with pytest.raises(NotAPurchase):
        await desk.register(order_id, "tir-1", "k", BOXES)
    bads: list[list[list[BoxLine]]] = [
        [], [[]], [[BoxLine("IRON", 0)]], [[BoxLine("IRON", 1), BoxLine("IRON", 2)]], [[BoxLine(" ", 1)]],
    ]  # fmt: skip
    for bad in bads:
        with pytest.raises(InvalidBoxes):
            await desk.register(order_id, "cn-inv-7", "k", bad)
    short = PayoutRequest("cn-inv-8", order_id, Purpose.GOODS, "Yiwu", "RUB", Decimal(50_000), office.clock.now())
    await office.money.draw(short)  # 10 000 left in the goods earmark: short
    with pytest.raises(PurchaseNotDrawn):
        await desk.register(order_id, "cn-inv-8", "k", BOXES)
    assert (await desk.of_order(order_id)).boxes == []
    assert (await office.account(order_id)).earmark(Purpose.GOODS).released == 0


async def test_scans_move_a_box_on_once_and_never_back(office: MoneyOffice) -> None:
    order_id = await _funded(office)
    desk = _desk(office)
    first, second = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes
    before = await _on_hand(office, "IRON")

    moved = await desk.scan(first.barcode)  # the next status
    assert (moved.box.status, moved.duplicate, moved.order) == (BoxStatus.AT_SUPPLIER_WAREHOUSE, False, "CN-1")
    moved = await desk.scan(first.barcode, BoxStatus.IN_TRANSIT)
    logistics = (await office.account(order_id)).earmark(Purpose.LOGISTICS)
    assert logistics.released == Decimal("678500.00")  # 1 150 000 × 354 000 / 600 000 (the goods' plan)
    assert moved.released == {"logistics": Decimal("678500.00")}

    again = await desk.scan(first.barcode, BoxStatus.IN_TRANSIT)  # a repeat: what it was
    assert again.duplicate and again.steps == [] and again.scan.status == BoxStatus.IN_TRANSIT
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).released == Decimal("678500.00")

    with pytest.raises(ScanBackwards):
        await desk.scan(first.barcode, BoxStatus.AT_SUPPLIER_WAREHOUSE)
    assert (await desk.of_order(order_id)).boxes[0][0].status == BoxStatus.IN_TRANSIT

    arrived = await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)
    assert arrived.warehouse == "online" and arrived.steps[0].stock == "received"
    assert await _on_hand(office, "IRON") == before + 6
    await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)  # scanned twice at the door
    await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE, key="door-2")
    assert await _on_hand(office, "IRON") == before + 6  # received once
    customs = (await office.account(order_id)).earmark(Purpose.CUSTOMS)
    assert customs.released == Decimal("130980.00")  # 222 000 × 354 000 / 600 000

    await desk.scan(first.barcode)  # sent to the marketplace: written off
    assert await _on_hand(office, "IRON") == before
    await desk.scan(first.barcode)
    last = await desk.scan(first.barcode)  # nothing after accepted_at_fulfilment
    assert last.duplicate and last.last and last.box.status == BoxStatus.ACCEPTED_AT_FULFILMENT
    assert await _on_hand(office, "IRON") == before
    statuses = [s.status for _, scans in (await desk.of_order(order_id)).boxes[:1] for s in scans]
    assert statuses == list(STATUSES)
    entries = [e.key for e in (await office.money.account_of(order_id)).entries if e.kind == "release"]
    assert len(entries) == len(set(entries)) == 2 + 4  # both boxes' goods, then this box's four earmark steps
    assert second.status == BoxStatus.PURCHASED
    _books_hold(await office.account(order_id))


async def test_a_scan_further_on_passes_the_statuses_between(office: MoneyOffice) -> None:
    order_id = await _funded(office)
    desk = _desk(office)
    box = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes[1]
    outcome = await desk.scan(box.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE, key="k-1")
    assert [(s.status, s.skipped) for s in outcome.steps] == [
        (BoxStatus.AT_SUPPLIER_WAREHOUSE, True), (BoxStatus.IN_TRANSIT, True),
        (BoxStatus.AT_MOSCOW_WAREHOUSE, False),
    ]  # fmt: skip
    assert set(outcome.released) == {"logistics", "customs"}
    assert await _on_hand(office, "KETTLE") == 1  # a row 1C never sent is made
    repeat = await desk.scan(box.barcode, key="k-1")  # the same key: what it was, not the next status
    assert repeat.duplicate and repeat.box.status == BoxStatus.AT_MOSCOW_WAREHOUSE
    with pytest.raises(ScanConflict):
        await desk.scan(box.barcode, BoxStatus.SENT_TO_MARKETPLACE, key="k-1")
    assert await _on_hand(office, "KETTLE") == 1
    found = await desk.of_order(order_id)
    assert found.least == BoxStatus.PURCHASED and found.client_status == ClientStatus.PAID
    assert found.counts[BoxStatus.AT_MOSCOW_WAREHOUSE] == 1


async def test_a_release_is_never_above_what_was_drawn(office: MoneyOffice) -> None:
    order_id = await _funded(office, customs=False)  # nothing drawn for customs yet
    desk = _desk(office)
    box = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes[0]
    outcome = await desk.scan(box.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)
    assert outcome.released["customs"] == 0
    account = await office.account(order_id)
    assert account.earmark(Purpose.CUSTOMS).released == 0
    _books_hold(account)
    async with office.uow() as work:  # the book itself refuses a release above drawn
        logistics = account.earmark(Purpose.LOGISTICS)
        assert logistics.id is not None
        room = logistics.drawn - logistics.released
        assert not await work.money.release(logistics.id, room + Decimal("0.01"))
        assert await work.money.release(logistics.id, room)
        await work.commit()
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).released == logistics.drawn


async def test_a_bad_barcode_or_time_is_refused_and_changes_nothing(office: MoneyOffice) -> None:
    order_id = await _funded(office)
    desk = _desk(office)
    box = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes[0]
    typo = box.barcode[:-1] + str((int(box.barcode[-1]) + 1) % 10)
    with pytest.raises(BadBarcode):
        await desk.scan(typo)
    with pytest.raises(BoxNotFound):
        await desk.scan(barcode(999_999, 1))
    with pytest.raises(InvalidScanTime):
        await desk.scan(box.barcode, at=office.clock.now() + timedelta(hours=1))
    with pytest.raises(InvalidScanTime):
        await desk.scan(box.barcode, at=office.clock.now() - timedelta(days=1))
    assert (await desk.of_order(order_id)).boxes[0][0].status == BoxStatus.PURCHASED


async def test_the_history_tells_each_step_in_the_shops_words(office: MoneyOffice) -> None:
    order_id = await _funded(office)
    desk = _desk(office)
    box = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes[0]
    await desk.scan(box.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)
    said = {e.kind: e.detail for e in (await office.orders.get(order_id)).history}
    ru = _plain(history_line("ru", "box_scanned", said["box_scanned"], Names.of(office.shop.topology, "ru")))
    assert ru.startswith("Коробка 1 из 2 (IRON × 6): на складе в Москве (пройдено по пути: на складе поставщика")
    assert "израсходовано: логистика 678 500,00 ₽, таможня 130 980,00 ₽" in ru
    en = _plain(history_line("en", "boxes_registered", said["boxes_registered"], Names.of(office.shop.topology, "en")))
    assert en == "Purchase from Guangzhou Textile: 2 boxes, 10 pieces; 590,000.00 RUB of the goods reserve materialised"


def test_the_moscow_warehouse_is_configured_or_the_first_online_one(topology: Topology) -> None:
    data = topology.model_dump(mode="json")
    assert Topology.model_validate(data).moscow_warehouse() == "online"
    assert Topology.model_validate({**data, "boxes": {"moscow_warehouse": "online"}}).moscow_warehouse() == "online"
    with pytest.raises(ValidationError, match=r"boxes\.moscow_warehouse: unknown warehouse 'nowhere'"):
        Topology.model_validate({**data, "boxes": {"moscow_warehouse": "nowhere"}})


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_the_scan_answer_reads_as_words_in_both_languages(locale: Locale, topology: Topology) -> None:
    at = FakeClock().now()
    box = Box(7, 1, 2, 3, barcode(1, 2), (BoxLine("КР-7/2", 4),), Decimal(100), BoxStatus.AT_MOSCOW_WAREHOUSE, at,
              "reg", at, 11)  # fmt: skip
    steps = [
        BoxScan(11, 7, BoxStatus.IN_TRANSIT, at, skipped=True, released={"logistics": Decimal("10.50")}),
        BoxScan(11, 7, BoxStatus.AT_MOSCOW_WAREHOUSE, at, released={"customs": Decimal(0)}, stock="received"),
    ]
    names = Names.of(topology, locale)
    for outcome in (ScanOutcome(box, "CN-1", steps[-1], steps, False, "online"),
                    ScanOutcome(box, "CN-1", steps[-1], [], True)):  # fmt: skip
        text = box_card(outcome, names, "Europe/Moscow")
        assert raw_codes(text, topology_codes(topology)) == [], text
        assert box.barcode in text and "КР-7/2 × 4" in text
    said = box_card(ScanOutcome(box, "CN-1", steps[-1], steps, False, "online"), names, "Europe/Moscow")
    if locale == "ru":
        assert said.splitlines()[2:] == [
            "Статус: на складе в Москве (пройдено по пути: в пути)", "Остаток: принята на склад Интернет-склад",
            "Деньги: из резерва «логистика» израсходовано 10,50\xa0₽; из резерва «таможня» нечего израсходовать — по "
            "нему ещё ничего не оплачено",
        ]  # fmt: skip
    else:
        assert "Status: at the Moscow warehouse (passed on the way: in transit)" in said


async def test_a_seeded_walk_of_scans_keeps_stock_and_money_true_after_every_step(office: MoneyOffice) -> None:
    """Forty scans of three boxes — next, to a status, repeated, backwards, with keys used again — and after each the
    books agree: one scan row per status a box passed, stock in Moscow exactly the contents of the boxes there,
    every earmark's ``released`` the sum of its journal lines and never above ``drawn``."""
    order_id = await _funded(office)
    desk = _desk(office)
    made = (await desk.register(order_id, "cn-inv-7", "reg-1", [*BOXES, [BoxLine("IRON", 2)]])).boxes
    base = {"IRON": await _on_hand(office, "IRON"), "KETTLE": 0}
    chance = random.Random(81)
    keys: list[str] = []
    for step in range(40):
        box = chance.choice(made)
        status = chance.choice([None, None, *STATUSES])
        key = chance.choice([None, f"k-{step}", *keys[-2:]])
        with contextlib.suppress(ScanBackwards, ScanConflict):
            await desk.scan(box.barcode, status, key)
        if key is not None:
            keys.append(key)
        found = await desk.of_order(order_id)
        for held, scans in found.boxes:
            assert [s.status for s in scans] == list(STATUSES[: STATUSES.index(held.status) + 1])
        in_moscow = [b for b, _ in found.boxes if b.status == BoxStatus.AT_MOSCOW_WAREHOUSE]
        for sku, before in base.items():
            there = sum(line.qty for b in in_moscow for line in b.contents if line.sku == sku)
            assert await _on_hand(office, sku) == before + there, (step, sku)
        view = await office.money.account_of(order_id)
        _books_hold(view.account)
        for earmark in view.account.earmarks:
            journal = sum((e.amount_rub for e in view.entries if e.kind == "release" and e.purpose == earmark.purpose),
                          Decimal(0))  # fmt: skip
            assert journal == earmark.released, (step, earmark.purpose)
