"""What a client's money on an order is made of: the virtual account, its earmarks, the payments out drawn from them
and the journal that makes every movement happen once. The desk (``workflows.client_money``), the ports and the
read models all use these, so they live apart from each of them.

Every figure here is in roubles, the client's currency, except a payout's own ``amount`` (in the payee's currency,
with the rate it was drawn at). See docs/client_money.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from workflows.errors import WorkflowError

KOPECK = Decimal("0.01")


def rub(value: Decimal) -> Decimal:
    """``value`` to the kopeck, halves up: every stored rouble figure is rounded this one way."""
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


class Purpose(enum.StrEnum):
    """What part of the client's money an earmark holds, in the order the client's money fills them."""

    GOODS = "goods"  # the supplier, usually in CNY
    LOGISTICS = "logistics"  # the carrier, by transport mode, usually in EUR
    CUSTOMS = "customs"  # duties and the broker, by clearance mode, in RUB
    WAREHOUSE = "warehouse"  # our Moscow warehouse's services
    MARKETPLACE = "marketplace"  # delivery on to Wildberries or Ozon


PURPOSES = tuple(Purpose)


class TransportMode(enum.StrEnum):
    CONSOLIDATED_TRUCK = "consolidated_truck"
    FULL_TRUCK = "full_truck"
    RAIL_CONTAINER = "rail_container"
    TIR = "tir"


class ClearanceMode(enum.StrEnum):
    FULL = "full"  # with duties
    PARTIAL = "partial"
    TRANSPORT_ONLY = "transport_only"


class DeliveryMode(enum.StrEnum):
    """How the goods go on from our Moscow warehouse: what the ``marketplace`` earmark is estimated by."""

    MARKETPLACE = "marketplace"  # to Wildberries or Ozon, the topology's ``[estimates.marketplace]`` (the default)
    OZON = "ozon"
    WILDBERRIES = "wildberries"
    REGION_SMALL_LOTS = "region_small_lots"  # small lots to the client's region by a parcel carrier
    PICKUP = "pickup"  # the client collects from the warehouse


@dataclass
class Earmark:
    """A reserve, not a charge: ``planned`` is what the estimate (and any top-up asked) sets aside for ``purpose``,
    ``reserved`` what the client's money has filled of it so far (plus what the shop absorbed), ``drawn`` what
    payments out took. ``drawn`` never exceeds ``reserved``: the rule, and a CHECK in the database."""

    purpose: Purpose
    planned: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    drawn: Decimal = Decimal(0)
    absorbed: Decimal = Decimal(0)  # of ``reserved``, what the shop put in by a manager's ``absorb``
    id: int | None = None
    released: Decimal = Decimal(0)  # of ``drawn``, what materialised as the goods moved (docs: boxes and scans)
    estimated: Decimal | None = None  # what the estimate (plan or route change) set; ``planned`` adds top-ups

    @property
    def available(self) -> Decimal:
        return self.reserved - self.drawn

    @property
    def room(self) -> Decimal:
        """What the client's money may still fill of it: its plan not yet reserved."""
        return max(Decimal(0), self.planned - self.reserved)

    @property
    def refundable(self) -> Decimal:
        """What a refund may take back: the client's money in it not drawn (never the shop's absorbed money)."""
        return max(Decimal(0), min(self.reserved - self.drawn, self.reserved - self.absorbed))


@dataclass
class MoneyAccount:
    """One order's virtual account: the client's money in (``credited``), split into earmarks; what the earmarks had
    no room for waits in ``unallocated``. ``transport`` and ``clearance`` are ``None`` until the order is planned."""

    order_id: int
    credited: Decimal
    unallocated: Decimal
    created_at: datetime
    transport: TransportMode | None = None
    clearance: ClearanceMode | None = None
    earmarks: list[Earmark] = field(default_factory=list)
    delivery: DeliveryMode | None = None  # ``None``: planned before delivery modes, read as ``marketplace``
    cleared_at: datetime | None = None  # when the first client payment was credited
    purchase_ask_at: datetime | None = None  # the purchase watch asks the managers then, unless goods are bought
    purchase_task_id: int | None = None  # the managers' open question about money with no purchase

    def earmark(self, purpose: Purpose) -> Earmark:
        found = next((e for e in self.earmarks if e.purpose == purpose), None)
        if found is None:
            raise MoneyNotPlanned(f"order {self.order_id} has no {purpose.value} earmark: plan it first")
        return found

    @property
    def planned(self) -> bool:
        return bool(self.earmarks)


class PayoutState(enum.StrEnum):
    DRAWN = "drawn"  # taken from its earmark: the money is laid in, to be paid by its due date
    SHORT = "short"  # its earmark had too little: a manager decides (request_topup / absorb / postpone)
    AWAITING_TOPUP = "awaiting_topup"  # the client was asked for the difference; drawn when it clears
    POSTPONED = "postponed"  # looked at again at its (new) due date
    PAID = "paid"  # the bank paid it out: off the calendar


WAITING = frozenset({PayoutState.SHORT, PayoutState.AWAITING_TOPUP, PayoutState.POSTPONED})
OPEN = WAITING | {PayoutState.DRAWN}  # on the obligations calendar


@dataclass(frozen=True)
class PayoutRequest:
    """A payment out the business must make for an order — a supplier's invoice in CNY, a carrier's in EUR,
    customs in RUB — named by the caller's idempotency ``key``. ``rate`` (roubles per unit) may be given; else the
    newest CBR rate held is used."""

    key: str
    order_id: int
    purpose: Purpose
    payee: str
    currency: str
    amount: Decimal
    due_at: datetime
    rate: Decimal | None = None
    obligation_id: int | None = None  # the order's planned obligation this pays, when it is one

    def same_as(self, payout: Payout) -> bool:
        """Whether a repeat of this request asks for what ``payout`` already is."""
        return (self.order_id, self.purpose, self.payee, self.currency.upper(), self.amount, self.due_at) == (
            payout.order_id, payout.purpose, payout.payee, payout.currency, payout.amount, payout.requested_due_at,
        )  # fmt: skip


@dataclass
class Payout:
    """A payment out, drawn from exactly one earmark (``earmark_id``, never null once stored)."""

    key: str
    order_id: int
    purpose: Purpose
    earmark_id: int
    payee: str
    currency: str
    amount: Decimal
    rate: Decimal
    amount_rub: Decimal
    due_at: datetime
    requested_due_at: datetime  # as first asked; ``due_at`` moves when a manager postpones it
    state: PayoutState
    created_at: datetime
    id: int | None = None
    obligation_id: int | None = None
    task_id: int | None = None  # the open shortfall question, while it is one
    topup_payment_id: str | None = None  # the payment the client was asked for
    absorbed_rub: Decimal = Decimal(0)  # what the shop put in for it
    drawn_at: datetime | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True)
class MoneyEntry:
    """One line of the account's journal. ``key`` is unique across the journal: an event that comes again finds its
    key taken and changes nothing."""

    key: str
    order_id: int
    # credit | plan | draw | absorb | topup_requested | topup_failed | paid | refund | route | give_back | release
    kind: str
    amount_rub: Decimal
    at: datetime
    purpose: Purpose | None = None
    detail: dict[str, object] = field(default_factory=dict)


def allocate(account: MoneyAccount, amount: Decimal, first: Purpose | None = None) -> dict[Purpose, Decimal]:
    """Fill the earmarks with ``amount`` up to what each plans (``first``'s first); the rest goes unallocated."""
    took: dict[Purpose, Decimal] = {}
    order = ([first] if first is not None else []) + [p for p in PURPOSES if p != first]
    for purpose in order if account.planned else ():
        earmark = account.earmark(purpose)
        share = min(amount, earmark.room)
        if share > 0:
            earmark.reserved += share
            took[purpose], amount = share, amount - share
    account.unallocated += amount
    return took


@dataclass(frozen=True)
class ReserveTotals:
    """Over every account: what the estimates set aside, what client money filled, what payouts took."""

    planned: Decimal = Decimal(0)
    reserved: Decimal = Decimal(0)
    drawn: Decimal = Decimal(0)
    absorbed: Decimal = Decimal(0)
    unallocated: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.reserved - self.drawn

    @property
    def unfunded(self) -> Decimal:
        """What the clients have yet to pay of the estimates."""
        return rub(max(Decimal(0), self.planned - self.reserved))


class MoneyNotPlanned(WorkflowError):
    """The order has no money plan (earmarks) yet."""

    code = "money_not_planned"


class MoneyConflict(WorkflowError):
    """An idempotency key seen before comes with other content, or a plan differs from the one made."""

    code = "money_conflict"


class NoRate(WorkflowError):
    """A payout in a foreign currency came with no rate, and no CBR rate is held for it."""

    code = "no_rate"


class PayoutNotFound(WorkflowError):
    code = "payout_not_found"


class RouteBelowDrawn(WorkflowError):
    """A route change would leave an earmark planned below what payments out already took from it."""

    code = "route_below_drawn"


class UnknownObligation(WorkflowError):
    """A payout names an obligation its order does not have."""

    code = "unknown_obligation"
