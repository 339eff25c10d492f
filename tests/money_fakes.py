"""The money book and the box book in memory (``workflows.ports.MoneyBook``, ``BoxBook``), with the SQL ones'
contracts."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from workflows.box_model import STATUSES, Box, BoxScan, BoxStatus
from workflows.customs_model import CustomsPlan
from workflows.model import Obligation, ObligationState, Order
from workflows.money_model import OPEN, PURPOSES, MoneyAccount, MoneyEntry, Payout, PayoutState, ReserveTotals


@dataclass
class MoneyState:
    accounts: dict[int, MoneyAccount] = field(default_factory=dict)
    payouts: dict[int, Payout] = field(default_factory=dict)  # by id
    entries: list[MoneyEntry] = field(default_factory=list)
    customs: dict[int, CustomsPlan] = field(default_factory=dict)  # by order
    boxes: dict[int, Box] = field(default_factory=dict)  # by id
    scans: list[BoxScan] = field(default_factory=list)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class MemoryMoneyBook:
    def __init__(self, state: MoneyState, orders: Mapping[int, Order]) -> None:
        self._s, self._orders = state, orders

    async def account(self, order_id: int) -> MoneyAccount | None:
        found = self._s.accounts.get(order_id)
        if found is None:
            return None
        account = copy.deepcopy(found)
        account.earmarks.sort(key=lambda e: PURPOSES.index(e.purpose))
        return account

    async def open_account(self, account: MoneyAccount) -> None:
        assert account.order_id not in self._s.accounts
        await self.save_account(account)

    async def save_account(self, account: MoneyAccount) -> None:
        stored = self._s.accounts.get(account.order_id)
        held = {e.id: (e.drawn, e.released) for e in stored.earmarks} if stored is not None else {}
        for mark in account.earmarks:
            if mark.id is None:
                mark.id = self._s.new_id()
        kept = copy.deepcopy(account)
        for mark in kept.earmarks:  # only draw() and release() write these
            mark.drawn, mark.released = held.get(mark.id, (mark.drawn, mark.released))
        self._s.accounts[account.order_id] = kept

    async def draw(self, earmark_id: int, amount: Decimal) -> bool:
        for account in self._s.accounts.values():
            for mark in account.earmarks:
                if mark.id == earmark_id:
                    if mark.drawn + amount > mark.reserved:
                        return False
                    mark.drawn += amount
                    return True
        return False

    async def release(self, earmark_id: int, amount: Decimal) -> bool:
        for account in self._s.accounts.values():
            for mark in account.earmarks:
                if mark.id == earmark_id:
                    if not 0 <= mark.released + amount <= mark.drawn:
                        return False
                    mark.released += amount
                    return True
        return False

    async def record(self, entry: MoneyEntry) -> bool:
        if any(e.key == entry.key for e in self._s.entries):
            return False
        self._s.entries.append(entry)
        return True

    async def entries(self, order_id: int) -> list[MoneyEntry]:
        return [e for e in self._s.entries if e.order_id == order_id]

    async def entry(self, key: str) -> MoneyEntry | None:
        return next((e for e in self._s.entries if e.key == key), None)

    async def purchase_due(self, now: datetime, limit: int) -> list[int]:
        due = [a for a in self._s.accounts.values() if a.purchase_ask_at is not None and a.purchase_ask_at <= now]
        return [a.order_id for a in sorted(due, key=lambda a: (a.purchase_ask_at, a.order_id))][:limit]

    async def payout(self, key: str) -> Payout | None:
        found = next((p for p in self._s.payouts.values() if p.key == key), None)
        return copy.deepcopy(found)

    async def payout_by_id(self, payout_id: int) -> Payout | None:
        return copy.deepcopy(self._s.payouts.get(payout_id))

    async def add_payout(self, payout: Payout) -> None:
        assert all(p.key != payout.key for p in self._s.payouts.values()), "payout keys are unique"
        payout.id = self._s.new_id()
        self._s.payouts[payout.id] = copy.deepcopy(payout)

    async def save_payout(self, payout: Payout) -> None:
        assert payout.id in self._s.payouts
        self._s.payouts[payout.id] = copy.deepcopy(payout)

    async def payouts_of(self, order_id: int) -> list[Payout]:
        found = [p for p in self._s.payouts.values() if p.order_id == order_id]
        return copy.deepcopy(sorted(found, key=lambda p: (p.due_at, p.id or 0)))

    async def postponed_due(self, now: datetime, limit: int) -> list[Payout]:
        found = [p for p in self._s.payouts.values() if p.state == PayoutState.POSTPONED and p.due_at <= now]
        return copy.deepcopy(sorted(found, key=lambda p: (p.due_at, p.id or 0))[:limit])

    async def open_payouts(self, until: datetime) -> list[Payout]:
        found = [p for p in self._s.payouts.values() if p.state in OPEN and p.due_at < until]
        return copy.deepcopy(sorted(found, key=lambda p: (p.due_at, p.id or 0)))

    async def planned_obligations(self, since: datetime, until: datetime) -> list[tuple[int, Obligation]]:
        drawn = {p.obligation_id for p in self._s.payouts.values()}
        found = [
            (order_id, o)
            for order_id, order in self._orders.items()
            for o in order.obligations
            if since <= o.due_at < until and o.state != ObligationState.CANCELLED and o.id not in drawn
        ]
        return sorted(found, key=lambda pair: (pair[1].due_at, pair[1].id or 0))

    async def totals(self) -> ReserveTotals:
        marks = [m for a in self._s.accounts.values() for m in a.earmarks]
        return ReserveTotals(
            sum((m.planned for m in marks), Decimal(0)), sum((m.reserved for m in marks), Decimal(0)),
            sum((m.drawn for m in marks), Decimal(0)), sum((m.absorbed for m in marks), Decimal(0)),
            sum((a.unallocated for a in self._s.accounts.values()), Decimal(0)),
        )  # fmt: skip


class MemoryCustomsBook:
    def __init__(self, state: MoneyState, orders: Mapping[int, Order]) -> None:
        self._s, self._orders = state, orders

    async def plan(self, order_id: int) -> CustomsPlan | None:
        return copy.deepcopy(self._s.customs.get(order_id))

    async def add(self, plan: CustomsPlan) -> bool:
        if plan.order_id in self._s.customs:
            return False
        self._s.customs[plan.order_id] = copy.deepcopy(plan)
        return True

    async def save(self, plan: CustomsPlan) -> None:
        assert plan.order_id in self._s.customs
        self._s.customs[plan.order_id] = copy.deepcopy(plan)

    async def uncovered(self, until: datetime) -> list[CustomsPlan]:
        found = [
            p for p in self._s.customs.values()
            if not p.covered and p.fts_due_at < until and self._orders[p.order_id].cancelled_at is None
        ]  # fmt: skip
        return [copy.deepcopy(p) for p in sorted(found, key=lambda p: (p.fts_due_at, p.order_id))]


class MemoryBoxBook:
    def __init__(self, state: MoneyState) -> None:
        self._s = state

    async def add(self, boxes: Sequence[Box]) -> None:
        for box in boxes:
            taken = {(b.payout_id, b.number) for b in self._s.boxes.values()}
            assert (box.payout_id, box.number) not in taken, "a purchase's box numbers are unique"
            assert all(b.barcode != box.barcode for b in self._s.boxes.values()), "barcodes are unique"
            box.id = self._s.new_id()
            self._s.boxes[box.id] = copy.deepcopy(box)

    async def of_payout(self, payout_id: int) -> list[Box]:
        found = [b for b in self._s.boxes.values() if b.payout_id == payout_id]
        return copy.deepcopy(sorted(found, key=lambda b: b.number))

    async def of_order(self, order_id: int) -> list[Box]:
        found = [b for b in self._s.boxes.values() if b.order_id == order_id]
        return copy.deepcopy(sorted(found, key=lambda b: (b.payout_id, b.number)))

    async def with_key(self, key: str) -> list[Box]:
        return copy.deepcopy(sorted((b for b in self._s.boxes.values() if b.key == key), key=lambda b: b.id or 0))

    async def by_barcode(self, barcode: str) -> Box | None:
        return copy.deepcopy(next((b for b in self._s.boxes.values() if b.barcode == barcode), None))

    async def move(self, box_id: int, came_from: BoxStatus, to: BoxStatus, at: datetime) -> bool:
        box = self._s.boxes.get(box_id)
        if box is None or box.status != came_from:
            return False
        box.status, box.status_at = to, at
        return True

    async def add_scan(self, scan: BoxScan) -> bool:
        if any((s.box_id, s.status, s.round) == (scan.box_id, scan.status, scan.round) for s in self._s.scans):
            return False
        if scan.key is not None and any(s.key == scan.key for s in self._s.scans):
            return False
        self._s.scans.append(copy.deepcopy(scan))
        return True

    async def scans(self, box_id: int) -> list[BoxScan]:
        found = [s for s in self._s.scans if s.box_id == box_id]
        return copy.deepcopy(sorted(found, key=lambda s: (STATUSES.index(s.status), s.round)))

    async def scan_by_key(self, key: str) -> BoxScan | None:
        return copy.deepcopy(next((s for s in self._s.scans if s.key == key), None))

    def _find(self, box_id: int, status: BoxStatus, round_: int) -> int | None:
        return next((n for n, s in enumerate(self._s.scans) if (s.box_id, s.status, s.round) == (box_id, status, round_)),
                    None)  # fmt: skip

    async def set_released(self, box_id: int, status: BoxStatus, round_: int, released: dict[str, Decimal]) -> None:
        n = self._find(box_id, status, round_)
        if n is not None:
            self._s.scans[n] = dataclasses.replace(self._s.scans[n], released=dict(released))

    async def undo_scan(self, box_id: int, status: BoxStatus, round_: int, at: datetime, key: str) -> bool:
        n = self._find(box_id, status, round_)
        if n is None or self._s.scans[n].undone_at is not None:
            return False
        self._s.scans[n] = dataclasses.replace(self._s.scans[n], undone_at=at, undo_key=key)
        return True

    async def undone_by(self, key: str) -> list[BoxScan]:
        found = [s for s in self._s.scans if s.undo_key == key]
        return copy.deepcopy(sorted(found, key=lambda s: STATUSES.index(s.status)))
