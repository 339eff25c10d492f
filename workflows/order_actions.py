"""The names of what a marketplace is asked to do about an order, and of where each ask stands (``order_actions``)."""

from __future__ import annotations

import enum
from datetime import datetime

from workflows.ports import OrderAction, UnitOfWork


class Action(enum.StrEnum):
    READY_TO_SHIP = "ready_to_ship"  # every line allocated, the money allows: the marketplace moves the order on
    CANCEL_UNFILLABLE = "cancel_unfillable"  # the managers gave up on an order nobody can fill
    ASK_UNFILLABLE = "ask_unfillable"  # the managers are asked (again) what to do with such an order


class ActionState(enum.StrEnum):
    PENDING = "pending"  # due at ``next_attempt_at``
    DONE = "done"  # the marketplace took it (or the managers decided): never sent again
    REFUSED = "refused"  # the marketplace refused it; the owner was told, people take over
    DROPPED = "dropped"  # no longer needed: the order was cancelled meanwhile
    ASKED = "asked"  # the managers' question is open


SENT_TO_CHANNEL = (Action.READY_TO_SHIP, Action.CANCEL_UNFILLABLE)


async def queue(uow: UnitOfWork, order_id: int, action: Action, now: datetime) -> bool:
    """Inside the caller's transaction: queue ``action`` for the order, due now; ``False`` when it was queued before."""
    return await uow.order_actions.add(OrderAction(order_id, action.value, ActionState.PENDING.value, now, now))
