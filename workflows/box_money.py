"""What a box's steps do to the client's money: each status of :data:`~workflows.box_model.RELEASES` releases its
earmark's share of the box as materialised, and a payout drawn after boxes passed its earmark's step releases their
share of it then (``released_late``, called where a payout is drawn). The journal keys are here, so a scan, a scan
undone and scanned again, and a late payout never take one release for another. See docs/client_money.md, "Boxes
and scans".
"""

from __future__ import annotations

from decimal import Decimal

from workflows.box_model import RELEASES, STATUSES, Box, BoxScan, BoxStatus
from workflows.model import OrderEvent
from workflows.money_model import MoneyAccount, MoneyEntry, Payout, Purpose, rub
from workflows.ports import UnitOfWork

# the status whose reaching releases each earmark, the goods' aside (a purchase's boxes release it when registered)
STEP_OF: dict[Purpose, BoxStatus] = {
    purpose: status for status, purpose in RELEASES.items() if purpose != Purpose.GOODS
}


def release_key(box: Box, scan: BoxScan) -> str:
    """The journal key of the release ``scan`` made: a box scanned on again after an undo (round 1, 2, …) releases
    under a key of its own, never mistaken for the first."""
    base = f"release:{box.barcode}:{scan.status.value}"
    return base if scan.round == 0 else f"{base}:{scan.round}"


def unrelease_key(box: Box, scan: BoxScan) -> str:
    """The journal key of taking back what ``scan`` released: the n-th undo of the box's status is ``n``."""
    return f"unrelease:{box.barcode}:{scan.status.value}:{scan.round + 1}"


def late_key(payout: Payout, box: Box, scan: BoxScan) -> str:
    return f"late:{payout.key}:{box.barcode}:{scan.status.value}:{scan.round}"


def due(account: MoneyAccount, box: Box, purpose: Purpose) -> Decimal | None:
    """The box's share of ``purpose``'s earmark: the goods earmark the box's value; any other its drawn money in the
    proportion of the box's value to the order's goods (the goods' plan, or what was drawn for goods if more).
    ``None`` when the order has no money plan."""
    if not account.planned:
        return None
    if purpose == Purpose.GOODS:
        return box.value_rub
    goods = account.earmark(Purpose.GOODS)
    base = max(goods.planned, goods.drawn)
    return rub(account.earmark(purpose).drawn * box.value_rub / base) if base > 0 else Decimal(0)


def room(account: MoneyAccount, purpose: Purpose) -> Decimal:
    """What the earmark drew and has not released yet: the most a release may take."""
    earmark = account.earmark(purpose)
    return max(Decimal(0), earmark.drawn - earmark.released)


async def release(uow: UnitOfWork, account: MoneyAccount, purpose: Purpose, amount: Decimal) -> None:
    """Add ``amount`` (negative: take back) to the earmark's ``released``; the caller worked it out under the
    order's money lock, so a refusal is a broken invariant and rolls the transaction back."""
    earmark = account.earmark(purpose)
    assert earmark.id is not None
    if amount != 0 and not await uow.money.release(earmark.id, amount):
        raise RuntimeError(f"earmark {earmark.id} cannot release {amount} under its lock")
    earmark.released += amount


async def released_late(uow: UnitOfWork, account: MoneyAccount, payout: Payout) -> Decimal:
    """Inside the draw's transaction, under the order's money lock: ``payout`` was just drawn; every box of the order
    at or past the step that releases its earmark releases its share of what is drawn now, less what it released
    already (the same rule as a scan, capped at drawn − released), under a journal key per payout and box, once.
    A box reaching the step later releases by its scan, of everything drawn by then. Returns the sum released."""
    step = STEP_OF.get(payout.purpose)
    if step is None or not account.planned or payout.drawn_at is None:
        return Decimal(0)
    total, boxes = Decimal(0), 0
    for box in await uow.boxes.of_order(payout.order_id):
        if STATUSES.index(box.status) < STATUSES.index(step):
            continue
        assert box.id is not None
        scan = next((s for s in await uow.boxes.scans(box.id) if s.status == step and s.undone_at is None), None)
        share = due(account, box, payout.purpose)
        if scan is None or share is None:
            continue
        before = scan.released.get(payout.purpose.value, Decimal(0))
        amount = min(share - before, room(account, payout.purpose))
        if amount <= 0:
            continue
        said: dict[str, object] = {"box": box.barcode, "status": step.value, "payout": payout.key}
        key, at = late_key(payout, box, scan), payout.drawn_at
        entry = MoneyEntry(key, box.order_id, "release", amount, at, payout.purpose, said)
        if not await uow.money.record(entry):
            continue  # released for this payout already
        await release(uow, account, payout.purpose, amount)
        await uow.boxes.set_released(box.id, step, scan.round, {**scan.released, payout.purpose.value: before + amount})
        total, boxes = total + amount, boxes + 1
    if boxes:
        detail: dict[str, object] = {"payout": payout.key, "payee": payout.payee, "purpose": payout.purpose.value,
                                     "status": step.value, "boxes": boxes, "amount_rub": str(total)}  # fmt: skip
        await uow.orders.add_events(payout.order_id, [OrderEvent(payout.drawn_at, "boxes_released_late", detail)])
    return total
