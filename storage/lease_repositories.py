"""The SQL instances and leases (``workflows.ports.Instances``, ``Leases``; ``workflows/leases.py``).

Every leased table says here how one of its rows is named (its primary key), which column holds the lease, and when
a row's lease still means work under way: an outbox line, a deadline, a notice and a shipment are leased by
``leased_until`` (lifted to null when given back, the row's work over once it is fired, delivered or deleted); an
order action by its ``next_attempt_at``, while it is pending and its ``lease_owner`` is set (a save clears it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _CHUNK, _upsert, batched
from workflows.ports import InstanceRecord, LeaseKey, LeaseKind


@dataclass(frozen=True)
class _Leased:
    """How one kind of leased row is stored."""

    table: Table
    keys: tuple[str, ...]  # the primary key's columns, in the order of a LeaseKey
    lease: str  # the column holding the lease's end
    released: Any  # what a lifted lease is set to: null, or (an order action) due now
    varying: str = ""  # the key column listed in a renewal's IN (the others are equal within one statement)

    def live(self) -> ColumnElement[bool]:
        """The rows whose lease still stands for work under way."""
        c = self.table.c
        if self.table is t.order_actions:
            return and_(c.state == "pending", c.lease_owner.is_not(None))
        alive = c[self.lease].is_not(None)
        if self.table is t.task_deadlines:
            return and_(alive, c.fired_at.is_(None))
        if self.table is t.notices:
            return and_(alive, c.delivered_at.is_(None))
        return alive


_NOW = object()  # a lifted order action is due at the release's time

LEASED = {
    LeaseKind.STOCK_PUSH: _Leased(t.stock_pushes, ("channel", "sku"), "leased_until", None),
    LeaseKind.PRICE_PUSH: _Leased(t.price_pushes, ("channel", "sku"), "leased_until", None),
    LeaseKind.DEADLINE: _Leased(t.task_deadlines, ("id",), "leased_until", None),
    LeaseKind.NOTICE: _Leased(t.notices, ("id",), "leased_until", None),
    LeaseKind.SHIPMENT: _Leased(t.shipments, ("order_id",), "leased_until", None),
    LeaseKind.ORDER_ACTION: _Leased(t.order_actions, ("order_id", "action"), "next_attempt_at", _NOW, "order_id"),
    LeaseKind.PAYMENT_WATCH: _Leased(t.payment_watches, ("payment_id",), "leased_until", None),
    LeaseKind.GATEWAY_PAYMENT: _Leased(t.gateway_payments, ("payment_id",), "leased_until", None),
}


class SqlLeases:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def renew(self, kind: LeaseKind, keys: Collection[LeaseKey], owner: str, until: datetime) -> int:
        leased = LEASED[kind]
        c = leased.table.c
        varying = leased.varying or leased.keys[-1]
        fixed = [name for name in leased.keys if name != varying]
        groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)  # rows equal in every key column but one
        for key in keys:
            named = dict(zip(leased.keys, key, strict=True))
            groups[tuple(named[name] for name in fixed)].append(named[varying])
        renewed = 0
        row = tuple_(*(c[name] for name in leased.keys))
        for head, values in sorted(groups.items(), key=lambda item: str(item[0])):
            for chunk in batched(sorted(values, key=str), _CHUNK):
                where = [c.lease_owner == owner, leased.live(), c[varying].in_(chunk)]
                where += [c[name] == value for name, value in zip(fixed, head, strict=True)]
                # A row another transaction holds locked right now (this process settling it, its drain re-leasing
                # it) is skipped, not waited for: waiting, the renewal locked rows in the table's order while the
                # other locked them in its own, and PostgreSQL broke the deadlock by failing the renewal (seen
                # under the fault suite's burst). A skipped row is renewed at the next beat, two more before its
                # lease runs out. SQLite has one writer and no row locks: the clause is left out there.
                free = select(*(c[name] for name in leased.keys)).where(*where).with_for_update(skip_locked=True)
                result = await self._c.execute(update(leased.table).where(row.in_(free)).values({leased.lease: until}))
                renewed += result.rowcount
        return renewed

    async def release(self, kind: LeaseKind, keys: Collection[LeaseKey], owner: str, now: datetime) -> int:
        leased = LEASED[kind]
        c = leased.table.c
        lifted: dict[str, Any] = {leased.lease: now if leased.released is _NOW else None}
        if leased.table is t.order_actions:
            lifted["lease_owner"] = None
        row = tuple_(*(c[name] for name in leased.keys))
        released = 0
        for chunk in batched(sorted(set(keys), key=str), _CHUNK):
            where = [c.lease_owner == owner, leased.live(), row.in_([tuple(key) for key in chunk])]
            result = await self._c.execute(update(leased.table).where(*where).values(lifted))
            released += result.rowcount
        return released

    async def release_instance(self, instance: str, keep: str | None, now: datetime) -> int:
        released = 0
        for leased in LEASED.values():
            c = leased.table.c
            where = [c.lease_owner.startswith(f"{instance}/", autoescape=True), leased.live()]
            if keep is not None:
                where.append(c.lease_owner != keep)
            lifted: dict[str, Any] = {leased.lease: now if leased.released is _NOW else None}
            if leased.table is t.order_actions:
                lifted["lease_owner"] = None
            result = await self._c.execute(update(leased.table).where(*where).values(lifted))
            released += result.rowcount
        return released


class SqlInstances:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def get(self, instance: str) -> InstanceRecord | None:
        row = (await self._c.execute(select(t.instances).where(t.instances.c.instance == instance))).one_or_none()
        if row is None:
            return None
        return InstanceRecord(row.instance, row.incarnation, row.host, row.pid, row.started_at, row.heartbeat_at)

    async def take(self, record: InstanceRecord, replacing: str | None) -> bool:
        values = {
            "incarnation": record.incarnation, "host": record.host, "pid": record.pid,
            "started_at": record.started_at, "heartbeat_at": record.heartbeat_at,
        }  # fmt: skip
        if replacing is None:
            statement = _upsert(self._c, t.instances).values(instance=record.instance, **values)
            return bool((await self._c.execute(statement.on_conflict_do_nothing(index_elements=["instance"]))).rowcount)
        c = t.instances.c
        query = update(t.instances).where(c.instance == record.instance, c.incarnation == replacing).values(values)
        return bool((await self._c.execute(query)).rowcount)

    async def beat(self, instance: str, incarnation: str, at: datetime) -> bool:
        c = t.instances.c
        query = update(t.instances).where(c.instance == instance, c.incarnation == incarnation)
        return bool((await self._c.execute(query.values(heartbeat_at=at))).rowcount)

    async def leave(self, instance: str, incarnation: str) -> None:
        c = t.instances.c
        query = update(t.instances).where(c.instance == instance, c.incarnation == incarnation)
        await self._c.execute(query.values(heartbeat_at=None))
