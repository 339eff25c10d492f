"""Leadership (``workflows/leadership.py``) on the database: a PostgreSQL session-level advisory lock.

The leader holds ``pg_try_advisory_lock`` on a connection of its own for as long as it leads. The server
releases the lock when that session ends however it ends — an unlock, the process exiting or killed, the
connection cut — so no lease has to be renewed and no clocks compared. The server is told to probe the idle
connection with TCP keepalives, so a leader's host that vanished from the network frees the lock within about
a minute and a half. The leader checks its connection with a ``SELECT 1``: a broken one means the lock may
already be another's.

SQLite: one storeops instance per database file by design, so every holder leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database, DatabaseUnavailable

log = logging.getLogger(__name__)

ANSWER_WITHIN_S = 5.0  # a database that takes longer to answer a trivial query is treated as lost
_KEEPALIVES = ("SET tcp_keepalives_idle = 30", "SET tcp_keepalives_interval = 10", "SET tcp_keepalives_count = 6")
_FAILURES = (SQLAlchemyError, DatabaseUnavailable, OSError, TimeoutError)


class SqlLeadership:
    """The leadership called ``name`` among the holders on one database (one holder per instance)."""

    def __init__(self, database: Database, name: str) -> None:
        self._database = database
        self._key = func.hashtextextended(name, 0)
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._database.is_sqlite:
            return True
        if self._connection is not None:
            return await self.confirm()
        try:
            async with asyncio.timeout(ANSWER_WITHIN_S):
                connection = await self._database.engine.connect()
        except _FAILURES as error:
            log.warning("leadership: no database connection (%s)", type(error).__name__)
            return False
        try:
            async with asyncio.timeout(ANSWER_WITHIN_S):
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                taken = bool((await connection.execute(select(func.pg_try_advisory_lock(self._key)))).scalar_one())
                if taken:
                    for statement in _KEEPALIVES:
                        await connection.execute(text(statement))
        except _FAILURES as error:
            log.warning("leadership: the database did not answer (%s)", type(error).__name__)
            await _discard(connection)
            return False
        except BaseException:
            await _discard(connection)
            raise
        if not taken:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def confirm(self) -> bool:
        if self._database.is_sqlite:
            return True
        connection = self._connection
        if connection is None:
            return False
        try:
            async with asyncio.timeout(ANSWER_WITHIN_S):
                await connection.execute(select(1))
        except _FAILURES as error:
            log.warning("leadership: lost its database connection (%s)", type(error).__name__)
            self._connection = None
            await _discard(connection)
            return False
        return True

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            async with asyncio.timeout(ANSWER_WITHIN_S):
                await connection.execute(select(func.pg_advisory_unlock(self._key)))
                await connection.close()
        except _FAILURES as error:  # the lock goes with the session: ending it releases the lock too
            log.warning("leadership: could not unlock, closing the connection instead (%s)", type(error).__name__)
            await _discard(connection)
        except BaseException:
            await _discard(connection)
            raise


async def _discard(connection: AsyncConnection) -> None:
    """Close the connection's session for good (not back to the pool): the server drops its locks."""
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()
