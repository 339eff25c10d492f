"""The leadership among instances sharing a database (``storage/leadership.py``): on PostgreSQL one holder of a
name leads at a time, hands over when it releases or its connection dies; on SQLite (one instance per database
file) every holder leads."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from storage.database import Database, open_database
from storage.leadership import SqlLeadership

NAME = "telegram polling"


async def _advisory_holders(database: Database) -> list[int]:
    """Backend pids holding an advisory lock in this database."""
    query = text(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    async with database.engine.connect() as connection:
        return [int(pid) for pid in (await connection.execute(query)).scalars()]


async def test_of_two_holders_exactly_one_leads(database: Database) -> None:
    first, second, other = SqlLeadership(database, NAME), SqlLeadership(database, NAME), SqlLeadership(database, "x")
    try:
        assert await first.acquire()
        assert await first.acquire()  # asking again while leading keeps leading
        if database.is_sqlite:  # one instance per database file: every holder leads
            assert await second.acquire() and await second.confirm()
            return
        assert not await second.acquire()
        assert await first.confirm() and not await second.confirm()
        assert await other.acquire()  # names are independent
    finally:
        for holder in (first, second, other):
            await holder.release()


async def test_a_released_leadership_passes_to_the_next_holder(database: Database) -> None:
    first, second = SqlLeadership(database, NAME), SqlLeadership(database, NAME)
    try:
        assert await first.acquire() and await first.acquire()  # taken twice, released once: free
        await first.release()
        assert not await first.confirm() or database.is_sqlite
        assert await second.acquire()
        assert await first.acquire() is database.is_sqlite
        if not database.is_sqlite:
            assert await _advisory_holders(database) != []
            await second.release()
            assert await _advisory_holders(database) == []  # nothing left behind on a pooled connection
    finally:
        await first.release()
        await second.release()


@pytest.mark.postgres
async def test_a_leader_whose_connection_dies_loses_to_the_next_holder(pg_url: str) -> None:
    database = open_database(pg_url)
    first, second = SqlLeadership(database, NAME), SqlLeadership(database, NAME)
    try:
        assert await first.acquire() and not await second.acquire()
        (pid,) = await _advisory_holders(database)
        async with database.engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        async with asyncio.timeout(5):  # the server frees the lock as the killed backend exits
            while not await second.acquire():
                await asyncio.sleep(0.02)
        assert not await first.confirm()
        assert not await first.acquire()
        await first.release()  # harmless after losing it
        assert await second.confirm()
    finally:
        await first.release()
        await second.release()
        await database.dispose()


@pytest.mark.postgres
async def test_a_database_that_cannot_be_reached_means_not_leading() -> None:
    database = open_database("postgresql+asyncpg://storeops@127.0.0.1:1/storeops")  # nothing listens on port 1
    leadership = SqlLeadership(database, NAME)
    try:
        assert not await leadership.acquire()
        assert not await leadership.confirm()
        await leadership.release()
    finally:
        await database.dispose()
