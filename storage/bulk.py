"""One statement executed for many rows at the driver's speed: the 1C intake's writes.

SQLAlchemy's executemany builds every row's parameters in Python (a dict per row, each value through its type's
processing): on the service's machines that costs several times SQLite's own work to write the row, so a 1C
snapshot spent most of its time there. Here the statement is compiled once per dialect, each row goes to the
driver's ``executemany`` as a plain tuple, and the values every row shares (the time 1C computed a message) go
through their type's processing once per call. Only a column whose type needs no processing (text, integers)
may vary by row; :func:`execute_many` refuses any other.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters, in the order the SQL takes them
    processors: Mapping[str, Any]  # name -> the type's bind processor, where it has one
    given: Mapping[str, Any]  # name -> its value, for a parameter the statement holds itself (``version + 1``)

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The statement's parameters from ``values`` by name, each processed by its type, in the SQL's order."""
        processors = self.processors
        return tuple(processors[n](values[n]) if n in processors else values[n] for n in self.names)


@functools.cache
def compiled(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=list(keys)))
    if compiled.has_out_parameters or "POSTCOMPILE" in compiled.string:
        raise ValueError("a statement for execute_many takes single values: no IN lists, no OUT parameters")
    names = tuple(compiled.positiontup or ())
    processors = {name: compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names}
    given = {name: compiled.binds[name].value for name in names if name not in keys}
    return Compiled(compiled.string, names, {n: p for n, p in processors.items() if p is not None}, given)


async def execute_many(
    connection: AsyncConnection,
    statement: ClauseElement,
    columns: Sequence[str],
    rows: Iterable[tuple[object, ...]],
    same: Mapping[str, object] | None = None,
) -> int:
    """Execute ``statement`` (built once, its bound parameters named as ``columns`` and ``same``) for each of
    ``rows``, which give the values of ``columns`` in that order; ``same`` names the values every row shares.
    Answers the rows written as the driver counts them: SQLite does, asyncpg does not (-1)."""
    form = compiled(statement, connection.dialect, (*columns, *(same or {})))
    varying = sorted(name for name in form.processors if name in columns)
    if varying:
        raise TypeError(f"{varying}: a value its type must process is to be the same for every row (same=)")
    fixed = {**form.given, **(same or {})}
    tail = tuple(form.processors[name](fixed[name]) if name in form.processors else fixed[name] for name in fixed)
    slots = {name: index for index, name in enumerate((*columns, *fixed))}
    order = tuple(slots[name] for name in form.names)
    if order == tuple(range(len(slots))):  # the statement takes the columns, then the shared values, as given
        tuples = [row + tail for row in rows] if tail else [tuple(row) for row in rows]
    else:
        pick = itemgetter(*order)
        tuples = [pick(row + tail) for row in rows]
    if not tuples:
        return 0
    if connection.dialect.name == "postgresql":
        await _prepared_afresh(connection, form.sql, tuples)
        # the driver ran it, not SQLAlchemy: tell the engine's listeners as SQLAlchemy would have (what watches
        # for writes, as the sandbox's console does, must see these too)
        sync = connection.sync_connection
        if sync is not None:
            sync.dispatch.after_cursor_execute(sync, None, form.sql, tuples, None, True)
        return -1
    return int((await connection.exec_driver_sql(form.sql, tuples)).rowcount)


async def execute_once(connection: AsyncConnection, statement: ClauseElement, values: Mapping[str, object]) -> None:
    """SQLite: ``statement`` (built once) executed once with ``values``, as the driver takes them: compiled once, each
    value through its type's processing, no cache key worked out and no parameters bound by SQLAlchemy at each call
    (a statement of fifty parameters, run for every 1C message, spent more time there than SQLite did)."""
    form = compiled(statement, connection.dialect, tuple(values))
    await connection.exec_driver_sql(form.sql, form.parameters({**form.given, **values}))


async def _prepared_afresh(connection: AsyncConnection, sql: str, rows: list[tuple[object, ...]]) -> None:
    """PostgreSQL: the statement prepared for this call, not taken from the connection's cache. A cached statement
    keeps the plan PostgreSQL settled on in its first executions — made while the table was small and, with no
    statistics yet (autovacuum behind or off), a scan — and a statement that looks rows up then reads the whole
    table for every row as it grows. Prepared afresh, it is planned with the table as it is. Errors come as
    SQLAlchemy's, as from any statement."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not driver.is_in_transaction():  # type: ignore[union-attr]
        # SQLAlchemy begins the unit of work's transaction with its first statement: this must not run before it
        await connection.exec_driver_sql("SELECT 1")
    try:
        statement = await driver.prepare(sql)  # type: ignore[union-attr]
        await statement.executemany(rows)
    except Exception as error:
        invalidated = connection.dialect.is_disconnect(error, raw.dbapi_connection, None)  # type: ignore[arg-type]
        raise DBAPIError.instance(
            sql, None, error, Exception, hide_parameters=True, connection_invalidated=invalidated,
            dialect=connection.dialect,
        ) from error  # fmt: skip
