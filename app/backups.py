"""``storeops backup`` and ``storeops restore``: a SQLite database copied while the service runs, and put back
while it does not (``storage/sqlite_backup.py``). PostgreSQL has its own tools; the commands say which."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.settings import Settings
from storage.sqlite_backup import BackupError, Copied, backup, database_file, restore

POSTGRES_TOOLS = (
    "DATABASE_URL is PostgreSQL: back it up with `pg_dump -Fc` and restore with `pg_restore` (docs/deploy.md)"
)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    saving = commands.add_parser(
        "backup", help="copy the SQLite database to FILE, consistent while the service runs (replaces FILE)"
    )
    saving.add_argument("file", type=Path)
    putting_back = commands.add_parser(
        "restore", help="put a backup in the SQLite database's place; refused while the service runs"
    )
    putting_back.add_argument("file", type=Path)
    putting_back.add_argument(
        "--force", action="store_true",
        help="replace an existing database (it is kept beside it as <name>.replaced-<time>)",
    )  # fmt: skip


def backup_command(settings: Settings, target: Path) -> int:
    database = database_file(settings.database.url)
    if database is None:
        return _no_file(settings)
    try:
        copied = backup(database, target)
    except BackupError as error:
        print(f"storeops backup: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"backup": str(copied.path), **_described(copied)}, ensure_ascii=False))
    return 0


def restore_command(settings: Settings, source: Path, *, force: bool) -> int:
    database = database_file(settings.database.url)
    if database is None:
        return _no_file(settings)
    try:
        restored = restore(source, database, replace=force)
    except BackupError as error:
        print(f"storeops restore: {error}", file=sys.stderr)
        return 1
    replaced = None if restored.replaced is None else str(restored.replaced)
    summary = {"restored": str(restored.copied.path), "from": str(source), **_described(restored.copied),
               "replaced_kept_at": replaced}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def _described(copied: Copied) -> dict[str, object]:
    return {"bytes": copied.bytes, "schema": copied.revision}


def _no_file(settings: Settings) -> int:
    if settings.database.url.startswith("postgresql"):
        print(f"storeops: {POSTGRES_TOOLS}", file=sys.stderr)
    else:
        print(
            "storeops: DATABASE_URL names no SQLite file (an in-memory database has nothing to copy)", file=sys.stderr
        )
    return 2
