"""Leases: a row claimed for work — an outbox line on its way to a channel, a deadline being fired, a notice being
sent, a shipment being registered, a marketplace action being sent — stays with the process doing the work while
it works, and goes to another process soon after that one is gone.

* **Short, and renewed while the work runs.** A claim leases its rows for :data:`LEASE` (15 s). Whoever claimed
  them holds their keys in :class:`HeldLeases` while the work is under way, and :meth:`LeaseKeeper.renew` (every
  :data:`RENEW_EVERY`, 5 s) moves exactly those leases on. A process that dies stops renewing: another instance
  claims its rows at most :data:`LEASE` after its last renewal. A row claimed and then given up without being
  settled (a drain that failed unexpectedly, a deadline whose handler raised) is no longer held, so its lease runs
  out as before and the row is tried again.
* **Owners are instance and incarnation.** Every lease names its owner ``<instance>/<incarnation>``: the instance is
  a name that stays the same across restarts (``INSTANCE_ID``), the incarnation a fresh one for each process. At
  start-up (:meth:`LeaseKeeper.begin`) the instance takes its row in ``instances`` and lifts every lease an earlier
  incarnation of itself held: a restarted instance takes its own dead leases back at once, without waiting for
  them to run out. Leases of other instances are never touched: they run out.
* **One process per instance.** Two live processes with one instance id would lift each other's leases, so
  ``begin`` refuses (:class:`SameInstanceRunning`) while another incarnation of the id is alive: its heartbeat is
  fresh and either its process is known to run, or the heartbeat moves on while we watch (up to a lease).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from workflows.ports import Clock, InstanceRecord, LeaseKey, LeaseKind, UnitOfWorkFactory

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=15)  # how long a claim holds its rows without a renewal
RENEW_EVERY = timedelta(seconds=5)  # how often the held leases are renewed (three chances before they run out)
WATCH_STEP_S = 1.0  # how often start-up looks again at the heartbeat of an incarnation it cannot tell is alive

__all__ = ["LEASE", "RENEW_EVERY", "HeldLeases", "Incarnation", "LeaseKeeper", "LeaseKey", "LeaseKind"]


@dataclass(frozen=True)
class Incarnation:
    """This process as the instance it runs: the stable instance id, this process's incarnation, and where it
    runs (for the refusal's message and the liveness check)."""

    instance: str
    incarnation: str
    host: str = ""
    pid: int = 0

    @property
    def owner(self) -> str:
        """The name on every lease this process takes."""
        return f"{self.instance}/{self.incarnation}"


class SameInstanceRunning(Exception):
    """Another live process runs as this instance: two would lift each other's leases."""

    def __init__(self, record: InstanceRecord, age_s: float | None) -> None:
        seen = "" if age_s is None else f", its heartbeat {age_s:.0f} s ago"
        super().__init__(
            f"instance {record.instance!r} is running already (host {record.host}, pid {record.pid}{seen})"
        )
        self.record = record


class HeldLeases:
    """The leases this process holds while their work runs, by kind: what :meth:`LeaseKeeper.renew` renews. A key
    held twice (two claims of one row in flight) is renewed until both let it go."""

    def __init__(self) -> None:
        self._held: dict[LeaseKind, Counter[LeaseKey]] = {}
        self._left: dict[LeaseKind, set[LeaseKey]] = {}  # leases of work that ended unsettled: to be lifted

    def left_behind(self, kind: LeaseKind) -> set[LeaseKey]:
        """Keys whose work ended without settling them (a drain whose database went away under it) and that no
        work holds now: their leases are still this process's, to lift at the next chance instead of waiting them
        out."""
        held = self._held.get(kind, Counter())
        return {key for key in self._left.get(kind, ()) if held[key] <= 0}

    def lifted(self, kind: LeaseKind, keys: Collection[LeaseKey]) -> None:
        """Those left-behind leases were lifted (or their rows claimed again): forget them."""
        self._left.get(kind, set()).difference_update(keys)

    def leave_behind(self, kind: LeaseKind, keys: Collection[LeaseKey]) -> None:
        self._left.setdefault(kind, set()).update(keys)

    def hold(self, kind: LeaseKind, keys: Collection[LeaseKey]) -> None:
        self._held.setdefault(kind, Counter()).update(keys)
        self.lifted(kind, keys)  # claimed again: no longer left behind

    def drop(self, kind: LeaseKind, keys: Collection[LeaseKey]) -> None:
        counts = self._held.get(kind)
        if counts is None:
            return
        _let_go(counts, keys)

    @contextmanager
    def holding(self, kind: LeaseKind, keys: Collection[LeaseKey]) -> Iterator[None]:
        """Hold ``keys`` for the block."""
        self.hold(kind, keys)
        try:
            yield
        finally:
            self.drop(kind, keys)

    def scope(self, kind: LeaseKind) -> HeldScope:
        """Hold and drop keys as work goes; :meth:`HeldScope.close` drops whatever the scope still holds."""
        return HeldScope(self, kind)

    def snapshot(self) -> dict[LeaseKind, list[LeaseKey]]:
        return {kind: list(counts) for kind, counts in self._held.items() if counts}


class HeldScope:
    """Keys of one kind held by one piece of work (a drain); ``with`` it, all are dropped when the work ends
    however it ends."""

    def __init__(self, held: HeldLeases, kind: LeaseKind) -> None:
        self._held, self._kind, self._mine = held, kind, Counter[LeaseKey]()

    def __enter__(self) -> HeldScope:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def hold(self, keys: Collection[LeaseKey]) -> None:
        self._mine.update(keys)
        self._held.hold(self._kind, keys)

    def drop(self, keys: Collection[LeaseKey]) -> None:
        self._held.drop(self._kind, _let_go(self._mine, keys))

    def holds(self, key: LeaseKey) -> bool:
        return self._mine.get(key, 0) > 0

    def close(self) -> None:
        """The work ended: whatever it still holds was neither settled nor given back (it failed, or was
        cancelled), so those leases are left behind for :meth:`HeldLeases.left_behind`."""
        left = [key for key, count in self._mine.items() if count > 0]
        self._held.drop(self._kind, list(self._mine.elements()))
        self._held.leave_behind(self._kind, left)
        self._mine.clear()


def _let_go(counts: Counter[LeaseKey], keys: Collection[LeaseKey]) -> list[LeaseKey]:
    """Count each of ``keys`` held once less (a key no longer held leaves ``counts``); the keys that were held. A
    drain lets go of every line it settles: one dictionary step per key here, not a Counter's method in Python."""
    let_go: list[LeaseKey] = []
    get, pop = counts.get, counts.pop
    for key in keys:
        held = get(key, 0)
        if held > 1:
            counts[key] = held - 1
        elif held == 1:
            pop(key)
        else:
            continue
        let_go.append(key)
    return let_go


# What start-up knows of another incarnation's process: True it runs, False it does not, None cannot tell.
Liveness = Callable[[InstanceRecord], bool | None]


class LeaseKeeper:
    """This process's side of the leases: start-up (:meth:`begin`), the heartbeat with the renewal
    (:meth:`renew`, the scheduler's job) and a clean stop (:meth:`end`)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, me: Incarnation, held: HeldLeases, *, lease: timedelta = LEASE
    ) -> None:
        self._uow, self._clock, self._me, self._held, self._lease = uow, clock, me, held, lease
        self.begun = False
        self.superseded = False  # another process took this instance id over: this one renews nothing any more

    @property
    def me(self) -> Incarnation:
        return self._me

    async def begin(self, alive: Liveness, pause: Callable[[float], Awaitable[None]]) -> int:
        """Become the instance's incarnation and take back the leases its earlier incarnations held; how many.
        Raises :class:`SameInstanceRunning` while another incarnation is alive (``alive`` tells what the host
        knows of its process; ``pause`` waits between looks at its heartbeat when that cannot tell)."""
        instance = self._me.instance
        async with self._uow(read_only=True) as uow:
            found = await uow.instances.get(instance)
        if found is not None and found.incarnation != self._me.incarnation:
            await self._until_gone(found, alive, pause)
        now = self._clock.now()
        mine = InstanceRecord(instance, self._me.incarnation, self._me.host, self._me.pid, now, now)
        async with self._uow() as uow:
            if not await uow.instances.take(mine, None if found is None else found.incarnation):
                raced = await uow.instances.get(instance)  # another process started as this instance just now
                raise SameInstanceRunning(raced or mine, None)
            released = await uow.leases.release_instance(instance, self._me.owner, now)
            await uow.commit()
        self.begun = True
        if released:
            log.info("instance %s took back %d leases of its earlier run at once", instance, released)
        return released

    async def _until_gone(
        self, other: InstanceRecord, alive: Liveness, pause: Callable[[float], Awaitable[None]]
    ) -> None:
        """Return once ``other`` is known not to run; raise while it does."""
        if other.heartbeat_at is None or self._fresh(other.heartbeat_at) is False:
            return  # stopped cleanly, or silent for longer than a lease
        verdict = alive(other)
        if verdict is True:
            raise SameInstanceRunning(other, self._age(other.heartbeat_at))
        if verdict is False:
            return
        last = other.heartbeat_at
        while self._fresh(last):
            await pause(WATCH_STEP_S)
            async with self._uow(read_only=True) as uow:
                now_seen = await uow.instances.get(other.instance)
            if now_seen is None or (now_seen.incarnation == other.incarnation and now_seen.heartbeat_at is None):
                return  # it stopped cleanly meanwhile
            if now_seen.incarnation != other.incarnation or now_seen.heartbeat_at != last:
                raise SameInstanceRunning(now_seen, self._age(now_seen.heartbeat_at))

    def _fresh(self, heartbeat_at: datetime) -> bool:
        return self._clock.now() - heartbeat_at <= self._lease

    def _age(self, heartbeat_at: datetime | None) -> float | None:
        return None if heartbeat_at is None else (self._clock.now() - heartbeat_at).total_seconds()

    async def renew(self) -> int:
        """The heartbeat, and every held lease moved to a full lease from now, in one transaction; how many leases
        were renewed. Once another process took this instance over, nothing is renewed and an error is logged."""
        if self.superseded:
            return 0
        held = self._held.snapshot()
        renewed = 0
        async with self._uow() as uow:
            now = self._clock.now()
            if self.begun and not await uow.instances.beat(self._me.instance, self._me.incarnation, now):
                self.superseded = True
                log.error(
                    "another process started as instance %s and took its leases; this process (%s) renews none any "
                    "more: stop it, and give every instance sharing the database its own INSTANCE_ID",
                    self._me.instance, self._me.owner,
                )  # fmt: skip
                return 0
            for kind, keys in held.items():
                renewed += await uow.leases.renew(kind, keys, self._me.owner, now + self._lease)
            await uow.commit()
        return renewed

    async def end(self) -> None:
        """A clean stop, once this process's work has stopped: its heartbeat cleared and its leases lifted, so the
        next start (or another instance) takes its rows at once."""
        if not self.begun or self.superseded:
            return
        async with self._uow() as uow:
            await uow.instances.leave(self._me.instance, self._me.incarnation)
            await uow.leases.release_instance(self._me.instance, None, self._clock.now())
            await uow.commit()
        self.begun = False
