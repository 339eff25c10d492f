"""aiosqlite with one thread hop per statement instead of three or four.

SQLAlchemy's aiosqlite adapter awaits ``cursor()``, ``execute()``, ``fetchall()`` and ``close()``
one by one, each a round trip to aiosqlite's worker thread. On the machines we measured a round
trip costs 100–300 µs, far more than SQLite's own work, so a reservation spent most of its time
hopping between threads. This adapter runs the whole statement (cursor, execute, fetch, close)
in one hop. Everything else — transactions, errors, pragmas — is SQLAlchemy's own aiosqlite
adapter, passed to the engine as its DBAPI module (``create_async_engine(module=...)``).

The statements that only open or close a scope — ``BEGIN``, ``SAVEPOINT``, ``RELEASE SAVEPOINT`` —
cannot fail on their own in a way that the statement after them would not report, so they are not
sent alone: they wait on the connection and go in the same trip as the next statement, ``COMMIT`` or
``ROLLBACK``. A reservation in a batch of the group commit (storage/group_commit.py) then costs two
trips (its UPDATE, with the savepoint ahead of it, and its INSERT) instead of four. A transaction that
never ran a statement costs no trip at all: its deferred ``BEGIN`` is dropped with it.

It uses aiosqlite's ``_execute`` (its one way to run a function on its thread), so aiosqlite is
pinned to the versions the test suite has run against.
"""

from __future__ import annotations

import re
import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

_Outcome = tuple[Any, list[Any] | None, int | None, int]
# Opening a transaction or a savepoint, releasing a savepoint: sent with the next statement.
_DEFERRABLE = re.compile(r"^\s*(BEGIN|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
_BEGIN = re.compile(r"^\s*BEGIN\b", re.IGNORECASE)


def _run_deferred(connection: sqlite3.Connection, deferred: list[str]) -> None:
    for statement in deferred:
        connection.execute(statement)


def _run_statement(connection: sqlite3.Connection, deferred: list[str], operation: str, parameters: Any) -> _Outcome:
    _run_deferred(connection, deferred)
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, deferred: list[str], operation: str, rows: Any) -> _Outcome:
    _run_deferred(connection, deferred)
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, rows)
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _commit(connection: sqlite3.Connection, deferred: list[str]) -> None:
    _run_deferred(connection, deferred)
    connection.commit()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        adapted: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        if not parameters and isinstance(operation, str) and _DEFERRABLE.match(operation):
            adapted.deferred.append(operation)
            self.description, self.lastrowid, self.rowcount = None, -1, -1
            return
        try:
            driver = self._connection
            description, rows, lastrowid, rowcount = self.await_(
                driver._execute(_run_statement, driver._conn, adapted.take_deferred(), operation, parameters)
            )
            self.description = description
            if description:
                self._rows = deque(rows or ())
                self.lastrowid = self.rowcount = -1
            else:
                self.lastrowid, self.rowcount = lastrowid, rowcount
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        adapted: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        try:
            driver = self._connection
            _, _, self.lastrowid, self.rowcount = self.await_(
                driver._execute(_run_many, driver._conn, adapted.take_deferred(), operation, seq_of_parameters)
            )
            self.description = None
        except Exception as error:
            self._adapt_connection._handle_exception(error)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("deferred",)

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.deferred: list[str] = []  # statements waiting for the next trip, in order

    def take_deferred(self) -> list[str]:
        taken, self.deferred = self.deferred, []
        return taken

    @property
    def begun(self) -> bool:
        """SQLite has opened the transaction: its ``BEGIN`` is not still waiting here."""
        return not (self.deferred and _BEGIN.match(self.deferred[0]))

    @property
    def in_transaction(self) -> bool:
        """A transaction is open, or will be with the next statement (a statement error may have ended it:
        SQLite rolls the whole transaction back on a full disk, an I/O error or running out of memory)."""
        return not self.begun or bool(self._connection._conn.in_transaction)

    def defer(self, statement: str) -> None:
        """Send ``statement`` (one that cannot fail alone: ``SAVEPOINT``, ``RELEASE``) with the next one."""
        self.deferred.append(statement)

    def run_now(self, statements: list[str]) -> None:
        """Run what waits and ``statements`` in one trip (a ``ROLLBACK TO``, whose failure must show here)."""
        try:
            work = self.take_deferred() + statements
            self.await_(self._connection._execute(_run_deferred, self._connection._conn, work))
        except Exception as error:
            self._handle_exception(error)

    def commit(self) -> None:
        if not self.begun:  # nothing was run: nothing to commit
            self.deferred.clear()
            return
        try:
            self.await_(self._connection._execute(_commit, self._connection._conn, self.take_deferred()))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        begun = self.begun
        self.deferred.clear()  # a savepoint opened or released inside it goes with it
        if begun:
            super().rollback()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if not server_side:
            return OneHopCursor(self)
        if self.deferred:  # a streamed result runs through aiosqlite's own cursor: what waits goes first
            self.await_(self._connection._execute(_run_deferred, self._connection._conn, self.take_deferred()))
        return super().cursor(server_side)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*args, **kwargs)
        return OneHopConnection(self, adapted._connection)
