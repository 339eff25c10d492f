"""What became of a channel's orders after we took them: the channel's cancellations, deliveries and returns.

A channel whose client :class:`~workflows.channels.ReportsOrderEvents` gets an :class:`OrderFeed`, pulled on the
same schedule as its new orders. One pull reads the channel's stored bookmark, asks for the events after it
(naming the channel's orders we hold open, for channels that can only be asked order by order), applies each event
in its own unit of work and only then stores the new bookmark. A crash between the two repeats events on the
next pull, never loses them; repeats are harmless because every event is applied once:

* **The database is the judge.** Each event is a row of ``channel_order_events`` keyed by (channel, order, kind),
  inserted in the same transaction as its effect. Of two instances applying the same event at once, the second
  insert waits for the first transaction and then inserts nothing: that instance sees a repeat and does nothing,
  and whatever the first did (the release of the reservations) happened once.
* **A cancellation** of an order we hold cancels it through ``OrderDesk.cancel_in`` (reservations released
  through the ledger, so the freed stock is queued for the other channels by the commit hooks; open tasks such as
  a store's question closed; unpaid obligations cancelled) and writes ``cancelled_by_channel`` into its history
  with the channel's reason and time. An order we had cancelled ourselves just gets the row.
* **A cancellation read before the order** (events come in any order: the buyer cancels a minute after ordering,
  before the next order poll) is kept as *waiting*. The intake (``OrderDesk.place``) looks for a waiting
  cancellation before it routes anything and takes such an order already cancelled: it is on record with its
  history, but never reserves stock, asks no store and ships nothing. That is better than refusing it (the order
  would be polled and refused again forever, and a manager could not find it) and better than placing and
  cancelling it at once (a store would be asked, and a push queued, for nothing).
* **The race between the two** — the feed finding no order while the intake, in another transaction, takes it —
  is closed by one lock per channel order (``channel_verdicts.channel_order_lock``, a transaction-scoped advisory
  lock on PostgreSQL; SQLite runs one writer at a time) that both hold before they look: whichever comes second
  sees what the first committed. As a safety net for an intake that did not check (an instance of an older
  version during a rolling upgrade), every pull first settles the waiting cancellations whose order has since
  come in.
* **Delivered and returned** add one history line each (``delivered_to_buyer``, ``returned_by_buyer``); a return
  also asks the warehouse each line left from what came back (``workflows.returns``), in the same transaction.
  For an order we never took they are only recorded.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from workflows.channel_verdicts import cancel_reason, channel_order_lock, history_event
from workflows.channels import ChannelOrderEvent, ChannelRefused, ChannelUnavailable, OrderEventKind, ReportsOrderEvents
from workflows.errors import WorkflowError
from workflows.orders import OrderDesk
from workflows.ports import Clock, HeardOrderEvent, UnitOfWork, UnitOfWorkFactory
from workflows.returns import Returns

log = logging.getLogger(__name__)

WATCHING_LIMIT = 1000  # the newest open orders named to the channel on each read
SETTLE_LIMIT = 100  # waiting cancellations settled per pull
REASON_LIMIT = 500  # characters of the channel's reason kept


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # its effect is done now
    REPEATED = "repeated"  # it was kept before: nothing done
    WAITING = "waiting"  # a cancellation of an order that has not come in yet


@dataclass
class FeedRun:
    """What one pull did."""

    channel: str
    applied: int = 0
    repeated: int = 0
    waiting: int = 0
    failed: str | None = None  # the channel's error; the bookmark was kept

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


class OrderFeed:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, client: ReportsOrderEvents, orders: OrderDesk, *, channel: str,
        returns: Returns | None = None,
    ) -> None:  # fmt: skip
        self._uow, self._clock, self._client, self._orders = uow, clock, client, orders
        self._returns = returns  # a "returned" event asks the shipping warehouse what came back
        self.name = channel
        self._last_failure: str | None = None  # said once at WARNING; a repeat every minute is only DEBUG

    async def pull(self) -> FeedRun:
        """Apply the channel's events after the stored bookmark, then store the channel's new one."""
        run = FeedRun(self.name, applied=await self.settle_waiting())
        async with self._uow(read_only=True) as uow:
            cursor = (await uow.channel_states.get(self.name)).order_events_cursor
            watching = await uow.orders.open_external_ids(self.name, WATCHING_LIMIT)
        try:
            page = await self._client.order_events(cursor, watching)
        except (ChannelUnavailable, ChannelRefused) as error:
            level = logging.DEBUG if error.reason == self._last_failure else logging.WARNING
            log.log(level, "order events from %s not read: %s", self.name, error.reason)
            self._last_failure = run.failed = error.reason
            return run
        if self._last_failure is not None:
            log.info("order events from %s are read again", self.name)
            self._last_failure = None
        async with self._uow(read_only=True) as uow:  # repeats are the common case: skip them in one read
            kept = await uow.heard_order_events.heard_of(self.name, [e.external_id for e in page.events])
        for event in page.events:
            if (event.external_id, event.kind.value) in kept:
                run.count(Outcome.REPEATED)
                continue
            run.count(await self.apply(event))
        if page.cursor != cursor:
            async with self._uow() as uow:
                await uow.channel_states.save_order_events_cursor(self.name, page.cursor)
                await uow.commit()
        if page.events:
            log.info(
                "order events from %s: applied=%d repeated=%d waiting=%d",
                self.name, run.applied, run.repeated, run.waiting,
            )  # fmt: skip
        return run

    async def apply(self, event: ChannelOrderEvent) -> Outcome:
        """Apply one event in its own unit of work, once (see the module's docstring)."""
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.locks.hold(channel_order_lock(self.name, event.external_id))
            order = await uow.orders.find(self.name, event.external_id)
            waits = order is None and event.kind == OrderEventKind.CANCELLED
            heard = HeardOrderEvent(
                self.name, event.external_id, event.kind.value, _utc(event.at), event.reason[:REASON_LIMIT], now,
                order_id=None if order is None else order.id, applied_at=None if waits else now,
            )  # fmt: skip
            if not await uow.heard_order_events.add(heard):
                return Outcome.REPEATED  # kept before, maybe by another instance a moment ago
            if heard.order_id is not None:
                await self._to_order(uow, heard.order_id, heard)
            elif not waits:
                log.info("%s says order %s was %s; we never took it", self.name, event.external_id, event.kind.value)
            await uow.commit()
        return Outcome.WAITING if waits else Outcome.APPLIED

    async def settle_waiting(self) -> int:
        """Cancellations that waited for their order, applied now that the order is in; how many."""
        async with self._uow(read_only=True) as uow:
            found = await uow.heard_order_events.waiting_with_order(self.name, SETTLE_LIMIT)
        settled = 0
        for heard, order_id in found:
            async with self._uow() as uow:
                await uow.locks.hold(channel_order_lock(self.name, heard.external_id))
                events = uow.heard_order_events
                if not await events.settle(self.name, heard.external_id, heard.kind, order_id, self._clock.now()):
                    continue  # settled meanwhile, by the intake or another instance
                await self._to_order(uow, order_id, heard)
                await uow.commit()
            settled += 1
        return settled

    async def _to_order(self, uow: UnitOfWork, order_id: int, heard: HeardOrderEvent) -> None:
        if heard.kind == OrderEventKind.CANCELLED and not await self._orders.cancel_in(
            uow, order_id, cancel_reason(heard)
        ):
            return  # we had cancelled it ourselves: the event is kept, nothing else changes
        await uow.orders.add_events(order_id, [history_event(heard, self._clock.now())])
        if heard.kind == OrderEventKind.RETURNED and self._returns is not None:
            await self._announce_return(uow, order_id)

    async def _announce_return(self, uow: UnitOfWork, order_id: int) -> None:
        """The buyer sent the order back: each line that left a warehouse is a return that warehouse receives
        (its staff say in Slack what arrived). A line that never left one has nothing to receive."""
        order = await uow.orders.get(order_id)
        assert order is not None
        assert self._returns is not None
        for sku in sorted({line.sku for line in order.lines if line.warehouse}):
            try:
                await self._returns.announce_in(uow, order, sku, None, self.name)
            except WorkflowError as error:  # the line's quantity or warehouse does not allow it: say why
                log.warning("return of %s from %s order %s not announced: %s", sku, self.name, order_id, error)


def _utc(at: datetime) -> datetime:
    """The channel's time; one given without an offset is read as UTC, as the port says it is."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
