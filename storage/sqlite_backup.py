"""A SQLite database's backup and restore, and the running service's claim on its file.

``backup`` copies the database with SQLite's online backup API in one step: it reads under one read transaction,
so the copy is the database as of one commit however busy the service is (in WAL mode the service's writers go on
meanwhile). The copy is written beside the target and renamed over it only once whole, checked and synced, in the
rollback-journal mode: one self-contained file.

``restore`` puts a backup in the database's place. Replacing a file under a running service loses data silently
(its open connections keep writing into the replaced file), so the service claims its file while it runs: ``storeops
run`` holds an exclusive ``flock`` on ``<database>.lock``, and ``restore`` takes the same claim or refuses. The
replaced database, with its WAL when it has one, is kept beside it under a dated name, not deleted.

PostgreSQL is backed up with its own tools, ``pg_dump -Fc`` and ``pg_restore`` (docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.migrate import alembic_config

BUSY_TIMEOUT_S = 30.0  # a reader waits this long for a checkpoint or a recovery in progress
SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """The backup or restore was not done; nothing was changed. The message says why, for an operator."""


class DatabaseInUse(BackupError):
    """The service (or another restore) holds the database's claim."""


@dataclass(frozen=True)
class Copied:
    path: Path
    bytes: int
    revision: str | None  # the schema's migration, None for a database never migrated


@dataclass(frozen=True)
class Restored:
    copied: Copied
    replaced: Path | None  # where the database that was there before now is


def database_file(url: str) -> Path | None:
    """The file of a ``sqlite+aiosqlite:///path`` URL; None for PostgreSQL or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database).expanduser().resolve()


def claim_file(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def claim(database: Path, holder: str) -> Iterator[None]:
    """Hold the database's claim for the block: exclusive, across processes, freed by the kernel however the holder
    ends. Raises ``DatabaseInUse`` naming who holds it when taken."""
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(claim_file(database), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise BackupError(f"cannot claim {database}: {claim_file(database)}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held_by = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise DatabaseInUse(f"{database} is in use by {held_by}: stop it first") from None
        except OSError as error:  # a file system without locks (SQLite itself is unsafe there)
            raise BackupError(f"cannot lock {claim_file(database)}: {error.strerror}") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{holder} (pid {os.getpid()} on {socket.gethostname()})\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # frees the lock


def backup(database: Path, target: Path) -> Copied:
    """A consistent copy of ``database`` at ``target`` (replaced when there), while the service may be writing."""
    if not database.is_file():
        raise BackupError(f"no database at {database}")
    if not target.parent.is_dir():
        raise BackupError(f"no folder {target.parent} to write {target.name} in")
    if target.resolve() in _own_files(database):
        raise BackupError(f"{target} is the database's own file: name another")
    source = _open(database, "rw")  # rw, not ro: a reader of a WAL database may have to write the -shm index
    try:
        return _copy(source, target)
    finally:
        source.close()


def restore(backup_file: Path, database: Path, *, replace: bool) -> Restored:
    """``backup_file`` in ``database``'s place, when no service holds it. An existing database is replaced only
    with ``replace``, and kept beside it under a dated name."""
    if not backup_file.is_file():
        raise BackupError(f"no backup at {backup_file}")
    source = _open(backup_file, "ro")
    try:
        revision = _check(source, str(backup_file))
        _known(revision, backup_file)
        with claim(database, "storeops restore"):
            if database.exists() and not replace:
                raise BackupError(f"{database} exists: add --force to replace it (it is kept beside it)")
            incoming = database.with_name(database.name + ".restoring")
            copied = _copy(source, incoming)
            replaced = _set_aside(database) if database.exists() else None
            os.replace(incoming, database)
            _sync_folder(database.parent)
    finally:
        source.close()
    return Restored(Copied(database, copied.bytes, copied.revision), replaced)


def _own_files(database: Path) -> set[Path]:
    found = database.resolve()
    return {found, claim_file(found), *(found.with_name(found.name + side) for side in SIDE_FILES)}


def _open(path: Path, mode: str) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_S)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: not a SQLite database that can be read ({error})") from None
    return connection


def _copy(source: sqlite3.Connection, target: Path) -> Copied:
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, *(partial.with_name(partial.name + side) for side in SIDE_FILES)):
        leftover.unlink(missing_ok=True)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # every page in one step: one read transaction, one commit's state
            copy.execute("PRAGMA journal_mode=DELETE")  # a single file, whatever the source's mode
            revision = _check(copy, str(target))
        finally:
            copy.close()
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
        _sync_folder(target.parent)
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"could not write {target}: {error}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Copied(target, target.stat().st_size, revision)


def _check(connection: sqlite3.Connection, name: str) -> str | None:
    verdict = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if verdict != ["ok"]:
        raise BackupError(f"{name} is damaged: {'; '.join(verdict[:5])}")
    has_version = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
    if has_version is None:
        return None
    row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def _known(revision: str | None, backup_file: Path) -> None:
    """A backup this version can run on: made by storeops, and by this version or an older one."""
    if revision is None:
        raise BackupError(f"{backup_file} is not a storeops database (it has no schema version)")
    from alembic.script import ScriptDirectory  # here, not with the module: `storeops run` imports it (the claim)
    from alembic.util import CommandError

    try:
        found = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise BackupError(
            f"{backup_file} has schema {revision!r}, which this storeops does not know: a newer one made it"
        )


def _set_aside(database: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = database.with_name(f"{database.name}.replaced-{stamp}")
    for side in ("", *SIDE_FILES):  # the WAL goes with its database: it may hold the last commits
        current = database.with_name(database.name + side)
        if current.exists():
            os.replace(current, aside.with_name(aside.name + side))
    return aside


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
