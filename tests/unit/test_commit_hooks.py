"""The unit of work's commit hooks on memory, SQLite and PostgreSQL: ``before`` writes inside the committing
transaction, ``after`` runs once the commit held — and only for commits that changed stock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.model import StockFigure
from workflows.ports import UnitOfWork, UnitOfWorkFactory

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def save(uow: UnitOfWorkFactory, sku: str, qty: int) -> None:
    async with uow() as work:
        await work.stock.save_figures([StockFigure(sku, "online", qty)], AT)
        await work.commit()


async def on_hand(uow: UnitOfWorkFactory, sku: str) -> int | None:
    async with uow(read_only=True) as work:
        levels = await work.stock.for_sku(sku)
    return levels[0].on_hand if levels else None


async def test_before_writes_in_the_same_transaction_and_after_runs_once_committed(uow: UnitOfWorkFactory) -> None:
    seen: list[object] = []

    async def before(work: UnitOfWork) -> None:
        seen.append(("before", sorted(work.touched_skus())))
        await work.outbox.enqueue("site", dict.fromkeys(work.touched_skus(), 1), AT)

    uow.hooks.before.append(before)
    uow.hooks.after.append(lambda: seen.append("after"))
    await save(uow, "IRON", 3)
    assert seen == [("before", ["IRON"]), "after"]
    async with uow(read_only=True) as work:
        assert await work.outbox.known("site", ["IRON"]) == {"IRON": 1}

    seen.clear()
    async with uow() as work:  # a commit that changed no stock runs neither
        await work.outbox.enqueue("site", {"MUG": 2}, AT)
        await work.commit()
    assert seen == []


async def test_a_failing_before_hook_rolls_the_whole_change_back(uow: UnitOfWorkFactory) -> None:
    after: list[str] = []

    async def broken(work: UnitOfWork) -> None:
        await work.outbox.enqueue("site", {"IRON": 3}, AT)
        raise RuntimeError("the outbox could not be written")

    uow.hooks.before.append(broken)
    uow.hooks.after.append(lambda: after.append("after"))
    with pytest.raises(RuntimeError, match="outbox"):
        await save(uow, "IRON", 3)
    assert await on_hand(uow, "IRON") is None
    async with uow(read_only=True) as work:
        assert await work.outbox.known("site", ["IRON"]) == {}
    assert after == []
