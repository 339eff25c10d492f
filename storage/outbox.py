"""The SQL sync outbox (``workflows.ports.Outbox``): one row per channel and SKU holding the
newest value to send, leased by the channel's dispatcher like deadlines and notices.

Two outboxes share this code: stock (``stock_pushes``, the quantity; what was accepted in ``channel_stock``) and
prices (``price_pushes``, the price in kopecks; ``channel_prices``). :data:`STOCK` and :data:`PRICES` name their
tables and value column; the price outbox also holds lines for a manager's decision (state ``held``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    SmallInteger,
    String,
    Table,
    and_,
    bindparam,
    case,
    column,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.bulk import execute_many, execute_once
from storage.repositories import _CHUNK, _among, batched
from storage.sqlite_times import utc_moments
from workflows.ports import BULK, URGENT, ChannelRule, Push

PENDING, HELD, DEAD = "pending", "held", "dead"


@dataclass(frozen=True)
class Lane:
    """Which outbox: its lines, what the channels accepted, and the name of the value column in both."""

    lines: Table
    shown: Table
    value: str

    def value_of(self, table: Table) -> Column[Any]:
        return table.c[self.value]


STOCK = Lane(t.stock_pushes, t.channel_stock, "qty")
PRICES = Lane(t.price_pushes, t.channel_prices, "price_minor")


class SqlOutbox:
    def __init__(self, connection: AsyncConnection, lane: Lane = STOCK) -> None:
        self._c, self._lane = connection, lane

    async def known(self, channel: str, skus: Collection[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        lane = self._lane
        p, s = lane.lines.c, lane.shown.c
        shown_value, line_value = lane.value_of(lane.shown), lane.value_of(lane.lines)
        for chunk in batched(sorted(set(skus)), _CHUNK):
            shown = select(s.sku, shown_value.label("v")).where(s.channel == channel, _among(self._c, s.sku, chunk))
            found.update({row.sku: row.v for row in await self._c.execute(shown)})
            waiting = select(p.sku, line_value.label("v")).where(
                p.channel == channel, _among(self._c, p.sku, chunk), p.state.in_((PENDING, HELD))
            )
            found.update({row.sku: row.v for row in await self._c.execute(waiting)})  # pending (or held) wins
        return found

    async def enqueue(self, channel: str, changes: Mapping[str, int], at: datetime) -> None:
        # one statement compiled once, executed for every line (not a VALUES list to compile per chunk)
        same = {"channel": channel, "version": 1, "first_pending_at": at, "attempts": 0, "next_attempt_at": at,
                "state": PENDING, "priority": BULK}  # fmt: skip
        statement = _enqueue(self._c.dialect.name, self._lane)
        await execute_many(self._c, statement, ("sku", self._lane.value), sorted(changes.items()), same)

    async def enqueue_changed(
        self, values: Mapping[str, Mapping[str, int]], at: datetime, urgent: Collection[str] = frozenset()
    ) -> None:
        # one statement for every channel and SKU, deciding in the database: reading back what each channel will
        # show cost more than writing the lines (a 1C snapshot touches every SKU of every channel)
        rows = sorted(
            (channel, sku, value, URGENT if sku in urgent else BULK)
            for channel, of in values.items()
            for sku, value in of.items()
        )
        statement = _enqueue_changed(self._c.dialect.name, self._lane)
        await execute_many(self._c, statement, ("q_channel", "q_sku", "q_value", "q_priority"), rows, {"q_at": at})

    async def enqueue_availability(
        self,
        skus: Collection[str],
        channels: Mapping[str, ChannelRule],
        at: datetime,
        urgent: Collection[str] = frozenset(),
    ) -> None:
        # the channels' values worked out and queued by the database in one statement, from the stock rows as this
        # transaction sees them: nothing read back, no row turned into Python objects (a 1C message touches 1 000
        # SKUs in every channel, and reading their rows back and working the values out cost more than the upsert)
        if not skus or not channels:
            return
        names = sorted(channels)
        given: dict[str, object] = {"q_at": at}
        for i, name in enumerate(names):
            codes, safety = sorted(set(channels[name][0])), channels[name][1]
            given |= {f"q_code_{i}_{j}": code for j, code in enumerate(codes)}
            given |= {f"q_name_{i}": name, f"q_safety_{i}": safety}
        statement = _enqueue_availability(self._c.dialect.name, tuple(len(set(channels[n][0])) for n in names))
        if self._c.dialect.name == "postgresql":
            given |= {"q_skus": sorted(set(skus)), "q_urgent": sorted(set(urgent))}
            await self._c.execute(statement, given)
        else:  # SQLite: some fifty parameters, bound as the driver takes them
            given |= {"q_skus": _json(sorted(set(skus))), "q_urgent": _json(sorted(set(urgent)))}
            await execute_once(self._c, statement, given)

    async def claim(
        self, channel: str, now: datetime, lease_until: datetime, owner: str, limit: int, *, urgent_only: bool = False,
        mine_too: bool = False,
    ) -> list[Push]:  # fmt: skip
        given = {"c_channel": channel, "c_now": now, "c_until": lease_until, "c_owner": owner, "c_limit": limit}
        dialect = self._c.dialect.name
        rows = (await self._c.execute(_claim(dialect, self._lane, urgent_only, mine_too), given)).tuples().all()
        if dialect == "sqlite":  # first_pending_at as SQLite holds it (UTC text): parsed once per distinct time
            rows = _sqlite_times(rows)
        # (RETURNING keeps no order)
        return [Push(*row) for row in sorted(rows, key=lambda row: (row[6], row[5], row[1]))]

    async def accepted(self, pushes: Sequence[Push], at: datetime) -> int:
        if not pushes:
            return 0
        if self._c.dialect.name == "sqlite":
            return await self._accepted_sqlite(pushes, at)
        # PostgreSQL: each statement takes the batch as arrays and runs once (executed once per line, a settle of
        # 1 000 lines took 80–350 ms), walking them in key order, the order enqueue locks rows in
        moved = 0
        statements = _pg_settle(self._lane)
        for channel in sorted({x.channel for x in pushes}):
            mine = sorted((x for x in pushes if x.channel == channel), key=lambda x: x.sku)
            given = {"r_channel": channel, "r_skus": [x.sku for x in mine], "r_versions": [x.version for x in mine],
                     "r_values": [x.qty for x in mine], "r_at": at}  # fmt: skip
            await self._c.execute(statements.retire, given)
            # what is left of them moved on while in flight: free to go at once, not when its lease runs out
            moved += int((await self._c.execute(statements.release, given)).rowcount)
            await self._c.execute(statements.shown, given)
        return moved

    async def _accepted_sqlite(self, pushes: Sequence[Push], at: datetime) -> int:
        """SQLite: each statement takes the whole batch as one JSON parameter and runs in one step of SQLite's, all
        in C: an executemany steps once per line, and each step gives the GIL back and waits to take it again
        behind the event loop's thread (a settle of 1 000 lines took 10–20 ms instead of 2)."""
        moved = 0
        for channel in sorted({x.channel for x in pushes}):
            mine = [x for x in pushes if x.channel == channel]
            lines = json.dumps([[x.sku, x.version, x.qty] for x in mine], ensure_ascii=False, separators=(",", ":"))
            given = {"r_channel": channel, "r_lines": lines, "r_at": at}
            statements = _sqlite_settle(self._lane)
            retired = int((await self._c.execute(statements.retire, given)).rowcount)
            if retired < len(mine):  # the rest moved on while in flight: free to go at once
                moved += int((await self._c.execute(statements.release, given)).rowcount)
            await self._c.execute(statements.shown, given)
        return moved

    async def rejected(
        self, pushes: Sequence[Push], reasons: Mapping[str, str], retry_at: datetime, dead_after: int
    ) -> list[Push]:
        lines = self._lane.lines
        p = lines.c
        dead: list[Push] = []
        for push in pushes:
            attempts = push.attempts + 1
            state = DEAD if attempts >= dead_after else PENDING
            values = {"attempts": attempts, "state": state, "next_attempt_at": retry_at,
                      "last_error": reasons.get(push.sku, "rejected"), "leased_until": None}  # fmt: skip
            changed = await self._c.execute(
                update(lines)
                .where(p.channel == push.channel, p.sku == push.sku, p.version == push.version)
                .values(**values)
            )
            if changed.rowcount == 1 and state == DEAD:
                dead.append(push)
        newer = [{"r_channel": x.channel, "r_sku": x.sku, "r_version": x.version} for x in pushes]
        if newer:  # the refused value is stale: its successor may go now
            await self._c.execute(_release_newer(self._lane), newer)
        return dead

    async def postpone(self, pushes: Sequence[Push], retry_at: datetime, error: str | None) -> None:
        lines = self._lane.lines
        p = lines.c
        for channel in sorted({x.channel for x in pushes}):
            for chunk in batched(sorted(x.sku for x in pushes if x.channel == channel), _CHUNK):
                await self._c.execute(
                    update(lines)
                    .where(p.channel == channel, _among(self._c, p.sku, chunk))
                    .values(next_attempt_at=retry_at, last_error=error, leased_until=None)
                )

    async def depth(self) -> dict[str, tuple[int, datetime | None]]:
        p = self._lane.lines.c
        query = select(p.channel, func.count(), func.min(p.first_pending_at)).where(p.state == PENDING)
        return {row[0]: (int(row[1]), row[2]) for row in await self._c.execute(query.group_by(p.channel))}


@functools.cache
def _claim(dialect: str, lane: Lane, urgent_only: bool, mine_too: bool = False) -> Any:
    """Lease a channel's next due lines and read them back, in one statement (built once per dialect, outbox and
    kind of claim: a claim runs several times a second in a drain, and building it anew each time cost more than
    SQLite's work for it). Parameters: ``c_channel``, ``c_now``, ``c_until``, ``c_owner``, ``c_limit``."""
    lines = lane.lines
    p = lines.c
    channel, now = bindparam("c_channel", type_=String), bindparam("c_now", type_=t.UtcDateTime())
    free = [p.leased_until.is_(None), p.leased_until < now]
    if mine_too:
        free.append(p.lease_owner == bindparam("c_owner", type_=String))
    # in the order of the outbox's index (channel, state, priority, first_pending_at, sku): the claim walks it
    # to its limit, past the lines not due or leased, instead of sorting every due line of the channel
    due = (
        select(p.sku)
        .where(p.channel == channel, p.state == PENDING, p.next_attempt_at <= now)
        .where(or_(*free))
        .order_by(p.priority, p.first_pending_at, p.sku)
        .limit(bindparam("c_limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    if urgent_only:
        due = due.where(p.priority == URGENT)
    # One statement leases the lines and reads them back (not: select the skus, then update and select
    # them again by a list of up to 2 000 skus, which SQLAlchemy renders afresh every time). PostgreSQL gets
    # the choice as a MATERIALIZED CTE, made once: as a plain subquery it may run it again for each row, and
    # SKIP LOCKED then skips the rows this very statement has just leased, so it leased them all. SQLite
    # runs a subquery once (and a materialized CTE there loses its top-N sort: 24 ms instead of 16).
    if dialect == "postgresql":
        due = select(due.cte("due").prefix_with("MATERIALIZED").c.sku)
    since = p.first_pending_at if dialect == "postgresql" else type_coerce(p.first_pending_at, String)
    return (
        update(lines)
        .where(p.channel == channel, p.sku.in_(due))
        .values(leased_until=bindparam("c_until", type_=t.UtcDateTime()), lease_owner=bindparam("c_owner"))
        .returning(p.channel, p.sku, lane.value_of(lines).label("qty"), p.version, p.attempts, since, p.priority)
    )  # fmt: skip


def _sqlite_times(rows: Sequence[Any]) -> list[Any]:
    """Claimed rows with their ``first_pending_at`` (column 5) read from SQLite's UTC text, each distinct time parsed
    once (a 1C import's lines share theirs), instead of a type's processing per row."""
    moment = utc_moments()

    return [(*row[:5], moment(row[5]), row[6]) for row in rows]


@functools.cache
def _enqueue(dialect: str, lane: Lane) -> Any:
    """Insert a line or set its newest value (built once per dialect and outbox)."""
    return _on_conflict((postgresql if dialect == "postgresql" else sqlite).insert(lane.lines), lane)


def _on_conflict(statement: Any, lane: Lane) -> Any:
    """An insert of a line that, where the line exists, sets its newest value."""
    p = lane.lines.c
    new = statement.excluded
    held: dict[str, Any] = {"batch_id": None} if "batch_id" in p else {}  # a newer value leaves a held batch
    return statement.on_conflict_do_update(
        index_elements=["channel", "sku"],
        set_={
            lane.value: new[lane.value],
            "version": p.version + 1,
            # a line still waiting keeps its age (propagation latency counts from there) and its
            # time (a busy SKU must not hammer a channel that is down); a dead one starts afresh
            "first_pending_at": case(
                (p.state == PENDING, p.first_pending_at), else_=statement.excluded.first_pending_at
            ),
            "next_attempt_at": case((p.state == PENDING, p.next_attempt_at), else_=statement.excluded.next_attempt_at),
            "attempts": 0,
            "state": PENDING,
            "last_error": None,
            # a line still waiting keeps the more urgent priority of its values until it is sent
            "priority": case(
                (and_(p.state == PENDING, p.priority < statement.excluded.priority), p.priority),
                else_=statement.excluded.priority,
            ),
            **held,
        },
    )


@functools.cache
def _enqueue_changed(dialect: str, lane: Lane) -> Any:
    """:func:`_enqueue` a value unless the channel will show it anyway — :meth:`SqlOutbox.known`'s rule: the value of
    the line waiting (pending or held), else the one the channel accepted last (built once per dialect and outbox)."""
    p, s = lane.lines.c, lane.shown.c
    channel, sku = bindparam("q_channel", type_=String), bindparam("q_sku", type_=String)
    value, at = bindparam("q_value", type_=lane.value_of(lane.lines).type), bindparam("q_at", type_=t.UtcDateTime())
    priority = bindparam("q_priority", type_=SmallInteger)
    # the line's state is tested in what the look-up answers, not in its WHERE: a look-up by channel and state could
    # go by the claim's index (channel, state, priority, …) and walk every pending line of the channel for each line
    # queued; by channel and SKU only, it can go by nothing but the primary key (docs/footprint.md)
    waiting = select(
        case((or_(p.state == PENDING, p.state == HELD), lane.value_of(lane.lines)), else_=None)  # no IN: bulk
    ).where(p.channel == channel, p.sku == sku)
    shown = select(lane.value_of(lane.shown)).where(s.channel == channel, s.sku == sku)
    will_show = func.coalesce(waiting.scalar_subquery(), shown.scalar_subquery())
    line = select(channel, sku, value, literal(1), at, literal(0), at, literal(PENDING), priority).where(
        will_show.is_distinct_from(value)
    )
    columns = ["channel", "sku", lane.value, "version", "first_pending_at", "attempts", "next_attempt_at", "state",
               "priority"]  # fmt: skip
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(lane.lines).from_select(columns, line)
    return _on_conflict(statement, lane)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# What a channel will show of a SKU, worked out in SQL as workflows.model.availability_of_free works it out in Python
# (tests/unit/test_outbox_availability.py holds the two to the same answer): a row's free units are on hand less
# reserved, never below 0, and none while the row is suspect; a channel shows the free units of the warehouses it
# serves less its safety stock, never below 0. Every SKU with a stock row gets a value in every channel. A value is
# queued only where it differs from what the channel will show anyway (the line waiting, pending or held, else what
# the channel accepted last: SqlOutbox.known's rule; the line looked up by its primary key alone, as in
# _enqueue_changed), in (channel, SKU) order, the order enqueue locks lines in.
# Each SKU's rows are summed once for all the channels, a column each (joined to a table of channels and their
# warehouses, the look-ups of every row in it cost several times the sums).
_AVAILABILITY = """
WITH free AS (
    SELECT sku, warehouse,
        CASE WHEN suspect_since IS NULL AND on_hand > reserved THEN on_hand - reserved ELSE 0 END AS free
    FROM stock_levels WHERE sku IN ({skus})
),
per_sku AS (SELECT sku, {sums} FROM free GROUP BY sku),
v AS ({values})
SELECT v.channel, v.sku, v.qty, 1, :q_at, 0, :q_at, 'pending', CASE WHEN v.sku IN ({urgent}) THEN 0 ELSE 1 END
FROM v
WHERE coalesce(
    (SELECT CASE WHEN p.state IN ('pending', 'held') THEN p.qty END FROM stock_pushes p
        WHERE p.channel = v.channel AND p.sku = v.sku),
    (SELECT s.qty FROM channel_stock s WHERE s.channel = v.channel AND s.sku = v.sku)
) {distinct} v.qty
ORDER BY v.channel, v.sku
"""

_AVAILABILITY_COLUMNS = ["channel", "sku", "qty", "version", "first_pending_at", "attempts", "next_attempt_at", "state",
                         "priority"]  # fmt: skip


@functools.cache
def _enqueue_availability(dialect: str, served: tuple[int, ...]) -> Any:
    """:data:`_AVAILABILITY` for channels serving ``served[i]`` warehouses each (built once per dialect and shape):
    channel ``i``'s name is ``q_name_i``, its safety stock ``q_safety_i``, its warehouses ``q_code_i_j``."""
    pg = dialect == "postgresql"
    binds: list[Any] = [bindparam("q_at", type_=t.UtcDateTime())]
    sums, values = [], []
    for i, count in enumerate(served):
        codes = [f"q_code_{i}_{j}" for j in range(count)]
        binds += [bindparam(name, type_=String) for name in (*codes, f"q_name_{i}")]
        binds.append(bindparam(f"q_safety_{i}", type_=Integer))
        among = ", ".join(f":{name}" for name in codes)
        sums.append(f"sum(CASE WHEN warehouse IN ({among}) THEN free ELSE 0 END) AS c{i}")
        greatest = "greatest" if pg else "max"
        channel = f"CAST(:q_name_{i} AS VARCHAR) AS channel"
        qty = f"{greatest}(0, c{i} - :q_safety_{i}) AS qty"
        values.append(" ".join(("SELECT", channel, ", sku,", qty, "FROM per_sku")))
    if pg:
        binds += [bindparam("q_skus", type_=postgresql.ARRAY(String())),
                  bindparam("q_urgent", type_=postgresql.ARRAY(String()))]  # fmt: skip
        skus, urgent = "SELECT unnest(CAST(:q_skus AS text[]))", "SELECT unnest(CAST(:q_urgent AS text[]))"
    else:
        binds += [bindparam("q_skus", type_=String), bindparam("q_urgent", type_=String)]
        skus, urgent = "SELECT value FROM json_each(:q_skus)", "SELECT value FROM json_each(:q_urgent)"
    sql = _AVAILABILITY.format(  # only names of bound parameters and SQL's own words go into it
        skus=skus, urgent=urgent, sums=", ".join(sums), values=" UNION ALL ".join(values),
        distinct="IS DISTINCT FROM" if pg else "IS NOT",
    )  # fmt: skip
    source = text(sql).bindparams(*binds).columns(*(column(name) for name in _AVAILABILITY_COLUMNS))
    insert = (postgresql if pg else sqlite).insert(STOCK.lines).from_select(_AVAILABILITY_COLUMNS, source)
    return _on_conflict(insert, STOCK)


@functools.cache
def _retire(lane: Lane) -> Any:
    """Delete a line if it still holds the version that was sent (built once per outbox)."""
    p = lane.lines.c
    return delete(lane.lines).where(
        p.channel == bindparam("r_channel"), p.sku == bindparam("r_sku"), p.version == bindparam("r_version")
    )


@functools.cache
def _release_newer(lane: Lane) -> Any:
    """Lift the lease of a line that moved past the version that was sent (built once per outbox)."""
    p = lane.lines.c
    return (
        update(lane.lines)
        .where(p.channel == bindparam("r_channel"), p.sku == bindparam("r_sku"), p.version != bindparam("r_version"))
        .values(leased_until=None, lease_owner=None)
    )


@functools.cache
def _release_left(lane: Lane) -> Any:
    """PostgreSQL: lift the lease of the lines of ``r_skus`` still there once the accepted ones were retired: those
    moved on while in flight (built once per outbox)."""
    p = lane.lines.c
    skus = bindparam("r_skus", type_=postgresql.ARRAY(String()))  # one array, not a thousand parameters
    return (
        update(lane.lines)
        .where(p.channel == bindparam("r_channel"), p.sku == func.any(skus))
        .values(leased_until=None, lease_owner=None)
    )


@functools.cache
def _pg_settle(lane: Lane) -> _Settle:
    """PostgreSQL's settle of accepted lines over the arrays ``r_skus``, ``r_versions`` and ``r_values`` (built once
    per outbox)."""
    p = lane.lines.c
    value_type = postgresql.ARRAY(lane.value_of(lane.lines).type)
    batch = select(
        func.unnest(
            bindparam("r_skus", type_=postgresql.ARRAY(String())),
            bindparam("r_versions", type_=postgresql.ARRAY(Integer())),
            bindparam("r_values", type_=value_type),
        )
        .table_valued("sku", "version", "v", with_ordinality="n")
        .render_derived(name="u")
    ).subquery("b")
    channel = bindparam("r_channel", type_=String)
    retire = delete(lane.lines).where(p.channel == channel, p.sku == batch.c.sku, p.version == batch.c.version)
    release = _release_left(lane)
    taken = select(channel, batch.c.sku, batch.c.v, bindparam("r_at", type_=t.UtcDateTime())).order_by(batch.c.n)
    insert = postgresql.insert(lane.shown).from_select(["channel", "sku", lane.value, "accepted_at"], taken)
    upsert = insert.on_conflict_do_update(
        index_elements=["channel", "sku"],
        set_={lane.value: insert.excluded[lane.value], "accepted_at": insert.excluded.accepted_at},
    )
    return _Settle(retire, release, upsert)


@dataclass(frozen=True)
class _Settle:
    retire: Any
    release: Any
    shown: Any


@functools.cache
def _sqlite_settle(lane: Lane) -> _Settle:
    """SQLite's settle of accepted lines, each statement over ``r_lines``, a JSON array of ``[sku, version, value]``
    (built once per outbox). Each walks the array and looks every line up by its primary key."""
    each = func.json_each(bindparam("r_lines", type_=String)).table_valued("value").alias("j")
    batch = select(
        func.json_extract(each.c.value, "$[0]").label("sku"),
        func.json_extract(each.c.value, "$[1]").label("version"),
        func.json_extract(each.c.value, "$[2]").label("v"),
    ).subquery("b")
    p = lane.lines.c
    channel = bindparam("r_channel", type_=String)
    # "sku IN (the batch)" makes SQLite walk the batch and look each line up by its key; a join of the two would
    # walk the channel's lines instead (the planner knows nothing of the array's length)
    among = and_(p.channel == channel, p.sku.in_(select(batch.c.sku)))
    retire = delete(lane.lines).where(among, tuple_(p.sku, p.version).in_(select(batch.c.sku, batch.c.version)))
    release = update(lane.lines).where(among).values(leased_until=None, lease_owner=None)
    taken = select(channel, batch.c.sku, batch.c.v, bindparam("r_at", type_=t.UtcDateTime())).where(true())
    insert = sqlite.insert(lane.shown).from_select(["channel", "sku", lane.value, "accepted_at"], taken)
    upsert = insert.on_conflict_do_update(
        index_elements=["channel", "sku"],
        set_={lane.value: insert.excluded[lane.value], "accepted_at": insert.excluded.accepted_at},
    )
    return _Settle(retire, release, upsert)


@functools.cache
def _shown(dialect: str, lane: Lane) -> Any:
    """What a channel accepted, per SKU (built once per dialect and outbox)."""
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(lane.shown)
    set_ = {lane.value: statement.excluded[lane.value], "accepted_at": statement.excluded.accepted_at}
    return statement.on_conflict_do_update(index_elements=["channel", "sku"], set_=set_)
