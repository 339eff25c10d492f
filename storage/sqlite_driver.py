"""aiosqlite with one thread hop per statement instead of three or four.

SQLAlchemy's aiosqlite adapter awaits ``cursor()``, ``execute()``, ``fetchall()`` and ``close()``
one by one, each a round trip to aiosqlite's worker thread. On the machines we measured a round
trip costs 100–300 µs, far more than SQLite's own work, so a reservation spent most of its time
hopping between threads. This adapter runs the whole statement (cursor, execute, fetch, close)
in one hop. Everything else — transactions, errors, pragmas — is SQLAlchemy's own aiosqlite
adapter, passed to the engine as its DBAPI module (``create_async_engine(module=...)``).

It uses aiosqlite's ``_execute`` (its one way to run a function on its thread), so aiosqlite is
pinned to the versions the test suite has run against.
"""

from __future__ import annotations

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


def _run_statement(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
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


def _run_many(connection: sqlite3.Connection, operation: str, rows: Any) -> _Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, rows)
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            driver = self._connection
            description, rows, lastrowid, rowcount = self.await_(
                driver._execute(_run_statement, driver._conn, operation, parameters)
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
        try:
            driver = self._connection
            _, _, self.lastrowid, self.rowcount = self.await_(
                driver._execute(_run_many, driver._conn, operation, seq_of_parameters)
            )
            self.description = None
        except Exception as error:
            self._adapt_connection._handle_exception(error)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else OneHopCursor(self)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*args, **kwargs)
        return OneHopConnection(self, adapted._connection)
