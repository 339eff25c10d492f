"""Group commit on SQLite: the writers of this process share a transaction, each in a savepoint of its own.

SQLite has one writer at a time, and a transaction of ours pays a ``BEGIN IMMEDIATE`` and a ``COMMIT`` — with
``synchronous=FULL`` an fsync — and a trip to aiosqlite's thread for each statement. So writers take turns in one
transaction instead of one transaction each: a writer asks for its turn (:meth:`GroupCommit.turn`), and one task,
the batch's, gives the turns out in the order they were asked for, on one connection in one transaction, for as
long as writers are waiting (at most ``max_writers``, and none joins a batch open longer than ``max_open_s``).
The batches keep one connection open from one to the next (its checkout and close cost a writer alone a fifth of
its time); a batch that failed closes it, and the next opens another.

A writer works in a savepoint: its commit releases it, its rollback — or its failure — rolls back to it, so one
writer's failure never touches another's work. When nobody is waiting any more, the batch commits, and only then
does a writer's commit return: a commit that returned is on disk, as before. A COMMIT that fails fails every
writer of the batch, and so does a failure that took SQLite's whole transaction with it (a full disk, an I/O
error: SQLite rolls everything back then): nobody is told "done" for work that is not there.

A writer that leaves — committed or not — waits for the end of its batch, so that what it does next (a read in a
new unit of work) sees what the writers before it wrote, as it did when each had its own transaction.

The savepoints are the driver's (storage/sqlite_driver.py), not SQLAlchemy's: ``SAVEPOINT`` and ``RELEASE`` ride
with the next statement, and a writer that ran nothing costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

SAVEPOINT = "writer"  # one name does: the writers of a batch follow each other, none is inside another


class BatchLost(Exception):
    """SQLite rolled back the whole transaction of a batch while one of its writers failed (a full disk, an I/O
    error): the work of the writers before it is gone, and they are told so."""


class DatabaseClosed(Exception):
    """The database was closed while writers waited for their batch."""


class Turn:
    """One writer's place in a batch."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.granted: asyncio.Future[AsyncConnection] = loop.create_future()
        self.left: asyncio.Future[bool] = loop.create_future()  # True: its work stays in the batch
        self.ended: asyncio.Future[None] = loop.create_future()  # the batch committed, or why not
        self.ended.add_done_callback(_seen)

    def leave(self, *, kept: bool) -> None:
        """The writer is done with the connection; ``kept``: its savepoint was released into the batch."""
        if not self.left.done():
            self.left.set_result(kept)

    async def batch_end(self) -> None:
        """Wait until the batch has ended; raise what made its commit fail."""
        await asyncio.shield(self.ended)


def _seen(future: asyncio.Future[None]) -> None:
    """A writer that stopped waiting leaves the batch's failure unread; it is not an unhandled error."""
    if not future.cancelled():
        future.exception()


class GroupCommit:
    def __init__(self, engine: AsyncEngine, *, max_writers: int = 64, max_open_s: float = 0.2) -> None:
        self._engine = engine
        self._max_writers, self._max_open_s = max_writers, max_open_s
        self._waiting: deque[Turn] = deque()
        self._task: asyncio.Task[None] | None = None
        self._connection: AsyncConnection | None = None
        self.batches = 0  # batches committed, and the writers' work they kept: how well writes are grouped
        self.kept = 0

    async def turn(self) -> tuple[Turn, AsyncConnection]:
        """Wait for this writer's turn: the batch's connection, in its open transaction."""
        loop = asyncio.get_running_loop()
        turn = Turn(loop)
        self._waiting.append(turn)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="storeops-group-commit")
        try:
            connection = await turn.granted
        except BaseException:
            turn.leave(kept=False)  # given the turn as it gave up: the batch goes on without it
            with contextlib.suppress(ValueError):
                self._waiting.remove(turn)
            raise
        return turn, connection

    async def close(self) -> None:
        """Stop the batch's task; writers still waiting are told the database closed."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.granted.done():
                turn.granted.set_exception(DatabaseClosed("the database was closed"))
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def _run(self) -> None:
        while self._waiting:
            await self._batch()

    async def _batch(self) -> None:
        try:
            connection, self._connection = self._connection or await self._engine.connect(), None
        except Exception as error:  # each waiting writer would have failed to connect alike
            while self._waiting:
                turn = self._waiting.popleft()
                if not turn.granted.done():
                    turn.granted.set_exception(error)
            return
        members: list[Turn] = []
        failure: BaseException | None = None
        try:
            await connection.begin()
            kept = await self._give_turns(connection, members)
            if kept:
                await connection.commit()
                self.batches, self.kept = self.batches + 1, self.kept + kept
            else:
                await connection.rollback()
        except Exception as error:  # the COMMIT failed or the batch was lost: its writers are told, the next goes on
            failure = error
        except BaseException as error:  # cancelled: the database is closing
            failure = error
            raise
        finally:
            try:
                if failure is not None:  # whatever SQLite kept of the transaction goes with the connection
                    await connection.invalidate()
                    await connection.close()
                else:
                    self._connection = connection
            finally:
                for turn in members:
                    if failure is None:
                        turn.ended.set_result(None)
                    else:
                        turn.ended.set_exception(_told(failure))

    async def _give_turns(self, connection: AsyncConnection, members: list[Turn]) -> int:
        """Give the connection to each waiting writer in turn; how many kept their work in the batch."""
        loop = asyncio.get_running_loop()
        opened, kept = loop.time(), 0
        while self._waiting and len(members) < self._max_writers and loop.time() - opened <= self._max_open_s:
            turn = self._waiting.popleft()
            if turn.granted.done():  # its writer gave up waiting
                continue
            turn.granted.set_result(connection)
            members.append(turn)
            if await turn.left:
                kept += 1
            elif not _in_transaction(connection):  # nobody may write on: outside a transaction it would stick
                if kept:
                    raise BatchLost(f"SQLite rolled back a batch of {kept} writer(s) after a writer failed")
                break
        return kept


def _told(failure: BaseException) -> BaseException:
    if isinstance(failure, asyncio.CancelledError):
        return DatabaseClosed("the database was closed before the batch committed")
    return failure


def _driver(connection: AsyncConnection) -> Any:
    """The driver's connection (storage.sqlite_driver.OneHopConnection)."""
    assert connection.sync_connection is not None
    return connection.sync_connection.connection.dbapi_connection


def _in_transaction(connection: AsyncConnection) -> bool:
    return bool(_driver(connection).in_transaction)


def open_savepoint(connection: AsyncConnection) -> None:
    _driver(connection).defer(f"SAVEPOINT {SAVEPOINT}")


async def release_savepoint(connection: AsyncConnection) -> None:
    """Keep the writer's work in the batch. What it left waiting to be sent goes now, with the release, so that a
    failure of it is still this writer's; the release alone rides with the next writer's first statement."""
    driver = _driver(connection)
    driver.defer(f"RELEASE SAVEPOINT {SAVEPOINT}")
    if driver.writes_deferred:
        await connection.run_sync(lambda _: driver.run_now([]))


async def rollback_to_savepoint(connection: AsyncConnection) -> None:
    """Undo what was done since :func:`open_savepoint`; what was never sent is dropped unsent."""
    driver = _driver(connection)
    opened = (f"SAVEPOINT {SAVEPOINT}", None, False)
    if opened in driver.deferred:  # nothing of this writer's reached SQLite
        del driver.deferred[driver.deferred.index(opened) :]
        return
    driver.deferred.clear()  # this writer's own, unsent: undone anyway
    undo = [f"ROLLBACK TO SAVEPOINT {SAVEPOINT}", f"RELEASE SAVEPOINT {SAVEPOINT}"]
    await connection.run_sync(lambda _: driver.run_now(undo))
