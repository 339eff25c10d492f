"""When what the console shows may have changed, so that an open console is told at once instead of asking every
second: a write committed to a table its stock and orders are read from, a request answered by an emulator of the
outside world (a Slack or Telegram message, a channel's stock or price), the clock moved. Each is a *poke*: it only
says "look again". The console's state route (``console.py``) builds the state after one and answers a page that is
waiting when the state differs from what the page shows.

The same watch on the database tells the sandbox which tables a commit added rows to (:meth:`Changes.on_added`):
a notice queued for Slack or Telegram wakes the chats' deliveries at once (``world.py``)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import schema

# What the console's stock table and orders are read from (``console.py``: the ledger, the orders with their history
# and obligations). The outbox, the leases and the tasks change every second or are shown through the chats.
SHOWN_TABLES = frozenset(
    table.name
    for table in (
        schema.stock_levels, schema.reservations, schema.returns,
        schema.orders, schema.order_lines, schema.order_events, schema.obligations,
    )
)  # fmt: skip
_WRITE = re.compile(
    r"^\s*(?:(?P<insert>INSERT\s+(?:OR\s+\w+\s+)?INTO)|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+\"?(?P<table>\w+)", re.I
)
_WROTE = "storeops_sandbox_written"  # on a connection's info: the tables its transaction wrote to
_ADDED = "storeops_sandbox_added"  # and those it inserted rows into
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_POLLS = ("/getUpdates",)  # the bot's long poll of Telegram: every half second, and it changes nothing


class Changes:
    """A count of pokes, and a way to wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self.closed = False
        self._poked = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._added_to: list[Callable[[frozenset[str]], None]] = []

    def poke(self) -> None:
        """Something shown may have changed (from the event loop's thread)."""
        self.count += 1
        self._poked.set()
        self._poked = asyncio.Event()

    def close(self) -> None:
        """The service is stopping: whoever waits stops waiting, and nobody waits again."""
        self.closed = True
        self.poke()

    async def after(self, count: int, patience: float) -> bool:
        """Wait until there was a poke after ``count`` (``True``) or ``patience`` seconds passed (``False``)."""
        try:
            async with asyncio.timeout(patience):
                while self.count <= count and not self.closed:
                    await self._poked.wait()
        except TimeoutError:
            return False
        return True

    # -- where pokes come from ------------------------------------------------------------------------------------

    def on_added(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call ``listener`` with the tables a commit added rows to (on the event loop, once the commit is done)."""
        self._added_to.append(listener)

    def watch_database(self, engine: AsyncEngine) -> None:
        """Poke after each commit that wrote to a table the console shows; tell :meth:`on_added`'s listeners."""
        self._loop = asyncio.get_running_loop()
        sync = engine.sync_engine
        event.listen(sync, "after_cursor_execute", self._executed)
        event.listen(sync, "commit", self._committed)
        event.listen(sync, "rollback", self._rolled_back)

    def heard(self, method: str, path: str) -> None:
        """An emulator answered a request (see ``emulators.local_server.LocalServer.observe``): one that may have
        changed what it holds. A read (1C's register, a channel's orders) changes nothing there; what our side
        makes of it is a commit of its own."""
        if method not in _READS and not path.endswith(_POLLS):
            self.poke()

    def _executed(self, connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        written = _WRITE.match(statement)
        if written:
            table = written.group("table").lower()
            connection.info.setdefault(_WROTE, set()).add(table)
            if written.group("insert"):
                connection.info.setdefault(_ADDED, set()).add(table)

    def _committed(self, connection: Connection) -> None:
        written = frozenset(connection.info.pop(_WROTE, ()))
        added = frozenset(connection.info.pop(_ADDED, ()))
        if written and self._loop is not None:  # SQLAlchemy's events may run off the loop's thread
            self._loop.call_soon_threadsafe(self._wrote, written, added)

    def _wrote(self, written: frozenset[str], added: frozenset[str]) -> None:
        if written & SHOWN_TABLES:
            self.poke()
        if added:
            for listener in self._added_to:
                listener(added)

    def _rolled_back(self, connection: Connection) -> None:
        try:
            info = connection.info
        except PendingRollbackError:  # a statement failed under a stopping service: nothing it wrote was kept
            return  # (the connection's marks go with it: at worst the console looks again once for nothing)
        info.pop(_WROTE, None)
        info.pop(_ADDED, None)
