"""The sandbox's pokes (``app.sandbox.changes``), on SQLite and on PostgreSQL (the sandbox runs on either), with the
real repositories: a commit that wrote what the console shows pokes it, one that only leased or delivered notices
does not, a rolled back one never does; a queued notice is told to the listeners (the chats' deliveries wake on it);
an emulator's answer to anything but a read or the bot's long poll pokes; a waiting page wakes on a poke or when the
service stops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.sandbox.changes import Changes
from storage.database import Database
from storage.uow import SqlUnitOfWorkFactory
from workflows.model import StockFigure
from workflows.vocabulary import NoticeTopic

AT = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def settled() -> None:
    """Let the pokes a commit scheduled on the loop run."""
    await asyncio.sleep(0)


async def test_a_commit_that_wrote_stock_pokes_and_one_that_leased_notices_does_not(database: Database) -> None:
    changes, added = Changes(), list[frozenset[str]]()
    changes.watch_database(database.engine)
    changes.on_added(added.append)
    uow = SqlUnitOfWorkFactory(database)

    async with uow() as work:
        await work.stock.save_figures([StockFigure("IRON", "online", 3)], AT)
        await work.commit()
    await settled()
    assert changes.count == 1 and added == [frozenset({"stock_levels"})]

    async with uow() as work:  # what a delivery run does every second: nothing the console shows
        await work.notices.claim([NoticeTopic.OFFICE_TASK], AT, AT, "me", 10)
        await work.commit()
    await settled()
    assert changes.count == 1 and added == [frozenset({"stock_levels"})]

    async with uow() as work:
        await work.notices.add(NoticeTopic.OFFICE_TASK, {"task_id": 1}, AT)
        await work.commit()
    await settled()
    assert changes.count == 1, "a notice is shown by the chats, once delivered"
    assert added[-1] == frozenset({"notices"})


async def test_a_rolled_back_write_pokes_nobody(database: Database) -> None:
    changes, added = Changes(), list[frozenset[str]]()
    changes.watch_database(database.engine)
    changes.on_added(added.append)
    uow = SqlUnitOfWorkFactory(database)
    async with uow() as work:
        await work.stock.save_figures([StockFigure("IRON", "online", 3)], AT)
        await work.notices.add(NoticeTopic.OFFICE_TASK, {"task_id": 1}, AT)
    async with uow() as work:  # the next transaction on the same connection starts clean
        await work.notices.claim([NoticeTopic.OFFICE_TASK], AT, AT, "me", 10)
        await work.commit()
    await settled()
    assert changes.count == 0 and added == []


def test_an_emulators_answer_pokes_unless_it_was_a_read_or_the_bots_long_poll() -> None:
    changes = Changes()
    changes.heard("GET", "/trade/odata/standard.odata/Catalog")
    changes.heard("POST", "/bot700000001:SANDBOX/getUpdates")
    assert changes.count == 0
    changes.heard("POST", "/api/chat.postMessage")
    changes.heard("PUT", "/api/v3/stocks/658434")
    assert changes.count == 2


async def test_a_waiting_page_wakes_on_a_poke_and_when_the_service_stops() -> None:
    changes = Changes()
    assert not await changes.after(0, 0.01)  # nothing happened: the wait runs out
    waiting = asyncio.create_task(changes.after(0, 10))
    await settled()
    changes.poke()
    assert await waiting
    assert await changes.after(0, 10)  # a poke already made counts
    waiting = asyncio.create_task(changes.after(changes.count, 10))
    await settled()
    changes.close()
    assert await waiting and changes.closed
