"""A purchase's boxes on their way from the supplier to a marketplace's fulfilment centre, and what each step does to
stock and to the client's money.

A **purchase** is a payout of purpose ``goods`` (the supplier's invoice); its id is the payout's id. ``register``
gives each of its boxes a barcode (``workflows.box_model.barcode``) and its share of the purchase's rouble cost, by
units. ``scan`` moves a box on through :data:`~workflows.box_model.STATUSES`: each status a box reaches is recorded
once (a repeat, or the same key, changes nothing and answers what it was); a scan back is refused; a scan further on
passes the statuses in between, each doing what it does. Reaching ``at_moscow_warehouse`` receives the box's
contents into the Moscow warehouse's stock through the ledger, ``sent_to_marketplace`` writes them off, and each
status of :data:`~workflows.box_model.RELEASES` releases its earmark's share of the box as materialised — never more
than the earmark's drawn money not released yet, under a journal key per box and status. Everything is done under
the order's money lock in one transaction. See docs/client_money.md, "Boxes and scans".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from workflows.box_model import (
    MOST_BOXES,
    RELEASES,
    STATUSES,
    Box,
    BoxesConflict,
    BoxLine,
    BoxMovedOn,
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
    UndoConflict,
    UndoNotBack,
    after,
    barcode,
    client_status,
    last_scan,
    read_barcode,
)
from workflows.box_money import due, release, release_key, room, unrelease_key
from workflows.client_money import money_lock
from workflows.errors import OrderNotFound
from workflows.ledger import Ledger
from workflows.model import Order, OrderEvent
from workflows.money_model import MoneyAccount, MoneyEntry, PayoutNotFound, PayoutState, Purpose, rub
from workflows.ports import Clock, UnitOfWork, UnitOfWorkFactory

# a scanner's clock may run a little ahead of ours; a scan further in the future than this is refused
CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class Registration:
    boxes: list[Box]
    duplicate: bool


@dataclass(frozen=True)
class ScanOutcome:
    """What a scan did: ``steps`` are the statuses the box reached now, in order (those passed on the way first);
    a duplicate reached none, and ``scan`` is what the box's status was recorded as."""

    box: Box
    order: str  # the order's number as the office reads it
    scan: BoxScan
    steps: list[BoxScan]
    duplicate: bool
    warehouse: str | None = None  # the Moscow warehouse, when a step moved stock there

    @property
    def last(self) -> bool:
        return after(self.box.status) is None

    @property
    def released(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for step in self.steps:
            for purpose, amount in step.released.items():
                total[purpose] = total.get(purpose, Decimal(0)) + amount
        return total


@dataclass(frozen=True)
class UndoOutcome:
    """What a correction did: ``undone`` are the box's scans it took back, the last status first (a duplicate: those
    the key took back before); ``released`` what each earmark took back, negative."""

    box: Box
    order: str
    undone: list[BoxScan]
    duplicate: bool
    warehouse: str | None = None  # the Moscow warehouse, when stock moved back there

    @property
    def released(self) -> dict[str, Decimal]:
        total: dict[str, Decimal] = {}
        for scan in self.undone:
            for purpose, amount in scan.released.items():
                total[purpose] = total.get(purpose, Decimal(0)) - amount
        return total


@dataclass(frozen=True)
class LastScan:
    """What undoing the box's last scan would do: back to ``back_to`` (``None``: never scanned), ``undoes`` the
    statuses taken back, the last first."""

    box: Box
    order: str
    back_to: BoxStatus | None
    undoes: list[BoxStatus]


@dataclass(frozen=True)
class OrderBoxes:
    order_id: int
    boxes: list[tuple[Box, list[BoxScan]]]

    @property
    def least(self) -> BoxStatus | None:
        """The status of the least advanced box."""
        return min((box.status for box, _ in self.boxes), key=STATUSES.index, default=None)

    @property
    def client_status(self) -> ClientStatus | None:
        least = self.least
        return None if least is None else client_status(least)

    @property
    def counts(self) -> dict[BoxStatus, int]:
        held = Counter(box.status for box, _ in self.boxes)
        return {status: held[status] for status in STATUSES}


class _Repeated(Exception):
    """A box's status or a scan's key was written meanwhile: the unit of work is given up and the scan read again."""


class BoxDesk:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ledger: Ledger, warehouse: str) -> None:
        self._uow, self._clock, self._ledger, self._warehouse = uow, clock, ledger, warehouse

    @property
    def warehouse(self) -> str:
        """The Moscow warehouse's code: where boxes are received."""
        return self._warehouse

    async def register(
        self, order_id: int, payout_key: str, key: str, boxes: Sequence[Sequence[BoxLine]]
    ) -> Registration:
        """Register the boxes of the purchase ``payout_key`` (each box its lines), each reaching ``purchased``: the
        goods earmark releases the box's share. The same ``key`` and boxes again answers what was registered."""
        contents = _checked(boxes)
        async with self._uow() as uow:
            await uow.locks.hold(money_lock(order_id))
            await _order(uow, order_id)
            payout = await uow.money.payout(payout_key)
            if payout is None or payout.order_id != order_id or payout.id is None:
                raise PayoutNotFound(f"order {order_id} has no payout {payout_key!r}")
            if payout.purpose != Purpose.GOODS:
                raise NotAPurchase(f"payout {payout_key!r} is for {payout.purpose.value}: boxes belong to a goods one")
            known = await uow.boxes.of_payout(payout.id)
            if known:
                if known[0].key == key and [box.contents for box in known] == contents:
                    return Registration(known, True)
                raise BoxesConflict(f"the boxes of purchase {payout_key!r} were registered already, otherwise")
            if await uow.boxes.with_key(key):
                raise BoxesConflict(f"key {key!r} registered the boxes of another purchase")
            if payout.state not in (PayoutState.DRAWN, PayoutState.PAID):
                raise PurchaseNotDrawn(f"purchase {payout_key!r} is {payout.state.value}: its money was not drawn")
            now = self._clock.now()
            values = _values(payout.amount_rub, contents)
            made = [
                Box(order_id, payout.id, n, len(contents), barcode(payout.id, n), lines, value,
                    BoxStatus.PURCHASED, now, key, now)
                for n, (lines, value) in enumerate(zip(contents, values, strict=True), start=1)
            ]  # fmt: skip
            await uow.boxes.add(made)
            account = await uow.money.account(order_id)
            scans = [await self._reach(uow, account, box, BoxStatus.PURCHASED, now, None, False) for box in made]
            detail: dict[str, object] = {
                "payout": payout.key, "payee": payout.payee, "boxes": len(made), "units": sum(b.units for b in made),
                "purpose": Purpose.GOODS.value, "amount_rub": str(sum((s.released_rub for s in scans), Decimal(0))),
            }  # fmt: skip
            await uow.orders.add_events(order_id, [OrderEvent(now, "boxes_registered", detail)])
            await uow.commit()
        return Registration(made, False)

    async def scan(
        self, typed: str, status: BoxStatus | None = None, key: str | None = None, at: datetime | None = None
    ) -> ScanOutcome:
        """The box ``typed`` names moves on to ``status`` (its next when ``None``). Raises :class:`BadBarcode`,
        :class:`BoxNotFound`, :class:`ScanBackwards`, :class:`ScanConflict`, :class:`InvalidScanTime`."""
        code = barcode(*read_barcode(typed))
        try:
            return await self._scan(code, status, key, at)
        except _Repeated:  # one like it was recorded meanwhile (another instance): answer what it was
            return await self._scan(code, status, key, at)

    async def _scan(self, code: str, status: BoxStatus | None, key: str | None, at: datetime | None) -> ScanOutcome:
        async with self._uow() as uow:
            found = await uow.boxes.by_barcode(code)
            if found is None:
                raise BoxNotFound(f"no box {code}: its purchase's boxes were not registered")
            await uow.locks.hold(money_lock(found.order_id))
            box = await uow.boxes.by_barcode(code)  # as it is now that the lock is held
            assert box is not None
            assert box.id is not None
            order = await _order(uow, box.order_id)
            if key is not None and (prior := await uow.boxes.scan_by_key(key)) is not None:
                if prior.box_id != box.id or status not in (None, prior.status):
                    raise ScanConflict(f"scan key {key!r} was used for another box or status")
                return ScanOutcome(box, _number(order), prior, [], True)
            target = after(box.status) if status is None else status
            here = STATUSES.index(box.status)
            if target is None or STATUSES.index(target) == here:  # nothing further, or there already
                return ScanOutcome(box, _number(order), await _scan_at(uow, box), [], True)
            if STATUSES.index(target) < here:
                raise ScanBackwards(f"box {code} is {box.status.value} already: it does not go back to {target.value}")
            now = self._clock.now()
            at = now if at is None else at
            if at > now + CLOCK_SLACK or at < box.status_at:
                raise InvalidScanTime(f"a scan at {at.isoformat()}: not in the future, nor before the box's last")
            account = await uow.money.account(box.order_id)
            rounds = Counter(s.status for s in await uow.boxes.scans(box.id) if s.undone_at is not None)
            steps = [
                await self._reach(uow, account, box, s, at, key if s == target else None, s != target, rounds[s])
                for s in STATUSES[here + 1 : STATUSES.index(target) + 1]
            ]
            if not await uow.boxes.move(box.id, box.status, target, at):
                raise _Repeated
            box.status, box.status_at = target, at
            moved = any(s.stock for s in steps)
            outcome = ScanOutcome(box, _number(order), steps[-1], steps, False, self._warehouse if moved else None)
            await uow.orders.add_events(box.order_id, [OrderEvent(at, "box_scanned", self._detail(outcome))])
            await uow.commit()
        return outcome

    async def _reach(
        self, uow: UnitOfWork, account: MoneyAccount | None, box: Box, status: BoxStatus, at: datetime,
        key: str | None, skipped: bool, round_: int = 0,
    ) -> BoxScan:  # fmt: skip
        """Record ``box`` reaching ``status`` (in ``round_``: the times it was undone before) and do what that does;
        the scan row goes first, so a repeat that got this far (its unique key taken) moves neither stock nor
        money."""
        assert box.id is not None
        purpose = RELEASES.get(status)
        amount = _share(account, box, purpose) if purpose is not None and account is not None else None
        stock = {BoxStatus.AT_MOSCOW_WAREHOUSE: "received", BoxStatus.SENT_TO_MARKETPLACE: "written_off"}.get(status)
        released = {} if purpose is None or amount is None else {purpose.value: amount}
        scan = BoxScan(box.id, box.order_id, status, at, key, skipped, released, stock, round_)
        if not await uow.boxes.add_scan(scan):
            raise _Repeated
        goods = Counter[str]()
        for line in box.contents:
            goods[line.sku] += line.qty
        if stock == "received":
            await self._ledger.receive(uow, self._warehouse, goods)
        elif stock == "written_off":
            await self._ledger.write_off(uow, self._warehouse, goods)
        if purpose is not None and amount is not None and account is not None:
            await release(uow, account, purpose, amount)
            entry = MoneyEntry(release_key(box, scan), box.order_id, "release", amount, at, purpose,
                               {"box": box.barcode, "status": status.value})  # fmt: skip
            if not await uow.money.record(entry):
                raise _Repeated
        return scan

    async def last_scan(self, typed: str) -> LastScan:
        """The box ``typed`` names and what undoing its last scan would do (``/unscan`` asks before it undoes).
        Raises :class:`BadBarcode`, :class:`BoxNotFound`."""
        code = barcode(*read_barcode(typed))
        async with self._uow(read_only=True) as uow:
            box = await uow.boxes.by_barcode(code)
            if box is None or box.id is None:
                raise BoxNotFound(f"no box {code}: its purchase's boxes were not registered")
            order = await _order(uow, box.order_id)
            live = {s.status: s for s in await uow.boxes.scans(box.id) if s.undone_at is None}
        return LastScan(box, _number(order), *last_scan(box.status, live))

    async def undo(
        self, typed: str, status: BoxStatus, key: str, reason: str, by: str, *, expect: BoxStatus | None = None
    ) -> UndoOutcome:
        """A manager's correction of a wrong scan forward: the box ``typed`` names goes back to ``status``, an
        earlier one. Each status undone, the last first, takes back what it did — the stock it received or wrote
        off, the earmark's share it released (journal ``unrelease:…``) — and its scan row is marked undone, kept.
        The same ``key`` again answers what it did. ``expect``: the status the box was shown at when the undo was
        confirmed; a box found elsewhere is not touched. Raises :class:`BadBarcode`, :class:`BoxNotFound`,
        :class:`UndoNotBack`, :class:`UndoConflict`, :class:`BoxMovedOn`."""
        code = barcode(*read_barcode(typed))
        try:
            return await self._undo(code, status, key, reason, by, expect)
        except _Repeated:
            return await self._undo(code, status, key, reason, by, expect)

    async def _undo(
        self, code: str, status: BoxStatus, key: str, reason: str, by: str, expect: BoxStatus | None
    ) -> UndoOutcome:
        async with self._uow() as uow:
            found = await uow.boxes.by_barcode(code)
            if found is None:
                raise BoxNotFound(f"no box {code}: its purchase's boxes were not registered")
            await uow.locks.hold(money_lock(found.order_id))
            box = await uow.boxes.by_barcode(code)
            assert box is not None
            assert box.id is not None
            order = await _order(uow, box.order_id)
            if prior := await uow.boxes.undone_by(key):
                back_to = STATUSES[min(STATUSES.index(s.status) for s in prior) - 1]
                if prior[0].box_id != box.id or back_to != status:
                    raise UndoConflict(f"undo key {key!r} took another box or to another status")
                return UndoOutcome(box, _number(order), prior[::-1], True)
            if STATUSES.index(status) >= STATUSES.index(box.status):
                raise UndoNotBack(f"box {code} is {box.status.value}: an undo takes it back, not to {status.value}")
            if expect is not None and box.status != expect:
                raise BoxMovedOn(f"box {code} is {box.status.value} now, not {expect.value}: nothing undone")
            now, account = self._clock.now(), await uow.money.account(box.order_id)
            scans = [s for s in await uow.boxes.scans(box.id) if s.undone_at is None]
            undone = [s for s in scans if STATUSES.index(s.status) > STATUSES.index(status)][::-1]
            for scan in undone:
                await self._take_back(uow, account, box, scan, now, key)
            back = next((s.at for s in scans if s.status == status), box.created_at)
            if not await uow.boxes.move(box.id, box.status, status, back):
                raise _Repeated
            box.status, box.status_at = status, back
            moved = any(s.stock for s in undone)
            outcome = UndoOutcome(box, _number(order), undone, False, self._warehouse if moved else None)
            detail = {**self._undo_detail(outcome), "by": by, "reason": reason}
            await uow.orders.add_events(box.order_id, [OrderEvent(now, "box_scan_undone", detail)])
            await uow.commit()
        return outcome

    async def _take_back(
        self, uow: UnitOfWork, account: MoneyAccount | None, box: Box, scan: BoxScan, now: datetime, key: str
    ) -> None:
        """Take back what ``scan`` did, its row first marked undone so a racing repeat does nothing twice."""
        assert box.id is not None
        if not await uow.boxes.undo_scan(box.id, scan.status, scan.round, now, key):
            raise _Repeated
        goods = Counter[str]()
        for line in box.contents:
            goods[line.sku] += line.qty
        if scan.stock == "received":
            await self._ledger.write_off(uow, self._warehouse, goods)
        elif scan.stock == "written_off":
            await self._ledger.receive(uow, self._warehouse, goods)
        for name, amount in scan.released.items():
            if account is None or amount == 0:
                continue
            purpose = Purpose(name)
            await release(uow, account, purpose, -amount)
            entry = MoneyEntry(unrelease_key(box, scan), box.order_id, "unrelease", -amount, now, purpose,
                               {"box": box.barcode, "status": scan.status.value, "undo": key})  # fmt: skip
            if not await uow.money.record(entry):
                raise _Repeated

    def _undo_detail(self, outcome: UndoOutcome) -> dict[str, object]:
        box = outcome.box
        stock = next((s.stock for s in outcome.undone if s.stock), None)
        back = {"received": "written_off", "written_off": "received"}.get(stock or "")
        return {
            "barcode": box.barcode, "box": box.number, "boxes": box.boxes, "contents": contents_text(box),
            "status": box.status.value, "undone": [s.status.value for s in outcome.undone],
            "released": {p: str(v) for p, v in outcome.released.items()}, "stock": back,
            "warehouse": self._warehouse if back else None,
        }  # fmt: skip

    def _detail(self, outcome: ScanOutcome) -> dict[str, object]:
        box = outcome.box
        stock = next((s.stock for s in outcome.steps if s.stock), None)
        return {
            "barcode": box.barcode, "box": box.number, "boxes": box.boxes, "contents": contents_text(box),
            "status": box.status.value, "skipped": [s.status.value for s in outcome.steps if s.skipped],
            "released": {p: str(v) for p, v in outcome.released.items()}, "stock": stock,
            "warehouse": self._warehouse if stock else None,
        }  # fmt: skip

    async def of_order(self, order_id: int) -> OrderBoxes:
        async with self._uow(read_only=True) as uow:
            await _order(uow, order_id)
            found = []
            for box in await uow.boxes.of_order(order_id):
                assert box.id is not None
                found.append((box, await uow.boxes.scans(box.id)))
        return OrderBoxes(order_id, found)


def contents_text(box: Box) -> str:
    return ", ".join(f"{line.sku} × {line.qty}" for line in box.contents)


def _checked(boxes: Sequence[Sequence[BoxLine]]) -> list[tuple[BoxLine, ...]]:
    if not 1 <= len(boxes) <= MOST_BOXES:
        raise InvalidBoxes(f"a purchase has 1 to {MOST_BOXES} boxes, not {len(boxes)}")
    for n, lines in enumerate(boxes, start=1):
        skus = [line.sku for line in lines]
        if not lines:
            raise InvalidBoxes(f"box {n} holds nothing")
        if len(set(skus)) != len(skus):
            raise InvalidBoxes(f"box {n} names an SKU twice: give its quantity once")
        if any(line.qty < 1 or not line.sku.strip() for line in lines):
            raise InvalidBoxes(f"box {n}: every line is an SKU and a quantity of at least 1")
    return [tuple(lines) for lines in boxes]


def _values(amount_rub: Decimal, contents: Sequence[tuple[BoxLine, ...]]) -> list[Decimal]:
    """Each box's share of the purchase's rouble cost, by units; the last box takes the rounding's kopecks."""
    units = [sum(line.qty for line in lines) for lines in contents]
    total = sum(units)
    shares = [rub(amount_rub * u / total) for u in units[:-1]]
    return [*shares, amount_rub - sum(shares, Decimal(0))]


def _share(account: MoneyAccount, box: Box, purpose: Purpose) -> Decimal | None:
    """What ``purpose``'s earmark releases for ``box`` (``workflows.box_money.due``), never more than the earmark's
    drawn money not released yet. ``None`` when the order has no money plan."""
    share = due(account, box, purpose)
    return None if share is None else min(share, room(account, purpose))


async def _order(uow: UnitOfWork, order_id: int) -> Order:
    order = await uow.orders.get(order_id)
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


def _number(order: Order) -> str:
    return order.external_id or str(order.id)


async def _scan_at(uow: UnitOfWork, box: Box) -> BoxScan:
    assert box.id is not None
    scans = [s for s in await uow.boxes.scans(box.id) if s.status == box.status and s.undone_at is None]
    return scans[0] if scans else BoxScan(box.id, box.order_id, box.status, box.status_at)
