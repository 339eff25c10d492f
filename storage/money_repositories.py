"""SQL implementation of the money book: clients' virtual accounts per order, earmarks, payouts and the journal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage import schema as t
from storage.order_listing import obligation_of
from storage.repositories import _upsert
from workflows.model import Obligation, ObligationState
from workflows.money_model import (
    OPEN,
    PURPOSES,
    ClearanceMode,
    DeliveryMode,
    Earmark,
    MoneyAccount,
    MoneyEntry,
    Payout,
    PayoutState,
    Purpose,
    ReserveTotals,
    TransportMode,
)

_ORDER = case({p.value: n for n, p in enumerate(PURPOSES)}, value=t.earmarks.c.purpose)


class SqlMoneyBook:
    def __init__(self, connection: AsyncConnection) -> None:
        self._c = connection

    async def account(self, order_id: int) -> MoneyAccount | None:
        a, e = t.money_accounts.c, t.earmarks.c
        row = (await self._c.execute(select(t.money_accounts).where(a.order_id == order_id))).one_or_none()
        if row is None:
            return None
        marks = await self._c.execute(select(t.earmarks).where(e.order_id == order_id).order_by(_ORDER))
        return MoneyAccount(
            row.order_id, Decimal(row.credited), Decimal(row.unallocated), row.created_at,
            TransportMode(row.transport) if row.transport else None,
            ClearanceMode(row.clearance) if row.clearance else None,
            [Earmark(Purpose(m.purpose), Decimal(m.planned), Decimal(m.reserved), Decimal(m.drawn),
                     Decimal(m.absorbed), m.id, Decimal(m.released),
                     estimated=None if m.estimated is None else Decimal(m.estimated))
             for m in marks],
            DeliveryMode(row.delivery) if row.delivery else None, row.cleared_at, row.purchase_ask_at,
            row.purchase_task_id,
        )  # fmt: skip

    async def open_account(self, account: MoneyAccount) -> None:
        await self._c.execute(t.money_accounts.insert(), {"order_id": account.order_id, **_account_values(account)})
        await self._save_earmarks(account)

    async def save_account(self, account: MoneyAccount) -> None:
        a = t.money_accounts.c
        await self._c.execute(
            update(t.money_accounts).where(a.order_id == account.order_id).values(**_account_values(account))
        )
        await self._save_earmarks(account)

    async def _save_earmarks(self, account: MoneyAccount) -> None:
        e = t.earmarks.c
        for mark in account.earmarks:
            values = {"planned": mark.planned, "reserved": mark.reserved, "absorbed": mark.absorbed,
                      "estimated": mark.estimated}  # fmt: skip
            if mark.id is None:
                row = {"order_id": account.order_id, "purpose": mark.purpose.value, "drawn": mark.drawn, **values}
                inserted = await self._c.execute(t.earmarks.insert().returning(e.id), row)
                mark.id = int(inserted.scalar_one())
            else:
                await self._c.execute(update(t.earmarks).where(e.id == mark.id).values(**values))

    async def draw(self, earmark_id: int, amount: Decimal) -> bool:
        e = t.earmarks.c
        # rounded to the kopeck in the statement: SQLite holds these figures as binary floats, where 0.10 + 0.20
        # is not 0.30; rounded, the sum is the same float as the 0.30 stored (PostgreSQL's numeric is exact anyway)
        drawn = func.round(e.drawn + amount, 2)
        statement = update(t.earmarks).where(e.id == earmark_id, drawn <= e.reserved).values(drawn=drawn)
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def release(self, earmark_id: int, amount: Decimal) -> bool:
        e = t.earmarks.c
        released = func.round(e.released + amount, 2)  # rounded as in draw(): SQLite's floats
        statement = (
            update(t.earmarks).where(e.id == earmark_id, released <= e.drawn, released >= 0).values(released=released)
        )
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def record(self, entry: MoneyEntry) -> bool:
        values = {
            "key": entry.key, "order_id": entry.order_id, "kind": entry.kind, "amount_rub": entry.amount_rub,
            "at": entry.at, "purpose": entry.purpose.value if entry.purpose else None, "detail": entry.detail,
        }  # fmt: skip
        statement = _upsert(self._c, t.money_entries).values(values).on_conflict_do_nothing(index_elements=["key"])
        return bool((await self._c.execute(statement)).rowcount == 1)

    async def entries(self, order_id: int) -> list[MoneyEntry]:
        m = t.money_entries.c
        rows = await self._c.execute(select(t.money_entries).where(m.order_id == order_id).order_by(m.id))
        return [_entry(r) for r in rows]

    async def entry(self, key: str) -> MoneyEntry | None:
        row = (await self._c.execute(select(t.money_entries).where(t.money_entries.c.key == key))).one_or_none()
        return None if row is None else _entry(row)

    async def purchase_due(self, now: datetime, limit: int) -> list[int]:
        a = t.money_accounts.c
        query = select(a.order_id).where(a.purchase_ask_at <= now).order_by(a.purchase_ask_at, a.order_id).limit(limit)
        return [int(order_id) for order_id in (await self._c.execute(query)).scalars()]

    async def payout(self, key: str) -> Payout | None:
        row = (await self._c.execute(select(t.payouts).where(t.payouts.c.key == key))).one_or_none()
        return None if row is None else _payout(row)

    async def payout_by_id(self, payout_id: int) -> Payout | None:
        row = (await self._c.execute(select(t.payouts).where(t.payouts.c.id == payout_id))).one_or_none()
        return None if row is None else _payout(row)

    async def add_payout(self, payout: Payout) -> None:
        values = {"key": payout.key, "order_id": payout.order_id, "earmark_id": payout.earmark_id,
                  "purpose": payout.purpose.value, "payee": payout.payee, "currency": payout.currency,
                  "amount": payout.amount, "requested_due_at": payout.requested_due_at,
                  "created_at": payout.created_at, "obligation_id": payout.obligation_id,
                  **_payout_values(payout)}  # fmt: skip
        inserted = await self._c.execute(t.payouts.insert().returning(t.payouts.c.id), values)
        payout.id = int(inserted.scalar_one())

    async def save_payout(self, payout: Payout) -> None:
        p = t.payouts.c
        await self._c.execute(update(t.payouts).where(p.id == payout.id).values(**_payout_values(payout)))

    async def payouts_of(self, order_id: int) -> list[Payout]:
        p = t.payouts.c
        rows = await self._c.execute(select(t.payouts).where(p.order_id == order_id).order_by(p.due_at, p.id))
        return [_payout(row) for row in rows]

    async def postponed_due(self, now: datetime, limit: int) -> list[Payout]:
        p = t.payouts.c
        query = (
            select(t.payouts)
            .where(p.state == PayoutState.POSTPONED.value, p.due_at <= now)
            .order_by(p.due_at, p.id)
            .limit(limit)
        )
        return [_payout(row) for row in await self._c.execute(query)]

    async def open_payouts(self, until: datetime) -> list[Payout]:
        p = t.payouts.c
        states = sorted(state.value for state in OPEN)
        query = select(t.payouts).where(p.state.in_(states), p.due_at < until).order_by(p.due_at, p.id)
        return [_payout(row) for row in await self._c.execute(query)]

    async def planned_obligations(self, since: datetime, until: datetime) -> list[tuple[int, Obligation]]:
        o, p = t.obligations.c, t.payouts.c
        drawn = select(p.id).where(p.obligation_id == o.id).exists()
        query = (
            select(t.obligations)
            .where(o.due_at >= since, o.due_at < until, o.state != ObligationState.CANCELLED.value, ~drawn)
            .order_by(o.due_at, o.id)
        )
        return [(row.order_id, obligation_of(row)) for row in await self._c.execute(query)]

    async def totals(self) -> ReserveTotals:
        e, a = t.earmarks.c, t.money_accounts.c
        zero = Decimal("0.00")
        marks = (
            await self._c.execute(
                select(func.sum(e.planned), func.sum(e.reserved), func.sum(e.drawn), func.sum(e.absorbed))
            )
        ).one()
        unallocated = (await self._c.execute(select(func.sum(a.unallocated)))).scalar_one()
        planned, reserved, drawn, absorbed = (Decimal(x) if x is not None else zero for x in marks)
        return ReserveTotals(planned, reserved, drawn, absorbed, zero if unallocated is None else Decimal(unallocated))


def _account_values(account: MoneyAccount) -> dict[str, Any]:
    return {
        "transport": account.transport.value if account.transport else None,
        "clearance": account.clearance.value if account.clearance else None,
        "credited": account.credited, "unallocated": account.unallocated, "created_at": account.created_at,
        "delivery": account.delivery.value if account.delivery else None, "cleared_at": account.cleared_at,
        "purchase_ask_at": account.purchase_ask_at, "purchase_task_id": account.purchase_task_id,
    }  # fmt: skip


def _payout_values(payout: Payout) -> dict[str, Any]:
    return {
        "rate": payout.rate, "amount_rub": payout.amount_rub, "due_at": payout.due_at, "state": payout.state.value,
        "task_id": payout.task_id, "topup_payment_id": payout.topup_payment_id, "absorbed_rub": payout.absorbed_rub,
        "drawn_at": payout.drawn_at, "paid_at": payout.paid_at,
    }  # fmt: skip


def _entry(row: Any) -> MoneyEntry:
    return MoneyEntry(row.key, row.order_id, row.kind, Decimal(row.amount_rub), row.at,
                      Purpose(row.purpose) if row.purpose else None, dict(row.detail))  # fmt: skip


def _payout(row: Any) -> Payout:
    return Payout(
        row.key, row.order_id, Purpose(row.purpose), row.earmark_id, row.payee, row.currency, Decimal(row.amount),
        Decimal(row.rate), Decimal(row.amount_rub), row.due_at, row.requested_due_at, PayoutState(row.state),
        row.created_at, row.id, row.obligation_id, row.task_id, row.topup_payment_id, Decimal(row.absorbed_rub),
        row.drawn_at, row.paid_at,
    )  # fmt: skip
