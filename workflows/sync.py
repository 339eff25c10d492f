"""The sync outbox and its dispatchers: every stock change reaches every channel, nothing lost.

Enqueueing runs inside the transaction that changed stock (``SyncOutbox.before_commit``, hooked
into the unit of work by the composition root): for each touched SKU and each channel with a
client, the channel's availability is computed and, when it differs from what the channel will
show anyway, the newest value is queued (one line per channel and SKU, so ten changes before a
push make one line). A dispatcher per channel sends due lines in batches through the channel's
client, retires a line only if no newer value came meanwhile, backs off with jitter when the
channel is unavailable (honouring its hint), opens a circuit after repeated failures and tells
the owner, and stops a line the channel keeps rejecting, telling the owner why. A paused channel
accumulates and catches up on resume. See docs/sync_engine.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Protocol, cast

from workflows.alerts import AlertDesk
from workflows.channels import (
    ChannelClient,
    ChannelRefused,
    ChannelUnavailable,
    PriceLine,
    PushOutcome,
    SetsPrices,
    StockLine,
    charges_per_line,
    pushes_in_flight,
    urgent_push,
)
from workflows.kits import KitBook, channel_values, channels_values
from workflows.leases import LEASE, HeldLeases, HeldScope
from workflows.ledger import Ledger
from workflows.operations import Operations
from workflows.ports import URGENT, Clock, LeaseKey, LeaseKind, Outbox, Push, UnitOfWork, UnitOfWorkFactory
from workflows.prices import from_minor
from workflows.topology import Topology

log = logging.getLogger(__name__)


class SyncObserver(Protocol):
    """What a dispatcher reports as it goes (the metrics adapter counts it)."""

    def accepted(self, channel: str, latencies_s: Sequence[float]) -> None: ...

    def rejected(self, channel: str, count: int) -> None: ...

    def failed(self, channel: str) -> None: ...


CLAIM_LINES = 1000  # a drain claims whole batches, this many lines at least; they go within seconds, inside the lease
SETTLE_BACKLOG = 8  # a drain sends no further while this many answered batches wait to be settled
PAUSE_LOOK_S = 0.25  # within a drain, a channel's pause is read again this often (and at once after a local pause)
# within a drain, a settle clears the channel's failures and resolves its "failing" alert at most this often, unless
# this dispatcher failed since (another instance's failure is cleared within this time of a success here)
HEALTH_LOOK_S = 1.0


@dataclass(frozen=True)
class _Batch:
    claimed: list[Push]  # leased by this dispatcher
    lines: list[StockLine] | list[PriceLine]  # what goes to the channel: the claimed lines that have an offer id
    unmapped: set[str]  # claimed SKUs with no offer id on this channel
    again: frozenset[str] = frozenset()  # claimed SKUs the drain held already: newer values of lines it claimed before

    @cached_property
    def urgent(self) -> bool:
        """Whether it carries a line an order changed: it may take a lane more, and goes first at the gate."""
        return any(push.priority == URGENT for push in self.claimed)


class _Settler:
    """Settles answered batches in the background, in the order answered; what was answered while a settle ran
    goes in the next one together. A failed settle stops the settling (those lines go again after their lease)
    and is kept in :attr:`error` for the drain to raise."""

    def __init__(self, settle: Callable[[Sequence[tuple[_Batch, PushOutcome]]], Awaitable[None]]) -> None:
        self._settle = settle
        self._waiting: list[tuple[_Batch, PushOutcome]] = []
        self._busy = 0  # batches in the settle under way
        self._more, self._settled = asyncio.Event(), asyncio.Event()
        self._closing = False
        self.error: Exception | None = None
        self._task = asyncio.get_running_loop().create_task(self._run())

    def add(self, batch: _Batch, outcome: PushOutcome) -> None:
        self._waiting.append((batch, outcome))
        self._more.set()

    async def below(self, backlog: int) -> None:
        """Until fewer than ``backlog`` batches wait to be settled (or settling stopped)."""
        while self._busy + len(self._waiting) >= backlog and not self._task.done():
            self._settled.clear()
            await self._settled.wait()

    async def close(self) -> None:
        """Settle what waits, then stop."""
        self._closing = True
        self._more.set()
        await self._task

    async def _run(self) -> None:
        try:
            while True:
                await self._more.wait()
                self._more.clear()
                while self._waiting:
                    batches, self._waiting = self._waiting, []
                    self._busy = len(batches)
                    try:
                        await self._settle(batches)
                    finally:
                        self._busy = 0
                        self._settled.set()
                if self._closing:
                    return
        except Exception as error:  # handed to the drain, which raises it
            self.error = error
        finally:
            self._settled.set()


class SyncOutbox:
    def __init__(self, topology: Topology, clock: Clock, channels: Collection[str]) -> None:
        self._topology, self._clock = topology, clock
        self._channels = sorted(name for name in channels if name in topology.channels)
        self._kits = KitBook(topology)

    async def before_commit(self, uow: UnitOfWork) -> None:
        """Queue the new availability of every touched SKU, and of every kit in force made with one of them."""
        skus = uow.touched_skus()
        if not skus or not self._channels:
            return
        now = self._clock.now()
        urgent = uow.urgent_skus()
        if urgent:
            urgent |= self._kits.using(urgent, now)  # a kit made with what an order took changes with it
        channels = {name: self._topology.channels[name] for name in self._channels}
        # a SKU's value is worked out where its rows are (a 1C message touches a thousand SKUs); a kit's, assembled
        # from its components (those touched, and of every kit made with one of them), here
        rules = {name: (channel.serves, channel.safety_stock) for name, channel in channels.items()}
        await uow.outbox.enqueue_availability(skus - self._kits.skus, rules, now, urgent)
        kits = (skus & self._kits.skus) | self._kits.using(skus, now)
        if kits:
            levels = await self._kits.levels(uow, kits, now)
            await uow.outbox.enqueue_changed(channels_values(levels, channels), now, urgent)


class KitRefresh:
    """A kit's availability changes without any stock change when its composition does (a promotion starts or
    ends): every minute each kit's value is computed for every channel and what differs from what the channel
    will show is queued, as a stock change would queue it."""

    def __init__(
        self, uow: UnitOfWorkFactory, topology: Topology, clock: Clock, ledger: Ledger, channels: Collection[str]
    ) -> None:
        self._uow, self._topology, self._clock, self._ledger = uow, topology, clock, ledger
        self._kits = KitBook(topology)
        self._channels = sorted(name for name in channels if name in topology.channels)

    async def run_once(self) -> int:
        """Queue what changed; the number of channel lines queued."""
        if not self._kits.skus or not self._channels:
            return 0
        queued = 0
        async with self._uow() as uow:
            now = self._clock.now()
            await self._ledger.register_offer_ids(uow, set(self._kits.skus))  # a kit has no figures to bring them
            levels = await self._kits.levels(uow, self._kits.skus, now)
            for name in self._channels:
                desired = channel_values(levels, self._topology.channels[name])
                known = await uow.outbox.known(name, desired)
                changes = {sku: qty for sku, qty in desired.items() if known.get(sku) != qty}
                if changes:
                    await uow.outbox.enqueue(name, changes, now)
                    queued += len(changes)
            await uow.commit()
        if queued:
            log.info("kits: %d channel lines queued", queued)
        return queued


def _keys(pushes: Sequence[Push]) -> list[LeaseKey]:
    return [(push.channel, push.sku) for push in pushes]


def _rebatch(claimed: list[Push], batches: Sequence[_Batch], size: int) -> list[_Batch]:
    """The lines of ``batches`` in the order of ``claimed``, cut again into batches of ``size``."""
    line_of: dict[str, StockLine | PriceLine] = {line.sku: line for batch in batches for line in batch.lines}
    unmapped = {sku for batch in batches for sku in batch.unmapped}
    found: list[_Batch] = []
    for start in range(0, len(claimed), size):
        mine = claimed[start : start + size]
        lines = [line_of[push.sku] for push in mine if push.sku in line_of]
        found.append(_Batch(mine, cast(list[StockLine] | list[PriceLine], lines), {p.sku for p in mine} & unmapped))
    return found


class SyncDispatcher:
    """Sends one channel's stock outbox. :class:`PriceDispatcher` is the same engine on the price outbox.

    The lines a drain claimed are held in ``held`` (:class:`~workflows.leases.HeldLeases`) until they are settled or
    given back, so their short leases are renewed while they are on their way; a dispatcher given none (a test, a
    bench) renews nothing."""

    what = "stock"  # said in logs
    lease_kind = LeaseKind.STOCK_PUSH

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        client: ChannelClient,
        alerts: AlertDesk,
        operations: Operations,
        *,
        owner: str,
        dead_after: int = 3,
        failures_to_open: int = 5,
        open_for: timedelta = timedelta(seconds=60),
        lease: timedelta = LEASE,
        max_backoff: timedelta = timedelta(minutes=5),
        rng: random.Random | None = None,
        observer: SyncObserver | None = None,
        held: HeldLeases | None = None,
    ) -> None:
        self._uow, self._clock, self._client, self._alerts, self._ops = uow, clock, client, alerts, operations
        self._owner, self._dead_after, self._failures_to_open = owner, dead_after, failures_to_open
        self._open_for, self._lease, self._max_backoff = open_for, lease, max_backoff
        self._rng = rng or random.Random()
        self.name = client.name
        self._state_key = self.name  # whose failures and circuit (channel_states)
        self._rejected_kind, self._failing_kind = "sku_rejected", "sync_failing"  # the owner's alerts
        self._observer = observer
        self._held = held if held is not None else HeldLeases()
        self._kicked = False
        self._look_urgent = False  # a running drain looks for order-driven lines before its next push
        self._drain: asyncio.Task[None] | None = None
        self._wake: asyncio.Future[None] | None = None  # a drain waiting on its pushes and claims also waits on this
        self._wake_at: asyncio.TimerHandle | None = None  # a kick set for when a held-back line may go
        self._closed = False
        self._pause_seen: tuple[int, float, bool] = (-1, 0.0, False)  # (pause mark, loop time, paused) last read
        self._healthy_at: float | None = None  # loop time a settle last cleared failures and the failing alert

    def kick(self) -> None:
        """Something was queued: send now rather than at the next scheduled run (the schedule
        stays as the safety net). Several kicks while a drain runs make one more drain; a drain under way
        looks for order-driven lines before its next push, so they go ahead of the lines it had claimed."""
        self._kicked = True
        self._look_urgent = True
        self._wake_up()
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_task(self._drain_kicked())

    def _wake_up(self) -> None:
        """A drain waiting on its pushes looks for order-driven lines now, not when the next push is answered (on
        Yandex Market, up to a second and more later)."""
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _kick_in(self, seconds: float) -> None:
        """Kick this dispatcher in ``seconds`` (when a line the channel held back may go: Ozon's pair is free), rather
        than at the first scheduled run after; one wake-up at a time, the soonest. On the loop's own time: a missed
        wake-up costs only the wait for the schedule."""
        if self._closed:  # a settle at shutdown starts nothing more
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = now + seconds
        earlier = self._wake_at
        if earlier is not None and not earlier.cancelled() and now < earlier.when() <= at:  # a sooner one is pending
            return
        if earlier is not None:
            earlier.cancel()
        self._wake_at = loop.call_at(at, self.kick)

    async def scheduled(self) -> None:
        """The scheduler's safety net (every second): drain what is due — a backlog left by a failure or a pause
        goes at the channel's pace, not a batch a second — sharing the kicked drain, so never two at once."""
        self.kick()
        if self._drain is not None:
            await asyncio.shield(self._drain)  # the job's end does not cut a drain short

    async def close(self) -> None:
        """At shutdown: stop a kicked drain (what it had claimed goes again after the lease), and any kick set for
        later; what the drain settles as it stops sets none."""
        self._closed = True
        if self._drain is not None and not self._drain.done():
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
        if self._wake_at is not None:
            self._wake_at.cancel()

    async def _drain_kicked(self) -> None:
        while self._kicked:
            self._kicked = False
            try:
                await self.drain()
            except Exception:  # the scheduled run retries; nothing is lost
                log.exception("%s sync to %s: a kicked run failed", self.what, self.name)
                return

    async def drain(self) -> int:
        """Send batch after batch until no line is due; returns how many the channel accepted.

        The database work runs beside the channel's, so the channel's limits set the pace, not the claim and
        settle in between (a full sync to Ozon lost a third of its 80 requests a minute to them):

        * lines are claimed :data:`CLAIM_LINES` at a time, in whole batches (finding the oldest due lines reads
          every due line of the channel, on SQLite with the one writer's lock held: once for ten Ozon batches,
          not before each), and the next ones while the last half of them goes (the first claim of a drain
          takes half as many, so that the first request goes sooner);
        * answered batches are settled in the background, in order, and whatever was answered while a settle
          ran is settled in one transaction; at most :data:`SETTLE_BACKLOG` batches wait to be settled.

        One push at a time still, and a line is in one batch at a time (its lease), so a newer value never
        overtakes an older one. A pause takes effect before the next push (what was claimed goes back at once);
        a failure stops the drain, and every line claimed and not sent waits with the failed batch.

        Claimed lines are held (their leases renewed) until they are settled or given back; whatever the drain
        leaves unsettled (cancelled, or failed unexpectedly) is let go and goes again when its lease runs out."""
        self._pause_seen = (-1, 0.0, False)  # a drain starts from the database's word
        self._healthy_at = None  # and its first settle clears whatever failures are recorded
        with self._held.scope(self.lease_kind) as held:
            try:
                return await self._drain_holding(held)
            finally:
                self._wake = None

    async def _paused(self) -> bool:
        """Whether the channel is paused: read from the database at a drain's start, whenever this process paused
        or resumed it, and otherwise at most every :data:`PAUSE_LOOK_S` — a read before every push cost a
        channel as fast as Wildberries a tenth of its time between requests."""
        mark, now = self._ops.pause_mark(self.name), asyncio.get_running_loop().time()
        seen_mark, seen_at, paused = self._pause_seen
        if mark != seen_mark or now - seen_at >= PAUSE_LOOK_S:
            paused = await self._ops.is_paused(self.name)
            self._pause_seen = (mark, now, paused)
        return paused

    async def _drain_holding(self, held: HeldScope) -> int:
        accepted, lanes = 0, self._lanes()
        batches = max(lanes, CLAIM_LINES // self._batch_limit(), 1)
        queue: deque[_Batch] = deque()
        ahead: asyncio.Task[list[_Batch]] | None = None
        urgent: asyncio.Task[list[_Batch]] | None = None  # a look for order-driven lines, beside the pushes
        sending: dict[asyncio.Task[PushOutcome | ChannelUnavailable | ChannelRefused], _Batch] = {}
        failed: list[tuple[_Batch, ChannelUnavailable | ChannelRefused]] = []
        paused, pushes = False, 0
        settler = _Settler(lambda answered: self._settle_batches(answered, held))
        try:
            self._look_urgent = False
            # half first, so that the first request goes sooner; the drain's first claim also lifts what an earlier
            # drain left leased (no other claim of this dispatcher runs yet, so none of its fresh leases is lifted)
            queue.extend(await self._claim(max(1, batches // 2), held, lift_left=True))
            while settler.error is None:
                ahead, queue = self._taken(ahead, queue)  # what it claimed an order changed goes first
                urgent, queue = self._taken(urgent, queue)  # in front of the lines claimed before
                if self._look_urgent and urgent is None and not (failed or paused):
                    # a commit woke us (an order?), or a line in flight moved on: look for order-driven lines while
                    # the pushes go on (a claim waits its turn on SQLite's writer: not before every push)
                    self._look_urgent = False
                    urgent = asyncio.create_task(self._claim(1, held, urgent_only=True, mine_too=True))
                if failed or paused:
                    if not sending:
                        break
                elif queue and len(sending) < lanes + self._jumps(queue[0]):  # a lane more for an order's lines
                    if urgent is not None and not sending:  # nothing on the wire to overlap: the order's line
                        await asyncio.wait({urgent})  # goes in this push rather than a request later
                        urgent, queue = self._taken(urgent, queue)
                    if pushes and await self._paused():  # before the next push
                        paused = True
                        continue
                    if await self._short_waits(queue, ahead):  # it goes with the lines claimed ahead
                        continue
                    batch = queue.popleft()
                    if ahead is None and self._runs_low(queue, batches):
                        ahead = asyncio.create_task(self._claim(batches, held))
                    await settler.below(SETTLE_BACKLOG)
                    sending[asyncio.create_task(self._send(batch))] = batch
                    pushes += 1
                    continue
                waiting = self._waiting_on(sending, None if queue else ahead, urgent, stopping=bool(failed or paused))
                if not waiting:
                    break
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                accepted += _answered(done, sending, settler, failed)
            following = [*(await ahead if ahead is not None else []), *(await urgent if urgent is not None else [])]
            await self._wind_up(held, settler, failed, [*queue, *following], release=paused or bool(following))
        except BaseException:
            for task in sending:  # cancelled, or failed unexpectedly: nothing more goes out
                task.cancel()
            raise
        finally:
            await _left_over(sending, (ahead, urgent), settler)
        if settler.error is not None:
            raise settler.error
        return accepted

    def _waiting_on(
        self, sending: Collection[asyncio.Future[Any]], ahead: asyncio.Task[list[_Batch]] | None,
        urgent: asyncio.Task[list[_Batch]] | None, *, stopping: bool,
    ) -> set[asyncio.Future[Any]]:  # fmt: skip
        """What the drain waits on for its next step: its pushes, and unless it is stopping its claims under way and a
        kick (an order's lines may be due); nothing when nothing is under way, and the drain is over."""
        waiting: set[asyncio.Future[Any]] = set(sending)
        if not stopping:
            waiting |= {task for task in (ahead, urgent) if task is not None}
            if waiting:
                waiting.add(self._wake_future())
        return waiting

    def _wake_future(self) -> asyncio.Future[None]:
        if self._wake is None or self._wake.done():
            self._wake = asyncio.get_running_loop().create_future()
        return self._wake

    async def _short_waits(self, queue: deque[_Batch], ahead: asyncio.Task[list[_Batch]] | None) -> bool:
        """Whether the next batch, the last in the queue and short of full (what a cut for an order's line left
        over), waited for the claim under way: its lines are cut again with the claim's, instead of taking a request
        of their own (on Wildberries, a fifth of a second of its limit)."""
        if ahead is None or len(queue) != 1 or not self._fills(queue[0]):
            return False
        await asyncio.wait({ahead})
        return True

    def _runs_low(self, queue: deque[_Batch], batches: int) -> bool:
        """Whether the queue holds fewer full batches than half a claim, so the next claim starts now. Only full ones
        count: a short batch at the queue's end (the lines an order's cut pushed out of the batch before) waits for
        that claim's lines, and with one batch a claim (Wildberries: 1 000 lines) it would otherwise go alone."""
        return sum(1 for batch in queue if len(batch.claimed) >= self._batch_limit()) < max(1, batches // 2)

    def _taken(
        self, claiming: asyncio.Task[list[_Batch]] | None, queue: deque[_Batch]
    ) -> tuple[asyncio.Task[list[_Batch]] | None, deque[_Batch]]:
        """A claim that came back: its lines in the queue (order-driven ones first), the claim no longer under way."""
        if claiming is None or not claiming.done():
            return claiming, queue
        claimed = claiming.result()
        again = frozenset().union(*(batch.again for batch in claimed))
        if again:
            claimed, queue = self._newer(claimed, queue, again)
        return None, self._ahead_first(claimed, queue)

    def _newer(
        self, claimed: list[_Batch], queue: deque[_Batch], again: frozenset[str]
    ) -> tuple[list[_Batch], deque[_Batch]]:
        """An order's values of lines the drain had claimed before: one still in the queue gives way to its newer value
        (the older was never sent); one sent already, or being settled, keeps its place, and its newer value goes once
        the older is answered (the settle finds it moved on)."""
        queued = {push.sku for batch in queue for push in batch.claimed}
        late = again - queued
        size = self._batch_limit()
        kept = [push for batch in claimed for push in batch.claimed if push.sku not in late]
        rest = [push for batch in queue for push in batch.claimed if push.sku not in again]
        return _rebatch(kept, claimed, size), deque(_rebatch(rest, queue, size))

    async def _wind_up(
        self, held: HeldScope, settler: _Settler, failed: list[tuple[_Batch, ChannelUnavailable | ChannelRefused]],
        unsent: list[_Batch], *, release: bool,
    ) -> None:  # fmt: skip
        """The drain stopped: after a failure what was claimed and not accepted waits its retry; paused, or with a
        claim that came in after the stop (``release``), what was claimed and not sent goes back at once."""
        if failed:
            await settler.close()  # earlier successes first: a settle resets the count of failures
            stuck = [push for each in [*(b for b, _ in failed), *unsent] for push in each.claimed]
            await self._failed(stuck, failed[0][1])
            held.drop(_keys(stuck))
        elif release:
            await self._release([push for each in unsent for push in each.claimed], held)

    def _lanes(self) -> int:
        return pushes_in_flight(self._client)

    def _ahead_first(self, claimed: Sequence[_Batch], queue: deque[_Batch]) -> deque[_Batch]:
        """``queue`` with the newly ``claimed`` batches: lines an order changed in front, the rest behind; cut again
        into full batches when some went in front, or when the queue ends in a batch short of full (what such a cut
        left over), so that they cost no extra request."""
        claimed_urgent = [push for batch in claimed for push in batch.claimed if push.priority == URGENT]
        if not claimed_urgent:
            if claimed and queue and self._fills(queue[-1]):  # fill it with the new lines (the others are full, or an
                last = queue.pop()  # order's push of its own on a channel that counts lines: left as they are)
                pushes = [*last.claimed, *(push for batch in claimed for push in batch.claimed)]
                queue.extend(_rebatch(pushes, [last, *claimed], self._batch_limit()))
                return queue
            queue.extend(claimed)
            return queue
        everything = [*claimed, *queue]
        queued = [push for batch in queue for push in batch.claimed]
        # the order's lines queued before (waiting for a lane) stay in front of the new ones, and of the rest
        urgent = [push for push in queued if push.priority == URGENT] + claimed_urgent
        rest = [push for push in queued if push.priority != URGENT]
        rest += [push for batch in claimed for push in batch.claimed if push.priority != URGENT]
        if charges_per_line(self._client):  # a push of their own costs the order's lines only
            return deque([*_rebatch(urgent, everything, self._batch_limit()),
                          *_rebatch(rest, everything, self._batch_limit())])  # fmt: skip
        return deque(_rebatch([*urgent, *rest], everything, self._batch_limit()))

    def _jumps(self, batch: _Batch) -> bool:
        """Whether ``batch`` goes ahead of the pushes already formed: it carries an order's line and costs the channel
        nothing more for it — on a channel that counts lines, always; on one that counts requests, when it is full
        (the order's lines ride with the backlog's). A short one there (the backlog's last lines are all on their way)
        waits its turn: going first, every order would take a request from the backlog, and orders as frequent as
        the channel's requests would hold its last pushes back for as long as they came."""
        return batch.urgent and (charges_per_line(self._client) or len(batch.claimed) >= self._batch_limit())

    def _fills(self, batch: _Batch) -> bool:
        """Whether ``batch`` is short of full and takes lines claimed after it: not an order's own push on a channel
        that counts lines (it would wait at the gate for the lines it took)."""
        return len(batch.claimed) < self._batch_limit() and not (batch.urgent and charges_per_line(self._client))

    async def _claim(
        self, batches: int, held: HeldScope, *, urgent_only: bool = False, mine_too: bool = False,
        lift_left: bool = False,
    ) -> list[_Batch]:  # fmt: skip
        """Lease the next due lines, order-driven ones first (``urgent_only``: only those), up to ``batches``
        batches of them; none when nothing is due, the channel is paused or its circuit is open. ``mine_too``: lines
        this drain holds too, with their newest values (marked in :attr:`_Batch.again`)."""
        if await self._paused():
            return []
        size = self._batch_limit()
        left = [key for key in self._held.left_behind(self.lease_kind) if key[0] == self.name] if lift_left else []
        lifted = 0
        async with self._uow() as uow:
            now = self._clock.now()
            if left:  # an earlier drain of ours ended unsettled (its database went away): its lines go now
                lifted = await uow.leases.release(self.lease_kind, left, self._owner, now)
            if (await uow.channel_states.get(self._state_key)).circuit_open(now):
                await uow.commit()
                self._held.lifted(self.lease_kind, left)
                return []
            claimed = await self._outbox(uow).claim(
                self.name, now, now + self._lease, self._owner, size * batches, urgent_only=urgent_only,
                mine_too=mine_too,
            )  # fmt: skip
            await uow.commit()
        if left:
            self._held.lifted(self.lease_kind, left)
            log.info("%s sync to %s: %d lines an unsettled drain left leased go again now", self.what, self.name,
                     lifted)  # fmt: skip
        if not claimed:
            return []
        again = (
            frozenset(push.sku for push in claimed if held.holds((self.name, push.sku))) if mine_too else frozenset()
        )
        held.hold([(self.name, push.sku) for push in claimed if push.sku not in again])
        async with self._uow(read_only=True) as uow:  # not under SQLite's one writer's lock
            offer_ids = await uow.offer_ids.for_skus(self.name, [p.sku for p in claimed])
        found: list[_Batch] = []
        for start in range(0, len(claimed), size):
            mine = claimed[start : start + size]
            skus = {p.sku for p in mine}
            found.append(_Batch(mine, self._lines(mine, offer_ids), skus - set(offer_ids), again & skus))
        return found

    # -- what differs between stock and prices -------------------------------------------------------------------
    def _outbox(self, uow: UnitOfWork) -> Outbox:
        return uow.outbox

    def _batch_limit(self) -> int:
        return self._client.batch_limit

    def _lines(self, claimed: Sequence[Push], offer_ids: dict[str, str]) -> list[StockLine] | list[PriceLine]:
        return [StockLine(p.sku, offer_ids[p.sku], p.qty) for p in claimed if p.sku in offer_ids]

    async def _push(self, lines: list[StockLine] | list[PriceLine]) -> PushOutcome:
        return await self._client.push_stock([line for line in lines if isinstance(line, StockLine)])

    # ------------------------------------------------------------------------------------------------------------

    async def _release(self, claimed: Sequence[Push], held: HeldScope) -> None:
        async with self._uow() as uow:
            await self._outbox(uow).postpone(claimed, self._clock.now(), None)
            await uow.commit()
        held.drop(_keys(claimed))

    async def _send(self, batch: _Batch) -> PushOutcome | ChannelUnavailable | ChannelRefused:
        """One push, in a task of its own: marked urgent when it carries an order's lines, so that the client's rate
        gate lets it go ahead of the pushes already waiting there."""
        if not batch.lines:
            return PushOutcome()
        try:
            if self._jumps(batch):
                with urgent_push():
                    return await self._push(batch.lines)
            return await self._push(batch.lines)
        except (ChannelUnavailable, ChannelRefused) as error:
            return error

    async def _settle_batches(self, answered: Sequence[tuple[_Batch, PushOutcome]], held: HeldScope) -> None:
        """Settle several answered batches (of distinct lines) in one transaction."""
        if len(answered) == 1:
            batch, outcome = answered[0]
            await self._settle(batch.claimed, outcome, batch.unmapped)
            held.drop(_keys(batch.claimed))
            return
        outcome = PushOutcome(
            accepted=tuple(sku for _, each in answered for sku in each.accepted),
            rejected={sku: why for _, each in answered for sku, why in each.rejected.items()},
            retry=tuple(sku for _, each in answered for sku in each.retry),
            retry_in={sku: wait for _, each in answered for sku, wait in each.retry_in.items()},
        )
        claimed = [push for batch, _ in answered for push in batch.claimed]
        await self._settle(claimed, outcome, {sku for batch, _ in answered for sku in batch.unmapped})
        held.drop(_keys(claimed))

    async def _settle(self, claimed: Sequence[Push], outcome: PushOutcome, unmapped: set[str]) -> None:
        by_sku = {p.sku: p for p in claimed}
        reasons = {**dict.fromkeys(unmapped, "no offer id for this channel"), **outcome.rejected}
        retry = set(outcome.retry)
        answered = set(outcome.accepted) | set(reasons) | retry
        async with self._uow() as uow:
            now = self._clock.now()
            outbox = self._outbox(uow)
            moved = await outbox.accepted([by_sku[s] for s in outcome.accepted if s in by_sku], now)
            rejected = [by_sku[s] for s in reasons if s in by_sku]
            dead = await outbox.rejected(rejected, reasons, now + timedelta(minutes=1), self._dead_after)
            kind = self._rejected_kind
            for push in dead:
                detail: dict[str, object] = {"channel": self.name, "sku": push.sku, "reason": reasons[push.sku]}
                await self._alerts.raise_alert(uow, f"{kind}:{self.name}", kind, detail)
            later = [p for p in claimed if p.sku in retry or p.sku not in answered]
            soonest = await _postpone_asked(outbox, later, outcome.retry_in, now)
            looked = asyncio.get_running_loop().time()
            clears = self._healthy_at is None or looked - self._healthy_at >= HEALTH_LOOK_S
            if clears:  # not at every settle: three statements each, a sixth of a full sync's settling
                await uow.channel_states.reset_failures(self._state_key)
                await self._alerts.resolve(uow, f"{self._failing_kind}:{self.name}")
            await uow.commit()
        if clears:
            self._healthy_at = looked
        if moved:  # a value that changed in flight (an order's?) may go ahead of the lines claimed since
            self._look_urgent = True
            self._wake_up()
        if soonest is not None:
            self._kick_in(soonest)
        if self._observer is not None:
            taken = [by_sku[s] for s in outcome.accepted if s in by_sku]
            self._observer.accepted(self.name, [(now - p.first_pending_at).total_seconds() for p in taken])
            if rejected:
                self._observer.rejected(self.name, len(rejected))

    async def _failed(self, claimed: Sequence[Push], error: ChannelUnavailable | ChannelRefused) -> None:
        self._healthy_at = None  # the next success clears the failures this records
        reason = error.reason
        hint = error.retry_after if isinstance(error, ChannelUnavailable) else None
        async with self._uow() as uow:
            now = self._clock.now()
            failures = await uow.channel_states.count_failure(self._state_key)
            backoff = min(self._max_backoff.total_seconds(), 2.0 ** min(failures, 12))
            wait = hint if hint is not None else backoff * (0.5 + self._rng.random() / 2)  # jitter
            await self._outbox(uow).postpone(claimed, now + timedelta(seconds=wait), reason)
            if failures >= self._failures_to_open:
                until = now + max(self._open_for, timedelta(seconds=wait))
                await uow.channel_states.open_circuit(self._state_key, until)
                detail: dict[str, object] = {"channel": self.name, "reason": reason, "failures": failures}
                kind = self._failing_kind
                await self._alerts.raise_alert(uow, f"{kind}:{self.name}", kind, detail)
            await uow.commit()
        if self._observer is not None:
            self._observer.failed(self.name)
        log.warning("%s sync to %s failed (%d in a row): %s", self.what, self.name, failures, reason)


class PriceDispatcher(SyncDispatcher):
    """Sends one channel's price outbox, on the very engine that sends its stock: leases, batches within the
    channel's price API limits, settling in the background, backoff, a circuit of its own (``<channel>:prices`` in
    the channel states: a price API that is down stops no stock), and the owner's alerts ``price_rejected`` and
    ``price_sync_failing``. A pause of the channel pauses its prices too. Values are kopecks in the outbox and
    roubles on the wire (:class:`~workflows.channels.PriceLine`)."""

    what = "price"
    lease_kind = LeaseKind.PRICE_PUSH

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, client: ChannelClient, alerts: AlertDesk,
                 operations: Operations, *, owner: str, **options: Any) -> None:  # fmt: skip
        if not isinstance(client, SetsPrices):
            raise TypeError(f"{client.name}'s client cannot set prices")
        super().__init__(uow, clock, client, alerts, operations, owner=owner, **options)
        self._prices: SetsPrices = client
        self._state_key = f"{self.name}:prices"
        self._rejected_kind, self._failing_kind = "price_rejected", "price_sync_failing"

    def _outbox(self, uow: UnitOfWork) -> Outbox:
        return uow.price_outbox

    def _batch_limit(self) -> int:
        return self._prices.price_batch_limit

    def _lanes(self) -> int:
        return 1  # a channel's price API has limits of its own, a request at a time keeps within them

    def _lines(self, claimed: Sequence[Push], offer_ids: dict[str, str]) -> list[StockLine] | list[PriceLine]:
        return [PriceLine(p.sku, offer_ids[p.sku], from_minor(p.qty)) for p in claimed if p.sku in offer_ids]

    async def _push(self, lines: list[StockLine] | list[PriceLine]) -> PushOutcome:
        return await self._prices.push_prices([line for line in lines if isinstance(line, PriceLine)])


ASKED_WAIT_S = 30.0  # a line the channel asked to send again later waits this long, unless its client knows better


async def _postpone_asked(
    outbox: Outbox, later: Sequence[Push], retry_in: dict[str, float], now: datetime
) -> float | None:
    """Postpone the lines the channel did not take: each by the client's word of when it may go (``retry_in``), else
    :data:`ASKED_WAIT_S`; the soonest such wait, if any is shorter."""
    by_wait: dict[float, list[Push]] = {}
    for push in later:
        by_wait.setdefault(math.ceil(retry_in.get(push.sku, ASKED_WAIT_S) * 10) / 10, []).append(push)  # not sooner
    for wait, pushes in sorted(by_wait.items()):
        await outbox.postpone(pushes, now + timedelta(seconds=max(0.0, wait)), "the channel asked to wait")
    shorter = [wait for wait in by_wait if wait < ASKED_WAIT_S]
    return max(0.0, min(shorter)) if shorter else None


def _answered(
    done: set[asyncio.Future[Any]],
    sending: dict[asyncio.Task[PushOutcome | ChannelUnavailable | ChannelRefused], _Batch],
    settler: _Settler,
    failed: list[tuple[_Batch, ChannelUnavailable | ChannelRefused]],
) -> int:
    """The pushes that came back: an accepted one to be settled, a failed one noted; how many lines were accepted."""
    accepted = 0
    for task in [task for task in sending if task in done]:
        batch, answer = sending.pop(task), task.result()
        if isinstance(answer, PushOutcome):
            settler.add(batch, answer)
            accepted += len(answer.accepted)
        else:
            failed.append((batch, answer))
    return accepted


async def _left_over(
    sending: dict[asyncio.Task[PushOutcome | ChannelUnavailable | ChannelRefused], _Batch],
    claims: tuple[asyncio.Task[list[_Batch]] | None, ...],
    settler: _Settler,
) -> None:
    """However the drain ended: no push of a line left on the wire, a claim still under way cancelled (what it
    claimed is left behind), and what the channel took settled all the same (short transactions)."""
    if sending:
        await asyncio.gather(*sending, return_exceptions=True)
    for claiming in claims:
        if claiming is not None and not claiming.done():
            claiming.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await claiming
    await settler.close()
