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
``ROLLBACK``. So does a statement marked :data:`WITH_NEXT` (storage/statements.py) whose result its
caller never reads: the reservation's UPDATE, whose INSERT follows it, and an order's lines and
events, which a writer of the group commit sends with its savepoint's release before it hands the
connection on (storage/group_commit.py), so a failure is still its own. A reservation in a batch
then costs one trip instead of four. A transaction that never ran a
statement costs no trip at all: its deferred ``BEGIN`` is dropped with it.

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
from sqlalchemy.exc import DBAPIError

_Outcome = tuple[Any, list[Any] | None, int | None, int]
_Deferred = tuple[str, Any, bool]  # a statement, its parameters (None: none), and whether they are many rows
# Opening a transaction or a savepoint, releasing a savepoint: sent with the next statement.
_DEFERRABLE = re.compile(r"^\s*(BEGIN|SAVEPOINT|RELEASE)\b", re.IGNORECASE)
_BEGIN = re.compile(r"^\s*BEGIN\b", re.IGNORECASE)
WITH_NEXT = "/* with the next statement */"  # in a statement: it goes in the next one's trip


async def _nothing() -> None:
    """Awaited by a deferred statement: SQLAlchemy's async engine insists on an await per statement."""


def _run_deferred(connection: sqlite3.Connection, deferred: list[_Deferred]) -> None:
    for statement, parameters, many in deferred:
        try:
            if many:
                connection.executemany(statement, parameters)
            elif parameters is None:
                connection.execute(statement)
            else:
                connection.execute(statement, parameters)
        except sqlite3.Error as error:
            error.storeops_statement = (statement, parameters, many)  # type: ignore[attr-defined]
            raise


def _as_sqlalchemy(error: Exception) -> Exception:
    """A deferred statement's failure outside SQLAlchemy's execute (a commit, a release), worded as SQLAlchemy
    words a statement's: its class (``IntegrityError``…), its statement, and no parameters (they hold people's
    names and phones)."""
    failed = getattr(error, "storeops_statement", None)
    if failed is None:
        return error
    statement, parameters, many = failed
    return DBAPIError.instance(statement, parameters, error, sqlite3.Error, hide_parameters=True, ismulti=many)


def _run_statement(
    connection: sqlite3.Connection, deferred: list[_Deferred], operation: str, parameters: Any
) -> _Outcome:
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


def _run_many(connection: sqlite3.Connection, deferred: list[_Deferred], operation: str, rows: Any) -> _Outcome:
    _run_deferred(connection, deferred)
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, rows)
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


def _commit(connection: sqlite3.Connection, deferred: list[_Deferred]) -> None:
    _run_deferred(connection, deferred)
    connection.commit()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        adapted: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        if (not parameters and _DEFERRABLE.match(operation)) or WITH_NEXT in operation:
            adapted.deferred.append((operation, parameters or None, False))
            self.description, self.lastrowid, self.rowcount = None, -1, -1  # not known: not run yet
            self.await_(_nothing())
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
        if WITH_NEXT in operation:
            adapted.deferred.append((operation, list(seq_of_parameters), True))
            self.description, self.lastrowid, self.rowcount = None, -1, -1
            self.await_(_nothing())
            return
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
        self.deferred: list[_Deferred] = []  # statements waiting for the next trip, in order

    def take_deferred(self) -> list[_Deferred]:
        taken, self.deferred = self.deferred, []
        return taken

    @property
    def begun(self) -> bool:
        """SQLite has opened the transaction: its ``BEGIN`` is not still waiting here."""
        return not (self.deferred and _BEGIN.match(self.deferred[0][0]))

    @property
    def writes_deferred(self) -> bool:
        """A statement marked :data:`WITH_NEXT` waits (not only the scope of a transaction or savepoint)."""
        return any(WITH_NEXT in statement for statement, _, _ in self.deferred)

    @property
    def in_transaction(self) -> bool:
        """A transaction is open, or will be with the next statement (a statement error may have ended it:
        SQLite rolls the whole transaction back on a full disk, an I/O error or running out of memory)."""
        return not self.begun or bool(self._connection._conn.in_transaction)

    def defer(self, statement: str) -> None:
        """Send ``statement`` (one that cannot fail alone: ``SAVEPOINT``, ``RELEASE``) with the next one."""
        self.deferred.append((statement, None, False))

    def run_now(self, statements: list[str]) -> None:
        """Run what waits and ``statements`` in one trip (a ``ROLLBACK TO``, whose failure must show here)."""
        try:
            work = self.take_deferred() + [(statement, None, False) for statement in statements]
            self.await_(self._connection._execute(_run_deferred, self._connection._conn, work))
        except Exception as error:
            self._handle_exception(_as_sqlalchemy(error))

    def commit(self) -> None:
        if not self.begun:  # nothing was run: nothing to commit
            self.deferred.clear()
            return
        try:
            self.await_(self._connection._execute(_commit, self._connection._conn, self.take_deferred()))
        except Exception as error:
            self._handle_exception(_as_sqlalchemy(error))

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
