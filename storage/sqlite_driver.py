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
caller never reads: an order's lines and events, which a writer of the group commit sends with its
savepoint's release before it hands the connection on (storage/group_commit.py), so a failure is
still its own. A transaction that never ran a statement costs no trip at all: its deferred ``BEGIN``
is dropped with it.

:meth:`OneHopConnection.call` runs a function of ours on the sqlite3 connection, after what waits:
the reservation's UPDATE and, if it changed the row, its INSERT (storage/repositories.py). When the
connection already holds SQLite's write lock — its ``BEGIN IMMEDIATE`` ran, its transaction is open:
a writer after the first of a group-commit batch — it runs at once on the event loop's thread, not
on aiosqlite's: such a statement waits on nobody (in WAL mode readers never block the writer) and
syncs nothing to disk (only ``COMMIT`` does), so it costs SQLite's own tens of microseconds, less
than the trip. Anything that may wait — ``BEGIN IMMEDIATE`` on another process's writer (the busy
timeout), ``COMMIT``'s fsync, any other statement — still goes to the thread. A reservation then
costs one trip alone (with ``BEGIN``), and none in a batch after its first.

The first writer of a batch tries its ``BEGIN IMMEDIATE`` on the loop's thread too, with the busy timeout at 0 for
that one statement: SQLite then either takes the write lock at once (no other process writes) or answers "busy"
at once, and only then does the whole transaction go to aiosqlite's thread to wait out the busy timeout there.
With ``synchronous`` at ``NORMAL`` or ``OFF`` in WAL mode a ``COMMIT`` writes the WAL and syncs nothing, so a
transaction that ran wholly on the loop's thread (reservations) commits there too
(:meth:`OneHopConnection.configure`): it wrote a few pages. The one that fills the WAL past SQLite's automatic
checkpoint (a thousand pages: about one reservation in 230) also copies the WAL into the database and syncs it,
holding the loop some 5 ms. A transaction that sent anything to the thread — a 1C message's thousands of rows —
commits there, and so does every ``COMMIT`` with ``FULL`` or ``EXTRA``, which syncs. A reservation with
``NORMAL`` costs no trip at all.

It uses aiosqlite's ``_execute`` (its one way to run a function on its thread), so aiosqlite is
pinned to the versions the test suite has run against.
"""

from __future__ import annotations

import re
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

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
_BEGIN_WRITE = re.compile(r"^\s*BEGIN\s+IMMEDIATE\b", re.IGNORECASE)
# In WAL mode a COMMIT with these syncs nothing (the checkpoint does); with FULL and EXTRA it syncs the WAL.
_SYNCS_NOTHING_ON_COMMIT = frozenset({"OFF", "NORMAL"})
WITH_NEXT = "/* with the next statement */"  # in a statement: it goes in the next one's trip
T = TypeVar("T")


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


def run_one(connection: sqlite3.Connection, statement: str, parameters: Any) -> sqlite3.Cursor:
    """One statement; a failure says which (as :func:`_run_deferred`'s do)."""
    try:
        return connection.execute(statement, parameters)
    except sqlite3.Error as error:
        error.storeops_statement = (statement, parameters, False)  # type: ignore[attr-defined]
        raise


def then_if_one_changed(
    connection: sqlite3.Connection,
    deferred: list[_Deferred],
    first: str,
    first_parameters: Any,
    then: str,
    then_parameters: Any,
) -> Any:
    """What waits, then ``first``; ``then`` only if ``first`` changed exactly one row. ``then``'s first row, or
    ``None`` when it did not run (for :meth:`OneHopConnection.call`)."""
    _run_deferred(connection, deferred)
    if run_one(connection, first, first_parameters).rowcount != 1:
        return None
    return run_one(connection, then, then_parameters).fetchone()


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
            description, rows, lastrowid, rowcount = self.await_(
                adapted.on_thread(_run_statement, adapted.take_deferred(), operation, parameters)
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
            _, _, self.lastrowid, self.rowcount = self.await_(
                adapted.on_thread(_run_many, adapted.take_deferred(), operation, seq_of_parameters)
            )
            self.description = None
        except Exception as error:
            self._adapt_connection._handle_exception(error)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("busy_timeout_ms", "commits_at_once", "deferred", "went_to_thread", "write_begun")

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.deferred: list[_Deferred] = []  # statements waiting for the next trip, in order
        self.write_begun = False  # a BEGIN IMMEDIATE went to SQLite in this transaction
        self.busy_timeout_ms: int | None = None  # as configured; None: not told (BEGIN never tried at once)
        self.commits_at_once = False  # a COMMIT syncs nothing: a small transaction's runs on the caller's thread
        self.went_to_thread = False  # a statement of this transaction went to the driver's thread

    def configure(self, busy_timeout_ms: int, synchronous: str) -> None:
        """Told the pragmas the engine set on this connection (WAL, ``busy_timeout``, ``synchronous``)."""
        self.busy_timeout_ms = busy_timeout_ms
        self.commits_at_once = synchronous.upper() in _SYNCS_NOTHING_ON_COMMIT

    def on_thread(self, function: Callable[..., Any], *args: Any) -> Awaitable[Any]:
        """``function(sqlite3 connection, *args)`` on the driver's thread (aiosqlite's answer is untyped)."""
        self.went_to_thread = True
        return cast(Awaitable[Any], self._connection._execute(function, self._connection._conn, *args))

    def take_deferred(self) -> list[_Deferred]:
        taken, self.deferred = self.deferred, []
        if taken and _BEGIN_WRITE.match(taken[0][0]):
            self.write_begun = True
        return taken

    @property
    def holds_write_lock(self) -> bool:
        """SQLite's write lock is this connection's: its BEGIN IMMEDIATE ran and the transaction is still open, so a
        statement waits on nobody (WAL: readers never block the writer)."""
        return self.write_begun and self.begun and bool(self._connection._conn.in_transaction)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(sqlite3 connection, what waits, *args)`` in one trip to the driver's thread — or, when this
        connection holds the write lock, at once on the caller's thread: a short statement then costs SQLite's own
        work (microseconds), less than the trip. Errors come as SQLAlchemy words a statement's."""
        inline = self.holds_write_lock
        work = self.take_deferred()
        try:
            if not inline and self._begins_at_once(work):
                work, inline = work[1:], True
            if inline:
                return function(self._connection._conn, work, *args)
            return cast(T, await self.on_thread(function, work, *args))
        except sqlite3.Error as error:
            worded = _as_sqlalchemy(error)
            if worded is error:
                raise
            raise worded from error

    def _begins_at_once(self, work: list[_Deferred]) -> bool:
        """Whether ``work`` opens a write transaction whose ``BEGIN IMMEDIATE`` has just run here, on the caller's
        thread, because SQLite gave the write lock at once; ``False`` (nothing run) when another process holds it."""
        if self.busy_timeout_ms is None or not work or not _BEGIN_WRITE.match(work[0][0]):
            return False
        connection: sqlite3.Connection = self._connection._conn
        connection.execute("PRAGMA busy_timeout=0")
        try:
            connection.execute(work[0][0])
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return False  # it waits for the lock on the driver's thread, as any statement would
            raise
        finally:
            connection.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        return True

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
            self.await_(self.on_thread(_run_deferred, work))
        except Exception as error:
            self._handle_exception(_as_sqlalchemy(error))

    def commit(self) -> None:
        self.write_begun = False
        # only what ran here, no statement on the thread and no rows waiting to go: its COMMIT writes a few pages
        small = not self.went_to_thread and not any(many for _, _, many in self.deferred)
        self.went_to_thread = False
        if not self.begun:  # nothing was run: nothing to commit
            self.deferred.clear()
            return
        try:
            if self.commits_at_once and small:
                _commit(self._connection._conn, self.take_deferred())
            else:
                self.await_(self._connection._execute(_commit, self._connection._conn, self.take_deferred()))
        except Exception as error:
            self._handle_exception(_as_sqlalchemy(error))

    def rollback(self) -> None:
        self.write_begun = self.went_to_thread = False
        begun = self.begun
        self.deferred.clear()  # a savepoint opened or released inside it goes with it
        if begun:
            super().rollback()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if not server_side:
            return OneHopCursor(self)
        if self.deferred:  # a streamed result runs through aiosqlite's own cursor: what waits goes first
            self.await_(self.on_thread(_run_deferred, self.take_deferred()))
        return super().cursor(server_side)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_aiosqlite_connection:
        kwargs.setdefault("check_same_thread", False)  # OneHopConnection.call may run a statement on the loop's thread
        adapted = super().connect(*args, **kwargs)
        return OneHopConnection(self, adapted._connection)
