"""Statuses out: a marketplace order moves on in the marketplace's own fulfilment (FBS) flow, once.

A channel whose client :class:`~workflows.channels.FulfilsOrders` gets a :class:`Fulfilment`, run by the scheduler
every minute. One run:

* **Sweeps** the channel's orders that have no action yet (not cancelled), oldest first. An order with a line nobody
  could fill (out of stock everywhere, or every store said no) queues ``ask_unfillable``; an order whose every line is
  allocated and which may ship by the shipping rule (:func:`workflows.shipping.shipping_blockers`; the marketplace
  collected the buyer's money, so only a shipping hold such as the fraud call check stops it) queues
  ``ready_to_ship``; any other order is looked at again on the next run. A sweep rather than a hook in each place
  that allocates (the intake, a store's answer, a payment, the fraud check's ``verified``): one rule in one place,
  and an order is moved on at most a run after it may be.
* **Asks** the due ``ask_unfillable`` questions (:mod:`workflows.unfillable`), each in its own transaction. One
  due again after the managers' ``wait`` routes the lines again first: every one found stock, the row is withdrawn
  and the order is swept afresh (ready to ship once allocated); else the managers are asked again.
* **Sends** the due ``ready_to_ship`` and ``cancel_unfillable`` actions through the client. Each row is one per
  (order, action) — the insert is the claim that it is queued once — and is claimed by moving its next attempt past
  a lease (short, renewed while the run works on it: :mod:`workflows.leases`), so two runs do not send it at once;
  a run that dies leaves it due again when the lease ends (both calls
  are idempotent on the marketplace). Unavailable: tried again with exponential backoff and jitter (the channel's
  hint when it gives one). Refused: the row stops and the owner is alerted. Done: never sent again. The order's
  history says what the marketplace was told, and what it answered.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from workflows.alerts import AlertDesk
from workflows.channels import ChannelClient, ChannelOrderLine, ChannelRefused, ChannelUnavailable, FulfilsOrders
from workflows.leases import LEASE, HeldLeases
from workflows.model import Order, OrderEvent
from workflows.order_actions import SENT_TO_CHANNEL, Action, ActionState, queue
from workflows.ports import Clock, LeaseKey, LeaseKind, OrderAction, UnitOfWork, UnitOfWorkFactory
from workflows.shipping import shipping_blockers
from workflows.unfillable import UnfillableDesk, unfillable_lines

log = logging.getLogger(__name__)

REFUSED_KIND = "order_action_refused"
SENT_EVENT = {Action.READY_TO_SHIP: "marketplace_ready_to_ship", Action.CANCEL_UNFILLABLE: "marketplace_cancelled"}
REFUSED_EVENT = {
    Action.READY_TO_SHIP: "marketplace_refused_ready",
    Action.CANCEL_UNFILLABLE: "marketplace_refused_cancel",
}


class Fulfilment:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        client: FulfilsOrders,
        alerts: AlertDesk,
        unfillable: UnfillableDesk,
        threshold_rub: Decimal,
        *,
        channel: str,
        batch: int = 20,
        lease: timedelta = LEASE,  # renewed while the claimed rows are being worked on (``held``)
        recheck_after: timedelta = timedelta(seconds=60),
        first_backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(minutes=10),
        rng: random.Random | None = None,
        owner: str = "storeops",
        held: HeldLeases | None = None,
    ) -> None:
        self._uow, self._clock, self._client, self._alerts = uow, clock, client, alerts
        self._owner, self._held = owner, held if held is not None else HeldLeases()
        self._unfillable, self._threshold, self.name = unfillable, threshold_rub, channel
        self._batch, self._lease, self._recheck_after = batch, lease, recheck_after
        self._first_backoff, self._max_backoff = first_backoff, max_backoff
        self._rng = rng or random.Random()

    async def run_once(self) -> int:
        """Sweep, ask, send; how many actions the marketplace took."""
        await self.sweep()
        await self.ask_due()
        return await self.send_due()

    async def sweep(self) -> int:
        """Queue what the channel's orders without an action now need; how many were queued."""
        needed: list[tuple[int, Action]] = []
        async with self._uow(read_only=True) as uow:  # most candidates wait for a store or a hold: only read them
            for order_id in await uow.order_actions.candidates(self.name, self._batch * 10):
                order = await uow.orders.get(order_id)
                if order is not None and (action := await self._needs(uow, order)) is not None:
                    needed.append((order_id, action))
        queued = 0
        for order_id, action in needed:  # a queued row is looked at again when due: cancelled meanwhile, it drops
            async with self._uow() as uow:
                if await queue(uow, order_id, action, self._clock.now()):
                    await uow.commit()
                    queued += 1
        return queued

    async def _needs(self, uow: UnitOfWork, order: Order) -> Action | None:
        if order.cancelled_at is not None:
            return None
        if unfillable_lines(order):
            return Action.ASK_UNFILLABLE
        if not await shipping_blockers(uow, order, self._threshold, channel_collects=True):
            return Action.READY_TO_SHIP
        return None

    async def ask_due(self) -> int:
        """Put the due questions about unfillable orders to the managers; how many were due."""
        async with self._uow() as uow:
            now = self._clock.now()
            due = await uow.order_actions.claim(
                self.name, [Action.ASK_UNFILLABLE], now, now + self._lease, self._batch, owner=self._owner
            )
            await uow.commit()
        with self._held.holding(LeaseKind.ORDER_ACTION, _keys(due)):
            for row in due:  # one transaction each: routing again takes stock, in intake's lock order, one at a time
                async with self._uow() as uow:
                    await self._ask(uow, row)
                    await uow.commit()
        return len(due)

    async def _ask(self, uow: UnitOfWork, row: OrderAction) -> None:
        """Ask about the order — after a wait, only when routing its lines again found no stock. Stock found, the
        question is withdrawn and the next sweep sees the order afresh (ready to ship once allocated)."""
        await uow.locks.hold(f"order-cancel:{row.order_id}")  # as a cancellation does: not cancelled meanwhile
        order = await uow.orders.get(row.order_id)
        assert order is not None, "an order is never deleted"
        now = self._clock.now()
        if order.cancelled_at is not None:
            await uow.order_actions.save(replace(row, state=ActionState.DROPPED, done_at=now))
        elif row.attempts > 0 and await self._unfillable.route_again(uow, order):
            await uow.order_actions.withdraw(row.order_id, row.action)
        else:
            order = await uow.orders.get(row.order_id) or order  # routed again: only what is still unfillable
            await self._unfillable.ask(uow, order, row.attempts + 1)
            await uow.order_actions.save(replace(row, state=ActionState.ASKED, attempts=row.attempts + 1))

    async def send_due(self) -> int:
        """Send the due actions to the marketplace; how many it took."""
        async with self._uow() as uow:
            now = self._clock.now()
            due = await uow.order_actions.claim(
                self.name, SENT_TO_CHANNEL, now, now + self._lease, self._batch, owner=self._owner
            )
            await uow.commit()
        taken = 0
        with self._held.holding(LeaseKind.ORDER_ACTION, _keys(due)):
            for row in due:
                taken += await self._send(row)
        return taken

    async def _send(self, row: OrderAction) -> int:
        action = Action(row.action)
        async with self._uow(read_only=True) as uow:
            order = await uow.orders.get(row.order_id)
            assert order is not None, "an order is never deleted"
            blockers = await shipping_blockers(uow, order, self._threshold, channel_collects=True)
            offers = await uow.offer_ids.for_skus(self.name, {line.sku for line in order.lines})
        if action == Action.READY_TO_SHIP and blockers:
            await self._not_now(row, cancelled=order.cancelled_at is not None)
            return 0
        try:
            if action == Action.READY_TO_SHIP:
                lines = [ChannelOrderLine(offers[line.sku], line.qty) for line in order.lines if line.sku in offers]
                if len(lines) != len(order.lines):
                    raise ChannelRefused("an article of the order has no offer id on this channel")
                await self._client.ready_to_ship(order.external_id, lines)
            else:
                await self._client.cancel_unfillable(order.external_id)
        except ChannelUnavailable as error:
            await self._later(row, error.reason, error.retry_after)
            return 0
        except ChannelRefused as error:
            await self._refused(row, order, error.reason)
            return 0
        await self._done(row, order)
        return 1

    async def _not_now(self, row: OrderAction, *, cancelled: bool) -> None:
        """The order may not move on now: cancelled meanwhile (the action goes), or held (looked at again later)."""
        async with self._uow() as uow:
            now = self._clock.now()
            if cancelled:
                await uow.order_actions.save(replace(row, state=ActionState.DROPPED, done_at=now))
            else:
                await uow.order_actions.save(replace(row, next_attempt_at=now + self._recheck_after))
            await uow.commit()

    async def _done(self, row: OrderAction, order: Order) -> None:
        async with self._uow() as uow:
            now = self._clock.now()
            done = replace(row, state=ActionState.DONE, attempts=row.attempts + 1, last_error=None, done_at=now)
            await uow.order_actions.save(done)
            detail: dict[str, object] = {"channel": self.name, "attempts": done.attempts}
            await uow.orders.add_events(row.order_id, [OrderEvent(now, SENT_EVENT[Action(row.action)], detail)])
            await uow.commit()
        log.info("%s: order %s %s", self.name, order.external_id, row.action)

    async def _later(self, row: OrderAction, reason: str, hint: float | None) -> None:
        attempts = row.attempts + 1
        backoff = min(self._max_backoff, self._first_backoff * 2 ** min(attempts - 1, 16)).total_seconds()
        wait = hint if hint is not None else backoff * (0.5 + self._rng.random() / 2)  # jitter
        async with self._uow() as uow:
            now = self._clock.now()
            later = replace(row, attempts=attempts, last_error=reason, next_attempt_at=now + timedelta(seconds=wait))
            await uow.order_actions.save(later)
            await uow.commit()
        log.warning("%s: %s of order %s not sent, tried again in %.0f s: %s", self.name, row.action, row.order_id,
                    wait, reason)  # fmt: skip

    async def _refused(self, row: OrderAction, order: Order, reason: str) -> None:
        async with self._uow() as uow:
            now = self._clock.now()
            refused = replace(row, state=ActionState.REFUSED, attempts=row.attempts + 1, last_error=reason, done_at=now)
            await uow.order_actions.save(refused)
            detail: dict[str, object] = {"channel": self.name, "reason": reason}
            await uow.orders.add_events(row.order_id, [OrderEvent(now, REFUSED_EVENT[Action(row.action)], detail)])
            alert: dict[str, object] = {
                "channel": self.name, "action": row.action, "order_id": row.order_id, "order": order.external_id,
                "reason": reason,
            }  # fmt: skip
            key = f"{REFUSED_KIND}:order:{row.order_id}:{row.action}"
            await self._alerts.raise_alert(uow, key, REFUSED_KIND, alert)
            await uow.commit()
        log.warning("%s refused %s of order %s: %s", self.name, row.action, order.external_id, reason)


def _keys(rows: list[OrderAction]) -> list[LeaseKey]:
    return [(row.order_id, row.action) for row in rows]


def fulfils(client: ChannelClient) -> FulfilsOrders | None:
    """The client as a :class:`FulfilsOrders` when it is one."""
    return client if isinstance(client, FulfilsOrders) else None
