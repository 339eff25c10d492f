"""What the office side records: payments and their phases, alerts, FX rates."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class Phase(enum.StrEnum):
    INITIATED = "initiated"
    THREE_DS = "3ds"
    AUTHORIZED = "authorized"
    CLEARED = "cleared"
    FAILED = "failed"
    REFUNDED = "refunded"


# A payment only moves forward along this line; failed and refunded end it.
PHASE_ORDER = {Phase.INITIATED: 0, Phase.THREE_DS: 1, Phase.AUTHORIZED: 2, Phase.CLEARED: 3}
TERMINAL = {Phase.FAILED, Phase.REFUNDED}


@dataclass
class Payment:
    payment_id: str
    order_id: int
    idempotency_key: str
    phase: Phase
    amount: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
    void_requested_at: datetime | None = None


# Where a payment event came from: the gateway's own notice, or our reading of its status (workflows/payment_watch.py)
FROM_GATEWAY, FROM_STATUS_POLL = "gateway", "status_poll"


@dataclass
class PaymentWatch:
    """The payment watch's record of one payment whose phase stood still too long: when to ask the gateway next,
    how often it answered and how often in a row it did not, and the managers' task once it is unknown too long
    (``task_for``: the payment's ``updated_at`` that task is about)."""

    payment_id: str
    next_poll_at: datetime
    polls: int = 0
    failures: int = 0
    last_error: str | None = None
    task_id: int | None = None
    task_for: datetime | None = None
    leased_until: datetime | None = None
    lease_owner: str | None = None


@dataclass
class Alert:
    id: int | None
    key: str  # what it is about, stable across repeats: "onec_silent", "sync_failing:wildberries"
    kind: str
    detail: dict[str, object]
    state: str  # open | resolved
    count: int
    shown_count: int
    first_at: datetime
    last_at: datetime
    shown_at: datetime | None = None
    resolved_at: datetime | None = None
    task_id: int | None = None
