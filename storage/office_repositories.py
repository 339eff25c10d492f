"""SQL implementations of the office ports: payments, alerts, FX rates, named locks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.repositories import _upsert
from workflows.clients import phone_key
from workflows.office_model import FROM_GATEWAY, Alert, Payment, Phase


class SqlPayments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def add_event(
        self, event_id: str, payment_id: str, phase: str, at: datetime, applied: str, payload: dict[str, object],
        source: str = FROM_GATEWAY,
    ) -> bool:  # fmt: skip
        # ON CONFLICT DO NOTHING rather than look first: a gateway retrying while its first
        # delivery is still in flight gets "seen" (after the first commits), not a unique violation.
        values = {"event_id": event_id, "payment_id": payment_id, "phase": phase, "received_at": at,
                  "applied": applied, "payload": payload, "source": source}  # fmt: skip
        statement = _upsert(self._c, t.payment_events).values(values)
        statement = statement.on_conflict_do_nothing(index_elements=["event_id"])
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def get(self, payment_id: str) -> Payment | None:
        # Locked until commit (PostgreSQL; SQLite has one writer): two events of one payment
        # applied at once would otherwise both start from the same phase, and the later commit
        # could move it back (cleared, then overwritten by authorized).
        query = select(t.payments).where(t.payments.c.payment_id == payment_id).with_for_update()
        row = (await self._c.execute(query)).one_or_none()
        return None if row is None else _payment(row)

    async def save(self, payment: Payment) -> None:
        c = t.payments.c
        values = {
            "order_id": payment.order_id, "idempotency_key": payment.idempotency_key, "phase": payment.phase.value,
            "amount": payment.amount, "currency": payment.currency, "created_at": payment.created_at,
            "updated_at": payment.updated_at, "void_requested_at": payment.void_requested_at,
        }  # fmt: skip
        changed = await self._c.execute(update(t.payments).where(c.payment_id == payment.payment_id).values(**values))
        if changed.rowcount == 0:
            await self._c.execute(t.payments.insert(), {"payment_id": payment.payment_id, **values})

    async def for_order(self, order_id: int) -> list[Payment]:
        c = t.payments.c
        rows = await self._c.execute(select(t.payments).where(c.order_id == order_id).order_by(c.created_at))
        return [_payment(row) for row in rows]

    async def failed_attempts(self, order_id: int) -> int:
        # failed payments the gateway itself said failed, before or after our status poll saw it: a poll is never an
        # attempt, and the gateway's late notice of a failure the poll recorded first still counts it, once
        e, p = t.payment_events.c, t.payments.c
        query = (
            select(func.count(func.distinct(p.payment_id)))
            .select_from(t.payment_events.join(t.payments, e.payment_id == p.payment_id))
            .where(p.order_id == order_id, p.phase == Phase.FAILED.value, e.phase == Phase.FAILED.value)
            .where(e.source == FROM_GATEWAY)
        )
        return int((await self._c.execute(query)).scalar_one())

    async def paid_before(self, phone: str, email: str, order_id: int) -> bool:
        o, p = t.orders.c, t.payments.c
        who = _same_client(o.phone_key, o.customer_email, phone, email)
        if not who:
            return False
        query = (
            select(p.payment_id)
            .select_from(t.payments.join(t.orders, p.order_id == o.id))
            .where(p.phase == Phase.CLEARED.value, o.id != order_id, or_(*who))
            .limit(1)
        )
        return (await self._c.execute(query)).first() is not None

    async def is_blocked(self, phone: str, email: str) -> bool:
        c = t.blocked_clients.c
        who = _same_client(c.phone_key, c.email, phone, email)
        if not who:
            return False
        return (await self._c.execute(select(c.id).where(or_(*who)).limit(1))).first() is not None

    async def block(self, phone: str, email: str, reason: str, at: datetime) -> None:
        values = {"phone": phone or None, "phone_key": phone_key(phone), "email": email or None}
        await self._c.execute(t.blocked_clients.insert(), values | {"reason": reason, "blocked_at": at})


def _same_client(phone_keys: Any, emails: Any, phone: str, email: str) -> list[Any]:
    """The conditions that find a client by the phone (however it is written) or the e-mail; none without either."""
    key = phone_key(phone)
    clauses = (phone_keys == key if key else None, emails == email if email else None)
    return [clause for clause in clauses if clause is not None]


def _payment(row: Any) -> Payment:
    return Payment(
        row.payment_id, row.order_id, row.idempotency_key, Phase(row.phase), Decimal(row.amount), row.currency,
        row.created_at, row.updated_at, row.void_requested_at,
    )  # fmt: skip


class SqlAlerts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def open_for(self, key: str) -> Alert | None:
        c = t.alerts.c
        row = (await self._c.execute(select(t.alerts).where(c.key == key, c.state == "open").limit(1))).one_or_none()
        return None if row is None else _alert(row)

    async def get(self, alert_id: int) -> Alert | None:
        row = (await self._c.execute(select(t.alerts).where(t.alerts.c.id == alert_id))).one_or_none()
        return None if row is None else _alert(row)

    async def by_task(self, task_id: int) -> Alert | None:
        row = (await self._c.execute(select(t.alerts).where(t.alerts.c.task_id == task_id))).one_or_none()
        return None if row is None else _alert(row)

    async def add(self, alert: Alert) -> None:
        result = await self._c.execute(t.alerts.insert().returning(t.alerts.c.id), _alert_values(alert))
        alert.id = result.scalar_one()

    async def save(self, alert: Alert) -> None:
        await self._c.execute(update(t.alerts).where(t.alerts.c.id == alert.id).values(**_alert_values(alert)))

    async def open_of_kind(self, kind: str) -> list[Alert]:
        c = t.alerts.c
        query = select(t.alerts).where(c.state == "open", c.kind == kind).order_by(c.id)
        return [_alert(row) for row in await self._c.execute(query)]

    async def stale_counts(self, shown_before: datetime, limit: int) -> list[Alert]:
        c = t.alerts.c
        query = (
            select(t.alerts)
            .where(c.state == "open", c.count > c.shown_count, c.shown_at.is_not(None), c.shown_at <= shown_before)
            .order_by(c.id)
            .limit(limit)
        )
        return [_alert(row) for row in await self._c.execute(query)]

    async def recent(self, limit: int) -> list[Alert]:
        c = t.alerts.c
        return [_alert(row) for row in await self._c.execute(select(t.alerts).order_by(c.id.desc()).limit(limit))]

    async def muted_until(self, key: str) -> datetime | None:
        c = t.alert_mutes.c
        found: datetime | None = (await self._c.execute(select(c.until).where(c.key == key))).scalar_one_or_none()
        return found

    async def mute(self, key: str, until: datetime, by: str) -> None:
        await self._c.execute(delete(t.alert_mutes).where(t.alert_mutes.c.key == key))
        await self._c.execute(t.alert_mutes.insert(), {"key": key, "until": until, "by": by})


def _alert_values(alert: Alert) -> dict[str, Any]:
    return {
        "key": alert.key, "kind": alert.kind, "detail": alert.detail, "state": alert.state, "count": alert.count,
        "shown_count": alert.shown_count, "first_at": alert.first_at, "last_at": alert.last_at,
        "shown_at": alert.shown_at, "resolved_at": alert.resolved_at, "task_id": alert.task_id,
    }  # fmt: skip


def _alert(row: Any) -> Alert:
    return Alert(
        row.id, row.key, row.kind, dict(row.detail), row.state, row.count, row.shown_count, row.first_at,
        row.last_at, row.shown_at, row.resolved_at, row.task_id,
    )  # fmt: skip


class SqlFxRates:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def store(self, rate_date: date, rates: Mapping[str, Decimal], at: datetime) -> None:
        # An upsert, not delete-then-insert: two fetches of one day's sheet at once (the schedule
        # and a clearing, or two instances) would otherwise collide on the key.
        rows = [{"currency": k, "rate_date": rate_date, "rate": v, "fetched_at": at} for k, v in sorted(rates.items())]
        if rows:
            statement = _upsert(self._c, t.fx_rates).values(rows)
            set_ = {"rate": statement.excluded.rate, "fetched_at": statement.excluded.fetched_at}
            await self._c.execute(statement.on_conflict_do_update(index_elements=["currency", "rate_date"], set_=set_))

    async def latest(self, currency: str) -> tuple[date, Decimal] | None:
        c = t.fx_rates.c
        query = select(c.rate_date, c.rate).where(c.currency == currency).order_by(c.rate_date.desc()).limit(1)
        row = (await self._c.execute(query)).one_or_none()
        return None if row is None else (row.rate_date, Decimal(row.rate))

    async def latest_fetched_since(self, currency: str, since: datetime) -> Decimal | None:
        c = t.fx_rates.c
        query = select(c.rate, c.fetched_at).where(c.currency == currency).order_by(c.rate_date.desc()).limit(1)
        row = (await self._c.execute(query)).one_or_none()
        return None if row is None or row.fetched_at < since else Decimal(row.rate)


# Built once: every order takes one (building a statement and its cache key costs more than the lock itself).
_HOLD = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("name", type_=String), 0)))


class SqlLocks:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def hold(self, name: str) -> None:
        if self._c.dialect.name == "postgresql":  # released at commit or rollback
            await self._c.execute(_HOLD, {"name": name})
        # SQLite: writers already run one at a time (BEGIN IMMEDIATE and the in-process lock)
