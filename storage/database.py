"""The database engine: one place that knows how SQLite and PostgreSQL differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from storage.group_commit import GroupCommit
from storage.sqlite_driver import OneHopConnection, OneHopDBAPI

READ_ONLY = "storeops_read_only"


class DatabaseUnavailable(Exception):
    """No connection to the database could be made (refused, unreachable, a file that cannot be opened):
    nothing was read or written, and the same request may succeed later."""


@dataclass
class Database:
    """The engine plus what the unit of work needs to know about the backend.

    On SQLite there is one writer at a time. Writers of this process take turns in the transactions
    of ``writers`` (group commit: storage/group_commit.py) instead of spinning in SQLite's busy
    handler; writers of other processes are waited for by ``busy_timeout``.
    """

    engine: AsyncEngine
    read_engine: AsyncEngine
    is_sqlite: bool
    writers: GroupCommit | None = field(default=None)

    async def dispose(self) -> None:
        if self.writers is not None:
            await self.writers.close()
        await self.engine.dispose()


# Statement parameters hold customers' names, phones and e-mails: they stay out of the text of a database
# error, which the 500 handler logs.
def open_database(
    url: str, *, busy_timeout_ms: int = 30_000, sqlite_synchronous: str = "FULL", echo: bool = False
) -> Database:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_parent(parsed)
        # Our unit of work always ends its transaction before the connection goes back to the pool,
        # so the pool's own reset (one more rollback round trip per transaction) is not needed.
        engine = create_async_engine(
            parsed,
            echo=echo,
            pool_size=5,
            max_overflow=20,
            module=OneHopDBAPI(),
            pool_reset_on_return=None,
            hide_parameters=True,
        )
        _configure_sqlite(engine, busy_timeout_ms, sqlite_synchronous)
        _name_connect_failures(engine)
        return Database(engine, engine.execution_options(**{READ_ONLY: True}), True, GroupCommit(engine))
    # No pool_pre_ping: it costs a round trip on every unit of work (reservations 176/s -> 284/s
    # without it, bench/results). A connection broken by a server restart fails one request,
    # and SQLAlchemy then discards the whole pool; pool_recycle retires idle ones in time.
    # 30 at most, as before, but 20 kept rather than 10: a connection closed when a burst ends and opened again
    # at the next one costs its connect, its type look-ups and a prepare of every statement it runs (a flash
    # sale's orders spent a tenth of their CPU on that).
    engine = create_async_engine(
        parsed, echo=echo, pool_size=20, max_overflow=10, pool_recycle=1800, hide_parameters=True
    )
    _name_connect_failures(engine)
    return Database(engine, engine.execution_options(**{READ_ONLY: True}), False)


def lost_connection(error: BaseException) -> bool:
    """A statement failed because its connection broke (the server restarted or cut it): SQLAlchemy has
    discarded the pool, and the same request will get a fresh connection."""
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _name_connect_failures(engine: AsyncEngine) -> None:
    """A failure to connect raises ``DatabaseUnavailable``, told apart from a statement that failed."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            raise DatabaseUnavailable(f"cannot connect to the database: {type(error).__name__}") from error


def _ensure_parent(url: URL) -> None:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        cast(OneHopConnection, dbapi_connection).configure(busy_timeout_ms, synchronous)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the write lock when it starts, not when it first writes: a deferred
        # transaction that read first would fail at once with SQLITE_BUSY instead of waiting.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        # Handed to the driver, where it waits for the next statement anyway: no execution of its own to pay for.
        cast(OneHopConnection, connection.connection.dbapi_connection).defer(begin)
