"""The sandbox's database: an empty one of its own on every start, and never one it did not make.

- no ``--database-url``: a SQLite file in the sandbox's temporary directory, gone with it;
- ``sqlite+aiosqlite:///path/new.db``: a new file at that path (one that exists is refused, never overwritten),
  removed on exit;
- ``postgresql+asyncpg://user@host:5432``: the server to use, not a database. The sandbox creates
  ``storeops_sandbox_<random hex>`` there (the role needs CREATEDB), the service migrates it as ``storeops run``
  migrates, and it is dropped on exit: Ctrl-C, SIGTERM and a start that failed included. A database named in the URL
  is only where the sandbox connects to create and drop its own (``postgres`` when the URL names none); nothing in
  it is read or written. A sandbox killed outright leaves its database behind: the log line of its start names it,
  and the next sandbox on that server names every such database nobody is connected to, with the statement that
  drops it. It drops none of them itself: one may be another sandbox's that is just starting."""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger("storeops.sandbox")

PREFIX = "storeops_sandbox_"
CONNECT_TIMEOUT_S = 10
_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}  # the backend -> the driver we use
_FORMS = (
    "postgresql+asyncpg://user@host:5432 (a server: the sandbox creates its own database there) or "
    "sqlite+aiosqlite:///path/to/new.db"
)


class SandboxDatabaseError(Exception):
    """The sandbox cannot have a database of its own where it was told; the message says why and what to do."""


def requested_database(text: str) -> URL:
    """``--database-url`` read: a PostgreSQL server or a new SQLite file, in our drivers' spelling
    (``postgresql://`` and ``sqlite://`` are taken too)."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise SandboxDatabaseError(f"{text!r} is not a database URL; give {_FORMS}") from None
    driver = _DRIVERS.get(url.drivername) or (url.drivername if url.drivername in _DRIVERS.values() else None)
    if driver is None:
        shown = url.render_as_string(hide_password=True)
        raise SandboxDatabaseError(f"{shown} is neither PostgreSQL nor SQLite; give {_FORMS}")
    url = url.set(drivername=driver)
    if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
        raise SandboxDatabaseError("an in-memory SQLite database is not shared by the service's connections; "
                                   "give a file: sqlite+aiosqlite:///path/to/new.db")  # fmt: skip
    if url.get_backend_name() == "sqlite":  # where it is now, whatever the working directory is later
        url = url.set(database=str(Path(str(url.database)).expanduser().resolve()))
    return url


@asynccontextmanager
async def own_database(requested: URL | None) -> AsyncIterator[str]:
    """The URL of an empty database made for this sandbox (``requested`` says where), removed when the block ends,
    however it ends."""
    if requested is None:
        with tempfile.TemporaryDirectory(prefix="storeops-sandbox-", ignore_cleanup_errors=True) as workdir:
            yield f"sqlite+aiosqlite:///{Path(workdir) / 'sandbox.db'}"
    elif requested.get_backend_name() == "sqlite":
        with _own_file(Path(str(requested.database))) as url:
            yield url
    else:
        async with _own_postgres(requested) as url:
            yield url


@contextmanager
def _own_file(path: Path) -> Iterator[str]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("xb").close()  # made here, so it is ours: SQLite takes an empty file as an empty database
    except FileExistsError:
        raise SandboxDatabaseError(
            f"{path} exists: the sandbox starts from an empty database and never overwrites one it did not make; "
            "give a path that does not exist (or remove that file if an earlier sandbox left it)"
        ) from None
    except OSError as error:
        raise SandboxDatabaseError(f"cannot create {path}: {error.strerror or error}") from None
    log.info("sandbox: database %s, removed when the sandbox stops", path)
    try:
        yield f"sqlite+aiosqlite:///{path}"
    finally:
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            file.unlink(missing_ok=True)
        log.info("sandbox: removed database %s", path)


@asynccontextmanager
async def _own_postgres(server: URL) -> AsyncIterator[str]:
    import asyncpg  # here: `storeops run` imports this module (its command line) and, on SQLite, needs no asyncpg

    name = PREFIX + secrets.token_hex(6)
    shown = server.render_as_string(hide_password=True)
    connection = await _admin(server)
    try:
        await _name_leftovers(connection, shown)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.InsufficientPrivilegeError:
            user = await connection.fetchval("SELECT current_user")
            raise SandboxDatabaseError(
                f"the PostgreSQL role {user} at {shown} may not create databases (it lacks the CREATEDB privilege): "
                "the sandbox creates an empty database of its own on every start and drops it on exit, so that it "
                f"never touches one it did not make. Grant it (ALTER ROLE {user} CREATEDB), give a role that has "
                "it, or leave --database-url out for SQLite"
            ) from None
        except asyncpg.PostgresError as error:
            raise SandboxDatabaseError(f"PostgreSQL at {shown} would not create {name}: {error}") from None
    finally:
        await connection.close()
    log.info("sandbox: created database %s on %s; it is dropped when the sandbox stops (should the sandbox be "
             "killed first, drop it by hand: %s)", name, shown, _dropping(name))  # fmt: skip
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        await _drop(server, name)


async def _admin(server: URL) -> Any:
    """A connection to the server outside any transaction (``CREATE DATABASE`` cannot run in one), to the URL's
    database or ``postgres``."""
    named = {"host": server.host, "port": server.port, "user": server.username, "password": server.password}
    extra = {key: value for key, value in server.query.items() if isinstance(value, str)}  # ?ssl=require, ?host=
    params = {key: value for key, value in {**named, **extra}.items() if value is not None}
    shown = server.render_as_string(hide_password=True)
    import asyncpg

    try:
        return await asyncpg.connect(database=server.database or "postgres", timeout=CONNECT_TIMEOUT_S, **params)
    except TimeoutError:
        raise SandboxDatabaseError(f"PostgreSQL at {shown} did not answer within {CONNECT_TIMEOUT_S} s") from None
    except OSError as error:
        raise SandboxDatabaseError(f"cannot reach PostgreSQL at {shown}: {error.strerror or error}") from None
    except asyncpg.PostgresError as error:
        raise SandboxDatabaseError(f"PostgreSQL at {shown} refused the sandbox: {error}") from None


async def _name_leftovers(connection: Any, shown: str) -> None:
    """Sandbox databases on the server that nobody is connected to: left by sandboxes that were killed."""
    rows = await connection.fetch(
        "SELECT datname FROM pg_database d WHERE datname LIKE $1 "
        "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname) ORDER BY datname",
        PREFIX.replace("_", "\\_") + "%",
    )
    if rows:
        names = [row["datname"] for row in rows]
        log.warning("sandbox: %s on %s, with nobody connected: left by a sandbox that did not stop (killed?); "
                    "drop what is no longer wanted by hand: %s", ", ".join(names), shown,
                    " ".join(_dropping(n) for n in names))  # fmt: skip


async def _drop(server: URL, name: str) -> None:
    import asyncpg

    try:
        connection = await _admin(server)
        try:
            force = " WITH (FORCE)" if connection.get_server_version().major >= 13 else ""
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
        finally:
            await connection.close()
    except (SandboxDatabaseError, asyncpg.PostgresError, OSError) as error:
        log.error("sandbox: could not drop database %s (%s); drop it by hand: %s", name, error, _dropping(name))
        return
    except BaseException:  # interrupted (a second Ctrl-C): the database stays; say which
        log.error("sandbox: dropping database %s was interrupted; drop it by hand: %s", name, _dropping(name))
        raise
    log.info("sandbox: dropped database %s", name)


def _dropping(name: str) -> str:
    return f'DROP DATABASE "{name}";'
