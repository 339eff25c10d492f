"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.migrate import alembic_config, migrate
from storage.schema import metadata


async def test_migrated_schema_matches_the_models_and_migrating_again_is_a_no_op(database: Database) -> None:
    await migrate(database)  # the fixture migrated once already

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
