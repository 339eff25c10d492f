"""Boxes corrected on memory, SQLite and PostgreSQL: a wrong scan forward undone takes back exactly the stock and
money it moved and is scanned on again once; a payout drawn after boxes passed its earmark's step releases their
share then, once; and a seeded walk of scans, undos and late payouts keeps the books true after every step."""

from __future__ import annotations

import contextlib
import random
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.order_history import history_line
from bot.wording import Names
from tests.fakes import FakeClock
from tests.people_words import raw_codes, topology_codes
from tests.unit.test_boxes import BOXES, _books_hold, _desk, _funded, _on_hand
from tests.unit.test_client_money import TIR_FULL, MoneyOffice
from workflows.box_model import (
    STATUSES,
    BoxLine,
    BoxMovedOn,
    BoxNotFound,
    BoxStatus,
    ScanBackwards,
    ScanConflict,
    UndoConflict,
    UndoNotBack,
    barcode,
)
from workflows.money_model import MoneyAccount, MoneyEntry, PayoutRequest, Purpose
from workflows.ports import UnitOfWorkFactory
from workflows.topology import Topology


@pytest.fixture
def office(uow: UnitOfWorkFactory, topology: Topology, clock: FakeClock) -> MoneyOffice:
    return MoneyOffice(uow, topology, clock)


def _journal(entries: list[MoneyEntry], purpose: Purpose) -> Decimal:
    """What the journal says the earmark released: releases less what undos took back."""
    return sum((e.amount_rub for e in entries if e.kind in ("release", "unrelease") and e.purpose == purpose),
               Decimal(0))  # fmt: skip


async def _released(office: MoneyOffice, order_id: int) -> dict[Purpose, Decimal]:
    return {e.purpose: e.released for e in (await office.account(order_id)).earmarks}


async def test_an_undo_takes_back_exactly_what_the_scans_did_and_a_rescan_does_it_once_more(
    office: MoneyOffice,
) -> None:
    order_id = await _funded(office)
    desk = _desk(office)
    first, _ = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes
    iron = await _on_hand(office, "IRON")
    before = await _released(office, order_id)
    await desk.scan(first.barcode, BoxStatus.IN_TRANSIT)
    at_in_transit = await _released(office, order_id)
    await desk.scan(first.barcode, BoxStatus.SENT_TO_MARKETPLACE)  # wrong: it is still in transit
    assert await _on_hand(office, "IRON") == iron  # received and written off on the way
    assert (await _released(office, order_id))[Purpose.CUSTOMS] == Decimal("130980.00")

    undone = await desk.undo(first.barcode, BoxStatus.IN_TRANSIT, "fix-1", "scanned the wrong box", "Ольга")
    assert not undone.duplicate and undone.box.status == BoxStatus.IN_TRANSIT
    assert [s.status for s in undone.undone] == [BoxStatus.SENT_TO_MARKETPLACE, BoxStatus.AT_MOSCOW_WAREHOUSE]
    assert undone.released == {"customs": Decimal("-130980.00"), "warehouse": Decimal(0)}
    assert await _released(office, order_id) == at_in_transit
    assert await _on_hand(office, "IRON") == iron
    rows = (await desk.of_order(order_id)).boxes[0][1]
    assert [(s.status, s.undone_at is not None) for s in rows] == [
        (BoxStatus.PURCHASED, False),
        (BoxStatus.AT_SUPPLIER_WAREHOUSE, False),
        (BoxStatus.IN_TRANSIT, False),
        (BoxStatus.AT_MOSCOW_WAREHOUSE, True),
        (BoxStatus.SENT_TO_MARKETPLACE, True),
    ]  # fmt: skip  (kept for the history)

    again = await desk.undo(f" {first.barcode.lower()}", BoxStatus.IN_TRANSIT, "fix-1", "again", "Ольга")
    assert again.duplicate and await _released(office, order_id) == at_in_transit
    with pytest.raises(UndoNotBack):  # where it is now: not earlier
        await desk.undo(first.barcode, BoxStatus.IN_TRANSIT, "fix-2", "twice", "Ольга")
    with pytest.raises(UndoNotBack):
        await desk.undo(first.barcode, BoxStatus.ACCEPTED_AT_FULFILMENT, "fix-3", "forward", "Ольга")
    with pytest.raises(UndoConflict):  # the key took it back to another status
        await desk.undo(first.barcode, BoxStatus.PURCHASED, "fix-1", "other", "Ольга")
    with pytest.raises(BoxNotFound):
        await desk.undo(barcode(999_999, 1), BoxStatus.PURCHASED, "fix-4", "none", "Ольга")
    assert await _released(office, order_id) == at_in_transit

    arrived = await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)  # now truly in Moscow
    assert not arrived.duplicate and arrived.released == {"customs": Decimal("130980.00")}
    assert await _on_hand(office, "IRON") == iron + 6
    assert (await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)).duplicate
    assert await _on_hand(office, "IRON") == iron + 6
    view = await office.money.account_of(order_id)
    keys = [e.key for e in view.entries if e.kind in ("release", "unrelease") and e.purpose == Purpose.CUSTOMS]
    assert keys == [f"release:{first.barcode}:at_moscow_warehouse", f"unrelease:{first.barcode}:at_moscow_warehouse:1",
                    f"release:{first.barcode}:at_moscow_warehouse:1"]  # fmt: skip
    for purpose, released in (await _released(office, order_id)).items():
        assert _journal(view.entries, purpose) == released
    assert before[Purpose.LOGISTICS] == 0

    undo = next(e for e in (await office.orders.get(order_id)).history if e.kind == "box_scan_undone")
    names = Names.of(office.shop.topology, "ru")
    said = history_line("ru", undo.kind, undo.detail, names).replace("\xa0", " ")
    assert said.startswith("Коробка 1 из 2 (IRON × 6): скан отменён, снова в пути (отменено: отправлена на "), said
    assert "Ольга: scanned the wrong box" in said and "в резервы возвращено: таможня 130 980,00 ₽" in said, said
    en = history_line("en", undo.kind, undo.detail, Names.of(office.shop.topology, "en"))
    assert "scan undone" in en and "Ольга" in en, en
    assert raw_codes(en, topology_codes(office.shop.topology)) == [], en


async def test_a_payout_drawn_after_boxes_passed_its_step_releases_their_share_once(office: MoneyOffice) -> None:
    order_id = await _funded(office, customs=False)
    desk = _desk(office)
    first, second = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes
    arrived = await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)
    assert arrived.released["customs"] == 0  # nothing drawn for customs yet
    due = office.clock.now() + timedelta(days=2)
    await office.money.draw(PayoutRequest("fts-1", order_id, Purpose.CUSTOMS, "ФТС", "RUB", Decimal(222_000), due))
    customs = (await office.account(order_id)).earmark(Purpose.CUSTOMS)
    assert customs.released == Decimal("130980.00")  # 222 000 × 354 000 / 600 000, for the box in Moscow only
    assert (await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)).duplicate
    await desk.scan(second.barcode, BoxStatus.SENT_TO_MARKETPLACE)  # reaches the step later: its scan releases
    customs = (await office.account(order_id)).earmark(Purpose.CUSTOMS)
    assert customs.released == Decimal("130980.00") + Decimal("87320.00")  # 222 000 × 236 000 / 600 000
    view = await office.money.account_of(order_id)
    late = [e for e in view.entries if e.key.startswith("late:")]
    assert [(e.key, e.amount_rub) for e in late] == [
        (f"late:fts-1:{first.barcode}:at_moscow_warehouse:0", Decimal("130980.00"))
    ]
    assert _journal(view.entries, Purpose.CUSTOMS) == customs.released
    rows = (await desk.of_order(order_id)).boxes[0][1]
    assert next(s for s in rows if s.status == BoxStatus.AT_MOSCOW_WAREHOUSE).released == {
        "customs": Decimal("130980.00")
    }

    # a wrong scan undone after the late release takes that back too, and the scan on releases it once more
    await desk.undo(first.barcode, BoxStatus.IN_TRANSIT, "fix-1", "not in Moscow yet", "Ольга")
    assert (await office.account(order_id)).earmark(Purpose.CUSTOMS).released == Decimal("87320.00")
    await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)
    customs = (await office.account(order_id)).earmark(Purpose.CUSTOMS)
    assert customs.released == Decimal("218300.00")
    assert _journal((await office.money.account_of(order_id)).entries, Purpose.CUSTOMS) == customs.released
    late_said = [e for e in (await office.orders.get(order_id)).history if e.kind == "boxes_released_late"]
    assert len(late_said) == 1
    for locale in ("ru", "en"):
        said = history_line(locale, "boxes_released_late", late_said[0].detail, Names.of(office.shop.topology, locale))
        assert raw_codes(said, topology_codes(office.shop.topology)) == [], said
    assert said.replace("\xa0", " ") == (
        "The invoice of ФТС paid after boxes were at the Moscow warehouse: 130,980.00 RUB of the customs reserve "
        "materialised for 1 box"
    )


async def test_a_seeded_walk_of_scans_undos_and_late_payouts_keeps_the_books_true(office: MoneyOffice) -> None:
    """Sixty steps over three boxes — scans, undos (some repeated, some refused) and the customs invoice drawn in
    two parts at random moments — and after each every earmark's ``released`` is the sum of its journal lines and
    never above ``drawn``, each box has exactly one live scan per status up to its own, and the Moscow stock is the
    contents of the boxes there."""
    order_id = await _funded(office, customs=False)
    desk = _desk(office)
    made = (await desk.register(order_id, "cn-inv-7", "reg-1", [*BOXES, [BoxLine("IRON", 2)]])).boxes
    base = {"IRON": await _on_hand(office, "IRON"), "KETTLE": 0}
    chance = random.Random(82)
    payouts = [("fts-1", Decimal(100_000)), ("fts-2", Decimal(122_000))]
    keys: list[str] = []
    undos = 0
    for step in range(60):
        box = chance.choice(made)
        roll = chance.random()
        if roll < 0.08 and payouts:
            key, amount = payouts.pop(0)
            due = office.clock.now() + timedelta(days=2)
            await office.money.draw(PayoutRequest(key, order_id, Purpose.CUSTOMS, "ФТС", "RUB", amount, due))
        elif roll < 0.4:
            key = chance.choice([f"u-{step}", f"u-{step}", *keys[-2:]])
            keys.append(key)
            with contextlib.suppress(UndoNotBack, UndoConflict):
                undos += not (await desk.undo(box.barcode, chance.choice(STATUSES), key, "walk", "Ольга")).duplicate
        else:
            with contextlib.suppress(ScanBackwards, ScanConflict):
                await desk.scan(box.barcode, chance.choice([None, None, *STATUSES]), chance.choice([None, f"s-{step}"]))
        office.clock.advance(minutes=1)
        found = await desk.of_order(order_id)
        for held, scans in found.boxes:
            live = [s.status for s in scans if s.undone_at is None]
            assert live == list(STATUSES[: STATUSES.index(held.status) + 1]), step
        in_moscow = [b for b, _ in found.boxes if b.status == BoxStatus.AT_MOSCOW_WAREHOUSE]
        for sku, before in base.items():
            there = sum(line.qty for b in in_moscow for line in b.contents if line.sku == sku)
            assert await _on_hand(office, sku) == before + there, (step, sku)
        view = await office.money.account_of(order_id)
        _books_hold(view.account)
        for earmark in view.account.earmarks:
            assert _journal(view.entries, earmark.purpose) == earmark.released, (step, earmark.purpose)
        _shares_hold(view.account, found.boxes)
    entries = (await office.money.account_of(order_id)).entries
    assert not payouts and undos >= 5 and any(e.key.startswith("late:") for e in entries)
    assert any(e.key.startswith("release:") and e.key.endswith(":1") for e in entries)  # scanned on after an undo


def _shares_hold(account: MoneyAccount, boxes: list) -> None:  # type: ignore[type-arg]
    """Each earmark's ``released`` is what the live scans say they released: nothing lost, nothing counted twice."""
    live: dict[str, Decimal] = {}
    for _, scans in boxes:
        for scan in scans:
            if scan.undone_at is None:
                for purpose, amount in scan.released.items():
                    live[purpose] = live.get(purpose, Decimal(0)) + amount
    for earmark in account.earmarks:
        assert live.get(earmark.purpose.value, Decimal(0)) == earmark.released, earmark.purpose


async def test_a_payout_drawn_when_a_later_payment_covers_it_releases_for_the_boxes_past_its_step(
    office: MoneyOffice,
) -> None:
    order_id = await office.order()
    await office.money.plan(order_id, TIR_FULL)
    await office.pay(order_id, "p-goods", Decimal(600_000))  # goods only: logistics holds nothing yet
    due = office.clock.now() + timedelta(days=2)
    goods = PayoutRequest("cn-inv-7", order_id, Purpose.GOODS, "Guangzhou Textile", "CNY", Decimal(50_000), due,
                          Decimal("11.80"))  # fmt: skip
    await office.money.draw(goods)
    desk = _desk(office)
    first, _ = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes
    assert (await desk.scan(first.barcode, BoxStatus.IN_TRANSIT)).released == {"logistics": Decimal(0)}
    carrier = PayoutRequest("tir-1", order_id, Purpose.LOGISTICS, "TIR carrier", "EUR", Decimal(11_500), due,
                            Decimal(100))  # fmt: skip
    assert (await office.money.draw(carrier)).task_id is not None  # short: the managers are asked
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).released == 0

    await office.pay(order_id, "p-rest", Decimal(1_394_400))  # the carrier's invoice is drawn now
    logistics = (await office.account(order_id)).earmark(Purpose.LOGISTICS)
    assert (logistics.drawn, logistics.released) == (Decimal(1_150_000), Decimal("678500.00"))  # × 354 000 / 600 000
    await office.pay(order_id, "p-rest", Decimal(1_394_400))  # the gateway says it again: nothing more
    assert (await office.account(order_id)).earmark(Purpose.LOGISTICS).released == logistics.released
    assert _journal((await office.money.account_of(order_id)).entries, Purpose.LOGISTICS) == logistics.released


async def test_the_last_scan_is_undone_whole_with_the_statuses_it_passed_and_only_where_it_was_shown(
    office: MoneyOffice,
) -> None:
    """What ``/unscan`` asks before it undoes: a scan straight to Moscow passed two statuses on the way, and undoing
    it takes the box back to where it was before that scan; confirmed for one status, a box found at another is not
    touched."""
    order_id = await _funded(office)
    desk = _desk(office)
    first, _ = (await desk.register(order_id, "cn-inv-7", "reg-1", BOXES)).boxes
    assert (await desk.last_scan(first.barcode)).back_to is None  # registered, never scanned: nothing to undo
    await desk.scan(first.barcode, BoxStatus.AT_SUPPLIER_WAREHOUSE)
    await desk.scan(first.barcode, BoxStatus.AT_MOSCOW_WAREHOUSE)
    last = await desk.last_scan(first.barcode.lower())
    assert (last.back_to, last.undoes) == (
        BoxStatus.AT_SUPPLIER_WAREHOUSE, [BoxStatus.AT_MOSCOW_WAREHOUSE, BoxStatus.IN_TRANSIT],
    )  # fmt: skip
    with pytest.raises(BoxMovedOn):
        await desk.undo(first.barcode, BoxStatus.AT_SUPPLIER_WAREHOUSE, "fix-1", "", "", expect=BoxStatus.IN_TRANSIT)
    assert (await desk.last_scan(first.barcode)).box.status == BoxStatus.AT_MOSCOW_WAREHOUSE  # untouched
    assert last.back_to is not None
    undone = await desk.undo(first.barcode, last.back_to, "fix-2", "", "", expect=BoxStatus.AT_MOSCOW_WAREHOUSE)
    assert [s.status for s in undone.undone] == last.undoes
    again = await desk.last_scan(first.barcode)
    assert (again.back_to, again.undoes) == (BoxStatus.PURCHASED, [BoxStatus.AT_SUPPLIER_WAREHOUSE])
    with pytest.raises(BoxNotFound):
        await desk.last_scan(barcode(999, 1))
