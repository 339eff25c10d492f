"""Apply the Alembic migrations, from ``storeops migrate`` and on start.

A database already at the newest revision — every start but the first after an upgrade — is told by one query,
without loading Alembic: its modules (and Mako's) hold some 5 MB for the service's whole life otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from storage.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"""^revision\s*=\s*['"]([^'"]+)['"]""", re.MULTILINE)
_REVISES = re.compile(r"""^down_revision\s*=\s*['"]([^'"]+)['"]""", re.MULTILINE)


def alembic_config(url: str = "") -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def newest_revision() -> str | None:
    """The one revision of ``migrations/versions`` that no other revises; ``None`` when that is not clear (no file,
    several heads, a merge): then Alembic decides."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        revised.update(_REVISES.findall(source))
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


async def at_newest(database: Database) -> bool:
    """The database's schema is at :func:`newest_revision` (a database never migrated is not)."""
    newest = newest_revision()
    if newest is None:
        return False
    async with database.engine.connect() as connection:
        try:
            held = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        except DBAPIError:  # no such table: never migrated
            return False
    return list(held) == [newest]


async def migrate(database: Database) -> None:
    """Bring the schema to the newest revision; a no-op when it is there already."""
    if await at_newest(database):
        return
    from alembic import command

    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with database.engine.begin() as connection:
        await connection.run_sync(upgrade)
