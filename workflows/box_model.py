"""The boxes a purchase's goods travel in, their barcodes and the statuses they pass on the way from the supplier
to a marketplace's fulfilment centre. The desk (``workflows.boxes``), the ports and the HTTP and Telegram adapters
use these. See docs/client_money.md, "Boxes and scans".

A **purchase** is a payout whose purpose is ``goods`` (the supplier's invoice); its id is the payout's id.

A box's barcode is ``BX-<purchase id, 8 digits or more>-<box number, 4 digits>-<check digit>``, e.g.
``BX-00000042-0003-6``: capital letters, digits and hyphens only, so Code 128 (set B) prints it and it is one of
GS1's 82 characters allowed in an application identifier's value. The check digit is Damm's over the purchase id
and the box number as printed (zeros included): it refuses every single mistyped digit and every swap of two
neighbouring digits, so a barcode typed by hand names the wrong box only after two mistakes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from workflows.errors import WorkflowError
from workflows.money_model import Purpose

PURCHASE_DIGITS = 8  # at least: a purchase id beyond 99 999 999 takes as many digits as it has
BOX_DIGITS = 4
MOST_BOXES = 10**BOX_DIGITS - 1  # of one purchase
_BARCODE = re.compile(rf"^BX-(\d{{{PURCHASE_DIGITS},18}})-(\d{{{BOX_DIGITS}}})-(\d)$")

# Damm's quasigroup of order 10 (H. M. Damm, 2004): no digit is mistaken alone, no neighbours swapped unseen
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def check_digit(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = _DAMM[interim][int(digit)]
    return interim


def barcode(purchase_id: int, number: int) -> str:
    """The barcode of box ``number`` (from 1) of purchase ``purchase_id``."""
    if not 1 <= number <= MOST_BOXES or purchase_id < 1:
        raise ValueError(f"no box {number} of purchase {purchase_id}")
    purchase, box = f"{purchase_id:0{PURCHASE_DIGITS}d}", f"{number:0{BOX_DIGITS}d}"
    return f"BX-{purchase}-{box}-{check_digit(purchase + box)}"


def read_barcode(typed: str) -> tuple[int, int]:
    """The purchase id and box number a barcode names; :class:`BadBarcode` for anything else, a wrong check digit
    included. Spaces around it and lower case letters are forgiven (a person types it)."""
    found = _BARCODE.match(typed.strip().upper())
    if found is None:
        raise BadBarcode(f"{typed[:60]!r} is not a box barcode (BX-00000042-0003-6)")
    purchase, box, check = found.groups()
    if check_digit(purchase + box) != int(check):
        raise BadBarcode(f"{typed[:60]!r}: the check digit does not match; a digit is mistyped")
    if int(purchase) < 1 or int(box) < 1:
        raise BadBarcode(f"{typed[:60]!r} names no box")
    return int(purchase), int(box)


class BoxStatus(enum.StrEnum):
    """Where a box is, in the order it gets there."""

    PURCHASED = "purchased"  # registered for its purchase: the supplier was paid for what it holds
    AT_SUPPLIER_WAREHOUSE = "at_supplier_warehouse"
    IN_TRANSIT = "in_transit"
    AT_MOSCOW_WAREHOUSE = "at_moscow_warehouse"  # its contents enter our Moscow warehouse's stock
    SENT_TO_MARKETPLACE = "sent_to_marketplace"  # and leave it
    ACCEPTED_AT_FULFILMENT = "accepted_at_fulfilment"


STATUSES = tuple(BoxStatus)

# what each step materialises: the earmark whose share of the box is released when the box reaches it
RELEASES: dict[BoxStatus, Purpose] = {
    BoxStatus.PURCHASED: Purpose.GOODS,  # the supplier's goods are in the box
    BoxStatus.IN_TRANSIT: Purpose.LOGISTICS,  # the carrier took it
    BoxStatus.AT_MOSCOW_WAREHOUSE: Purpose.CUSTOMS,  # it is cleared and in Moscow
    BoxStatus.SENT_TO_MARKETPLACE: Purpose.WAREHOUSE,  # our warehouse's work on it is done
    BoxStatus.ACCEPTED_AT_FULFILMENT: Purpose.MARKETPLACE,  # delivered on to the marketplace
}


def after(status: BoxStatus) -> BoxStatus | None:
    """The status that follows ``status``; ``None`` after the last."""
    at = STATUSES.index(status)
    return STATUSES[at + 1] if at + 1 < len(STATUSES) else None


class ClientStatus(enum.StrEnum):
    """What the client sees of the order: where its least advanced box is."""

    PAID = "paid"  # bought, on its way to Moscow
    AT_MOSCOW_WAREHOUSE = "at_moscow_warehouse"
    ON_THE_WAY_TO_MARKETPLACE = "on_the_way_to_marketplace"
    ACCEPTED_AT_FULFILMENT = "accepted_at_fulfilment"


def client_status(status: BoxStatus) -> ClientStatus:
    if STATUSES.index(status) < STATUSES.index(BoxStatus.AT_MOSCOW_WAREHOUSE):
        return ClientStatus.PAID
    return {
        BoxStatus.AT_MOSCOW_WAREHOUSE: ClientStatus.AT_MOSCOW_WAREHOUSE,
        BoxStatus.SENT_TO_MARKETPLACE: ClientStatus.ON_THE_WAY_TO_MARKETPLACE,
    }.get(status, ClientStatus.ACCEPTED_AT_FULFILMENT)


@dataclass(frozen=True)
class BoxLine:
    sku: str
    qty: int


@dataclass
class Box:
    """One box of a purchase. ``value_rub`` is its share of the purchase's rouble cost, by units: the units it holds
    over the units of all the purchase's boxes (the last box takes the kopecks of rounding), so a purchase's boxes
    add up to exactly what was paid for it."""

    order_id: int
    payout_id: int
    number: int
    boxes: int  # of its purchase
    barcode: str
    contents: tuple[BoxLine, ...]
    value_rub: Decimal
    status: BoxStatus
    status_at: datetime
    key: str  # the registration's idempotency key
    created_at: datetime
    id: int | None = None

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.contents)


@dataclass(frozen=True)
class BoxScan:
    """A box reaching ``status``: recorded once per box, status and ``round`` (a scan undone stays, marked, and the
    box reaching the status again is the next round). ``skipped``: the box was scanned further on and
    passed this status on the way; ``released``: what each earmark released as materialised then."""

    box_id: int
    order_id: int
    status: BoxStatus
    at: datetime
    key: str | None = None
    skipped: bool = False
    released: dict[str, Decimal] = field(default_factory=dict)  # purpose -> roubles
    stock: str | None = None  # received | written_off, at the Moscow warehouse
    round: int = 0  # how many times the box's reaching this status was undone before
    undone_at: datetime | None = None  # a manager's correction took the box back before this status
    undo_key: str | None = None

    @property
    def released_rub(self) -> Decimal:
        return sum(self.released.values(), Decimal(0))


class BadBarcode(WorkflowError):
    """Not a box barcode, or its check digit does not match (a mistyped digit)."""

    code = "bad_barcode"


class BoxNotFound(WorkflowError):
    code = "box_not_found"


class NotAPurchase(WorkflowError):
    """Boxes are registered for a purchase: a payout whose purpose is ``goods``."""

    code = "not_a_purchase"


class PurchaseNotDrawn(WorkflowError):
    """The purchase's money was not taken from the goods earmark (it is short or waits): nothing was bought yet."""

    code = "purchase_not_drawn"


class InvalidBoxes(WorkflowError):
    """Figures a purchase's boxes cannot have: no boxes, an empty box, a quantity below 1, an SKU twice in a box."""

    code = "invalid_boxes"


class BoxesConflict(WorkflowError):
    """The purchase's boxes were registered already with other contents or another key, or the key was used for
    another purchase."""

    code = "boxes_conflict"


class ScanBackwards(WorkflowError):
    """The box is further on already: a scan never takes it back."""

    code = "scan_backwards"


class ScanConflict(WorkflowError):
    """A scan key seen before comes with another box or status."""

    code = "scan_conflict"


class InvalidScanTime(WorkflowError):
    """A scan's time in the future, or before the box's last status."""

    code = "invalid_scan_time"


class UndoNotBack(WorkflowError):
    """An undo takes a box back to a status before its own: not to where it is, nor further on."""

    code = "undo_not_back"


class BoxMovedOn(WorkflowError):
    """An undo confirmed for the box's scan to one status finds the box at another: it moved meanwhile."""

    code = "box_moved_on"


def last_scan(status: BoxStatus, live: dict[BoxStatus, BoxScan]) -> tuple[BoxStatus | None, list[BoxStatus]]:
    """What undoing a box's last scan does: the status it goes back to (``None``: never scanned, nothing to undo) and
    the statuses undone, the last first — the box's own and those its last scan passed on the way (``skipped``).
    ``live`` are the box's scans not undone, by status."""
    here = STATUSES.index(status)
    if here == 0:
        return None, []
    undone, back = [status], here - 1
    while back > 0 and (scan := live.get(STATUSES[back])) is not None and scan.skipped:
        undone.append(STATUSES[back])
        back -= 1
    return STATUSES[back], undone


class UndoConflict(WorkflowError):
    """An undo key seen before comes with another box or status."""

    code = "undo_conflict"
