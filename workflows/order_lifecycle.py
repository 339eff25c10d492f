"""An order's lifecycle as a manager follows it across orders: which history events mark a step of it, and how
many orders wait on people or on a marketplace right now. Read by the operator's dashboard.

The steps are the events that change where an order stands or that someone must act on: a cancellation by anyone
(us, the buyer or marketplace, the managers through the CRM or 1C, the marketplace told of our own), the managers'
question about an order nobody can fill and their answer, the marketplace told the order is packed (or refusing
it), a CDEK shipment registered, refused or dropped, delivery to the buyer, a return announced and what arrived,
1C taking the order and its documents saying paid and shipped. Routing a line (reserved, a store asked and
answering), payments, the fraud check and FX are left out: they are the steps before an order can move, and each
has its own task or alert when it needs someone. A CRM that fails to take an order leaves no history event (its
row backs off, see :mod:`workflows.crm_orders`), so it is not among them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from workflows.channel_verdicts import HISTORY_KINDS
from workflows.crm_orders import STATUS_EVENT
from workflows.fulfilment import REFUSED_EVENT, SENT_EVENT
from workflows.onec_order_status import PAID_EVENT, SHIPPED_EVENT
from workflows.order_actions import SENT_TO_CHANNEL, ActionState
from workflows.ports import ActionCount, UnitOfWork
from workflows.return_model import ReturnState
from workflows.vocabulary import TaskKind

LIFECYCLE_KINDS: frozenset[str] = frozenset({
    "cancelled",  # by us: the API, the office (fraud, unfillable), the CRM's cancel status
    *HISTORY_KINDS.values(),  # cancelled by the buyer or marketplace, delivered, returned — as the channel said
    *SENT_EVENT.values(), *REFUSED_EVENT.values(),  # the marketplace told: packed / cancelled, or refusing
    "unfillable_asked", "unfillable_decided", "unfillable_wait_moved", "unfillable_rerouted",
    "shipment_registered", "shipment_refused", "shipment_dropped",
    *(f"return_{state.value}" for state in ReturnState),  # announced, then what arrived
    "exported_to_1c", PAID_EVENT, SHIPPED_EVENT,  # 1C took the order; 1C's documents say paid, shipped
    STATUS_EVENT,  # a manager's status in RetailCRM
})  # fmt: skip


@dataclass(frozen=True)
class OrderCounters:
    unfillable_open: int  # the managers' open questions: cancel an order nobody can fill, or wait
    returns_awaiting: int  # returns announced that their warehouse has not answered yet
    to_move_on: int  # marketplace actions (ready to ship, cancel) queued and not yet taken by the marketplace
    move_retrying: int  # of them, ones that failed at least once and wait for their next attempt
    move_refused: int  # actions the marketplace refused: people take over in its cabinet


async def order_counters(uow: UnitOfWork) -> OrderCounters:
    """The counters, each counted where it is stored (three small queries, no row read)."""
    open_tasks = await uow.tasks.open_counts()
    awaiting = await uow.returns.awaiting_receipt()
    actions = [c for c in await uow.order_actions.counts() if c.action in SENT_TO_CHANNEL]
    pending = [c for c in actions if c.state == ActionState.PENDING]
    return OrderCounters(
        unfillable_open=open_tasks.get(TaskKind.UNFILLABLE_ORDER, 0),
        returns_awaiting=awaiting,
        to_move_on=_rows(pending),
        move_retrying=sum(c.retrying for c in pending),
        move_refused=_rows(c for c in actions if c.state == ActionState.REFUSED),
    )


def _rows(counts: Iterable[ActionCount]) -> int:
    return sum(c.rows for c in counts)
