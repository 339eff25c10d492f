"""The Alembic migrations build exactly the schema the code declares, on both databases, and carry the data
across where a table changed shape."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.migrate import alembic_config, at_newest, migrate, newest_revision
from storage.schema import UtcDateTime, metadata
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FakeClock
from workflows.alerts import AlertDesk
from workflows.model import Customer, Order
from workflows.operations import Operations
from workflows.ports import ChannelState, Heartbeat, ReportDelivery
from workflows.tasks import Task, TaskBoard
from workflows.topology import Topology


async def test_migrated_schema_matches_the_models_and_migrating_again_is_a_no_op(database: Database) -> None:
    await migrate(database)  # the fixture migrated once already

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert context.get_current_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
        return list(compare_metadata(context, metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_a_database_at_the_newest_revision_is_told_without_alembic(database: Database) -> None:
    """On start the service asks the database its revision and loads Alembic only when it is behind: the newest
    revision must be the one Alembic would migrate to, and a database one step behind must be migrated."""
    assert newest_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert await at_newest(database)  # the fixture migrated it
    head = newest_revision()
    assert head is not None
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    await _migrate_to(database, previous, down=True)
    assert not await at_newest(database)
    await migrate(database)
    assert await at_newest(database)


async def test_migrated_primary_keys_match_the_models(database: Database) -> None:
    """Alembic's comparison above leaves primary keys out: a key widened in the models but not by a migration
    would go unseen."""

    def keys(connection: Connection) -> dict[str, list[str]]:
        inspector = sa.inspect(connection)
        return {name: inspector.get_pk_constraint(name)["constrained_columns"] for name in metadata.tables}

    async with database.engine.connect() as connection:
        found = await connection.run_sync(keys)
    assert found == {name: [c.name for c in table.primary_key.columns] for name, table in metadata.tables.items()}


async def _migrate_to(database: Database, revision: str, *, down: bool = False) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(run)


CONTROLS = sa.table("controls", sa.column("name"), sa.column("value"), sa.column("at", UtcDateTime()))
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def test_controls_rows_move_into_the_typed_tables(
    database: Database, topology: Topology, clock: FakeClock
) -> None:
    """Before 0010 channel state, 1C's heartbeat and report sends were ``controls`` rows under name prefixes;
    after it a paused channel is still paused, an open circuit still open, 1C's last word still known."""
    await _migrate_to(database, "0009", down=True)
    circuit = T0 + timedelta(minutes=1)
    rows = [
        ("channel:paused:ozon", "telegram:1", T0), ("channel:paused:site", "", T0),  # site was resumed
        ("channel:sync_requested:ozon", "telegram:2", T0), ("sync:reconciled:ozon", "checked=3 corrected=1", circuit),
        ("sync:circuit_until:wildberries", circuit.isoformat(), T0), ("sync:failures:wildberries", "5", T0),
        ("sync:failures:yandex_market", "0", T0), ("shipping:failures:cdek", "2", T0),
        ("onec:last_update", "stock", T0), ("report:daily:2026-11-20", "sent", T0),
        ("report:daily:2026-11-21", "sending:host-a", T0), ("something:else", "x", T0),
    ]  # fmt: skip
    async with database.engine.begin() as connection:
        await connection.execute(CONTROLS.insert(), [{"name": n, "value": v, "at": at} for n, v, at in rows])
    await migrate(database)

    uow = SqlUnitOfWorkFactory(database)
    async with uow(read_only=True) as work:
        states = await work.channel_states.all()
        heard = await work.heartbeats.last()
        sent = await work.report_deliveries.get(date(2026, 11, 20))
        sending = await work.report_deliveries.get(date(2026, 11, 21))
    assert states == {
        "ozon": ChannelState("ozon", paused_by="telegram:1", paused_at=T0, sync_requested_at=T0,
                             sync_requested_by="telegram:2", reconciled_at=circuit, reconciled="checked=3 corrected=1"),
        "wildberries": ChannelState("wildberries", circuit_until=circuit, failures_in_a_row=5),
        "cdek": ChannelState("cdek", failures_in_a_row=2),
    }  # fmt: skip
    assert heard == Heartbeat("stock", T0)
    assert sent == ReportDelivery(date(2026, 11, 20), "sent", None, T0)
    assert sending == ReportDelivery(date(2026, 11, 21), "sending", "host-a", T0)
    assert "controls" not in await _tables(database)

    clock.current = T0 + timedelta(seconds=30)
    operations = Operations(uow, clock, topology, AlertDesk(clock, TaskBoard(uow, clock)), timedelta(minutes=30))
    assert await operations.is_paused("ozon") and not await operations.is_paused("site")
    status = await operations.status()
    assert (status.onec_last_update, status.failures) == (T0, {"wildberries": 5})


async def test_downgrading_0010_gives_the_rows_back_to_controls(database: Database) -> None:
    uow = SqlUnitOfWorkFactory(database)
    async with uow() as work:
        await work.channel_states.pause("ozon", "telegram:1", T0)
        await work.heartbeats.heard("stock", T0)
        await work.report_deliveries.save(ReportDelivery(date(2026, 11, 21), "sending", "host-a", T0))
        await work.commit()
    await _migrate_to(database, "0009", down=True)
    async with database.engine.connect() as connection:
        found = {row.name: (row.value, row.at) for row in await connection.execute(sa.select(CONTROLS))}
    assert found == {
        "channel:paused:ozon": ("telegram:1", T0), "onec:last_update": ("stock", T0),
        "report:daily:2026-11-21": ("sending:host-a", T0),
    }  # fmt: skip
    await migrate(database)
    async with uow(read_only=True) as work:
        assert (await work.channel_states.get("ozon")).paused_by == "telegram:1"


TASK_MESSAGES = sa.table(
    "task_messages", sa.column("task_id"), sa.column("platform"), sa.column("chat"), sa.column("message_id")
)


async def test_a_task_message_from_before_0011_is_kept_beside_a_second_copy_in_its_chat(
    database: Database, clock: FakeClock
) -> None:
    """Before 0011 a chat held one message per task; after it the row written then is still there and a second
    copy of the task in that chat is kept beside it. Going back down keeps one copy per chat."""
    uow = SqlUnitOfWorkFactory(database)
    now = clock.now()
    async with uow() as work:
        task = await TaskBoard(uow, clock).open(work, Task(None, "alert", "alert:x", "role:owner", ("ack",), now, now))
        await work.commit()
    assert task.id is not None
    await _migrate_to(database, "0010", down=True)
    async with database.engine.begin() as connection:
        await connection.execute(
            TASK_MESSAGES.insert(), {"task_id": task.id, "platform": "telegram", "chat": "1001", "message_id": "41"}
        )
    await migrate(database)
    async with uow() as work:
        await work.tasks.add_message(task.id, "telegram", "1001", "57")  # /tasks showed it again
        await work.tasks.add_message(task.id, "telegram", "1002", "43")
        await work.commit()
    async with uow(read_only=True) as work:
        shown = sorted(await work.tasks.messages(task.id))
    assert shown == [("telegram", "1001", "41"), ("telegram", "1001", "57"), ("telegram", "1002", "43")]

    await _migrate_to(database, "0010", down=True)
    async with database.engine.connect() as connection:
        kept = sorted((r.chat, r.message_id) for r in await connection.execute(sa.select(TASK_MESSAGES)))
    assert kept == [("1001", "41"), ("1002", "43")]
    await migrate(database)


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_an_order_from_before_0016_has_no_ship_by_and_going_down_keeps_the_order(database: Database) -> None:
    """0016 adds the marketplace's shipping deadline to orders: an order taken before reads back without one, an
    order taken after keeps its own, and going back down drops only the column."""
    await _migrate_to(database, "0015", down=True)
    columns = ("channel", "external_id", "customer_name", "customer_phone", "customer_email", "currency", "created_at")
    old_order = {"channel": "ozon", "external_id": "OZ-OLD", "currency": "RUB", "created_at": T0}
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.table("orders", *(sa.column(c) for c in columns)).insert(),
            old_order | {"customer_name": "", "customer_phone": "", "customer_email": ""},
        )
    await migrate(database)
    uow = SqlUnitOfWorkFactory(database)
    async with uow() as work:
        await work.orders.add(Order(None, "ozon", "OZ-NEW", Customer(), None, "RUB", T0, [], ship_by=T0 + HOUR))
        await work.commit()
    async with uow(read_only=True) as work:
        old, new = await work.orders.find("ozon", "OZ-OLD"), await work.orders.find("ozon", "OZ-NEW")
    assert old is not None and old.ship_by is None
    assert new is not None and new.ship_by == T0 + HOUR

    await _migrate_to(database, "0015", down=True)
    async with database.engine.connect() as connection:
        kept = await connection.execute(sa.text("SELECT external_id FROM orders ORDER BY external_id"))
        assert [row.external_id for row in kept] == ["OZ-NEW", "OZ-OLD"]
    await migrate(database)


async def test_orders_and_blocked_clients_from_before_0019_are_found_by_any_spelling(database: Database) -> None:
    """0019 fills the folded number and the phone's digits of the rows already there: an old order is found by its
    number in another case and its phone written another way, an old block still stops the client; going back
    down keeps the rows."""
    await _migrate_to(database, "0018", down=True)
    columns = ("channel", "external_id", "customer_name", "customer_phone", "customer_email", "currency", "created_at")
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.table("orders", *(sa.column(c) for c in columns)).insert(),
            [
                {"channel": "site", "external_id": f"САЙТ-{n}", "customer_name": "", "customer_phone": phone,
                 "customer_email": "", "currency": "RUB", "created_at": T0 + n * HOUR}
                for n, phone in enumerate(["+7 (916) 000-00-01", "", "89160000001"])
            ],
        )  # fmt: skip
        blocked = sa.table("blocked_clients", *(sa.column(c) for c in ("phone", "email", "reason", "blocked_at")))
        await connection.execute(blocked.insert(), {"phone": "8 916 111-22-33", "reason": "fraud", "blocked_at": T0})
    await migrate(database)
    uow = SqlUnitOfWorkFactory(database)
    async with uow(read_only=True) as work:
        (old,) = await work.orders.named("site", "сайт-1")
        by_phone = await work.orders.ids_of_phone("+79160000001", 5)
        assert await work.payments.is_blocked("+7 916 111 22 33", "") is True
    assert old.external_id == "САЙТ-1"
    async with database.engine.connect() as connection:
        rows = await connection.execute(sa.text("SELECT external_id, id FROM orders"))
        ids = {row.external_id: row.id for row in rows}
    assert by_phone == [ids["САЙТ-2"], ids["САЙТ-0"]]

    await _migrate_to(database, "0018", down=True)
    async with database.engine.connect() as connection:
        kept = await connection.execute(sa.text("SELECT count(*) FROM orders"))
        assert kept.scalar_one() == 3
    await migrate(database)
