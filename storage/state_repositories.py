"""SQL implementations of the typed state ports: each channel's (and the carrier's) state, 1C's heartbeats
and the daily report's deliveries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage import statements as q
from storage.repositories import _upsert
from workflows.ports import ChannelState, Heartbeat, ReportDelivery

# a channel's state is read before every claim of its drain and at every look at its pause: built once
_STATE_OF = select(t.channel_states).where(t.channel_states.c.name == bindparam("s_name"))


class SqlChannelStates:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def get(self, name: str) -> ChannelState:
        row = (await self._c.execute(_STATE_OF, {"s_name": name})).one_or_none()
        return ChannelState(name) if row is None else _channel_state(row)

    async def all(self) -> dict[str, ChannelState]:
        rows = await self._c.execute(select(t.channel_states).order_by(t.channel_states.c.name))
        return {row.name: _channel_state(row) for row in rows}

    async def pause(self, name: str, by: str, at: datetime) -> None:
        await self._set(name, paused_by=by, paused_at=at)

    async def resume(self, name: str) -> None:
        await self._update(name, paused_by=None, paused_at=None)

    async def open_circuit(self, name: str, until: datetime) -> None:
        await self._set(name, circuit_until=until)

    async def count_failure(self, name: str) -> int:
        c = t.channel_states.c
        statement = _upsert(self._c, t.channel_states).values(name=name, failures_in_a_row=1)
        statement = statement.on_conflict_do_update(
            index_elements=["name"], set_={"failures_in_a_row": c.failures_in_a_row + 1}
        ).returning(c.failures_in_a_row)
        return int((await self._c.execute(statement)).scalar_one())

    async def reset_failures(self, name: str) -> bool:
        c = t.channel_states.c
        statement = update(t.channel_states).where(c.name == name, c.failures_in_a_row != 0)
        return bool((await self._c.execute(statement.values(failures_in_a_row=0))).rowcount)

    async def request_sync(self, name: str, by: str, at: datetime) -> None:
        await self._set(name, sync_requested_by=by, sync_requested_at=at)

    async def reconciled(self, name: str, summary: str, at: datetime) -> None:
        await self._set(name, reconciled=summary, reconciled_at=at)

    async def save_order_events_cursor(self, name: str, cursor: str) -> None:
        await self._set(name, order_events_cursor=cursor)

    async def _set(self, name: str, **values: Any) -> None:
        """Write ``values`` into the name's row, making the row (otherwise default) when there is none."""
        statement = _upsert(self._c, t.channel_states).values(name=name, failures_in_a_row=0, **values)
        await self._c.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))

    async def _update(self, name: str, **values: Any) -> None:
        await self._c.execute(update(t.channel_states).where(t.channel_states.c.name == name).values(**values))


def _channel_state(row: Any) -> ChannelState:
    return ChannelState(
        name=row.name, paused_by=row.paused_by, paused_at=row.paused_at, circuit_until=row.circuit_until,
        failures_in_a_row=row.failures_in_a_row, sync_requested_at=row.sync_requested_at,
        sync_requested_by=row.sync_requested_by, reconciled_at=row.reconciled_at, reconciled=row.reconciled,
        order_events_cursor=row.order_events_cursor,
    )  # fmt: skip


class SqlHeartbeats:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def heard(self, source: str, at: datetime) -> None:
        statement = q.HEARD_WITH_NEXT if self._c.dialect.name == "sqlite" else q.HEARD
        await self._c.execute(statement, {"source": source, "at": at})

    async def last(self) -> Heartbeat | None:
        c = t.onec_heartbeats.c
        newest = select(c.source, c.at).order_by(c.at.desc(), c.source.desc()).limit(1)
        row = (await self._c.execute(newest)).one_or_none()
        return None if row is None else Heartbeat(row.source, row.at)


class SqlReportDeliveries:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def get(self, day: date) -> ReportDelivery | None:
        c = t.report_deliveries.c
        row = (await self._c.execute(select(t.report_deliveries).where(c.day == day))).one_or_none()
        return None if row is None else ReportDelivery(row.day, row.state, row.owner, row.at)

    async def save(self, delivery: ReportDelivery) -> None:
        values = {"state": delivery.state, "owner": delivery.owner, "at": delivery.at}
        statement = _upsert(self._c, t.report_deliveries).values(day=delivery.day, **values)
        await self._c.execute(statement.on_conflict_do_update(index_elements=["day"], set_=values))
