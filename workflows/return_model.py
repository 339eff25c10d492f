"""What a return is: one order line's goods coming back, and what became of them. The ports
(``workflows.ports``) and the returns workflow (``workflows.returns``) both use it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

# the alerts a return raises: the owner has a defective one written off in 1C; the managers chase a lost one
RETURN_DEFECTIVE = "return_defective"
RETURN_NOT_RECEIVED = "return_not_received"


class ReturnState(enum.StrEnum):
    ANNOUNCED = "announced"  # on its way: the warehouse is asked to say what arrived
    SELLABLE = "sellable"  # arrived sellable: expected back in 1C's next figure for its SKU and warehouse
    RESTOCKED = "restocked"  # arrived sellable and added to the warehouse's stock at once (the shop's setting)
    DEFECTIVE = "defective"  # arrived, not sellable: the owner has it written off in 1C
    NOT_RECEIVED = "not_received"  # never arrived: the managers chase it


@dataclass(frozen=True)
class ReturnRecord:
    """One return: ``qty`` of ``sku`` of order ``order_id`` coming back to ``warehouse``; one per order and SKU."""

    order_id: int
    sku: str
    warehouse: str
    qty: int
    source: str  # the channel that reported it, or "manager:<telegram id>"
    announced_at: datetime
    task_id: int | None = None
    state: ReturnState = ReturnState.ANNOUNCED
    decided_at: datetime | None = None
