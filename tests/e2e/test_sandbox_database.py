"""``storeops sandbox --database-url``: the sandbox starts from an empty database of its own every time, removes it
however it stops, and never touches a database it did not make. A sandbox that runs is the real process; one refused
before anything starts is ``main`` in this one. The scenarios themselves run on both databases in
``test_sandbox.py``."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from app.cli import main
from tests.conftest import _pg_admin
from tests.sandbox_process import created_database, launch, ready_url, running_sandbox


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql+aiomysql://shop:s3cret@db.example:3306/storeops",
         "mysql+aiomysql://shop:***@db.example:3306/storeops is neither PostgreSQL nor SQLite; give "
         "postgresql+asyncpg://user@host:5432 (a server: the sandbox creates its own database there) or "
         "sqlite+aiosqlite:///path/to/new.db"),
        ("sqlite+aiosqlite:///:memory:", "an in-memory SQLite database is not shared by the service's connections"),
        ("not a url", "'not a url' is not a database URL; give postgresql+asyncpg://user@host:5432"),
    ],
    ids=["mysql", "in-memory", "not-a-url"],
)  # fmt: skip
def test_a_url_that_is_neither_postgresql_nor_sqlite_is_refused_before_anything_starts(
    url: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--database-url", url])
    assert exited.value.code == 2
    errors = capsys.readouterr().err
    assert f"storeops sandbox: error: argument --database-url: {said}" in errors and "s3cret" not in errors


def test_an_existing_sqlite_file_is_refused_and_left_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "storeops.db"
    kept.write_bytes(b"someone's database")
    assert main(["sandbox", "--port", "0", "--database-url", f"sqlite+aiosqlite:///{kept}"]) == 2
    said = capsys.readouterr().err
    assert f"storeops sandbox: {kept} exists" in said and "never overwrites" in said, said
    assert kept.read_bytes() == b"someone's database"


def test_a_new_sqlite_file_is_the_sandboxs_while_it_runs_and_removed_when_it_stops(tmp_path: Path) -> None:
    path = tmp_path / "data" / "sandbox.db"
    with running_sandbox(tmp_path, "--database-url", f"sqlite:///{path}") as box:  # the plain driver name is taken
        assert path.stat().st_size > 0  # migrated, seeded
        assert box.state()["stock"]["rows"]
    assert not path.exists() and not path.with_name("sandbox.db-wal").exists()


# -- PostgreSQL --------------------------------------------------------------------------------------------------


def databases(server: str) -> dict[str, int]:
    """The sandbox databases on the server, each with how many connections it has."""

    async def listed() -> dict[str, int]:
        url = make_url(server)
        connection = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                           password=url.password, database="postgres", timeout=5)  # fmt: skip
        try:
            rows = await connection.fetch(
                "SELECT d.datname, (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname) AS n "
                "FROM pg_database d WHERE d.datname LIKE 'storeops\\_sandbox\\_%'"
            )
            return {row["datname"]: int(row["n"]) for row in rows}
        finally:
            await connection.close()

    return asyncio.run(listed())


@pytest.mark.postgres
def test_on_postgresql_the_sandbox_makes_its_own_database_and_drops_it_on_ctrl_c(
    pg_server: str, tmp_path: Path
) -> None:
    """A killed sandbox leaves its database: the next one names it in its log and leaves it alone, and drops only
    its own on Ctrl-C."""
    (killed_work := tmp_path / "killed").mkdir()
    killed = launch(killed_work, "--database-url", pg_server)
    try:
        ready_url(killed, killed_work / "sandbox.log")
    finally:
        killed.kill()  # no chance to clean up
        killed.wait(timeout=30)
    leftover = created_database(killed_work / "sandbox.log")
    assert leftover, (killed_work / "sandbox.log").read_text()
    try:
        deadline = time.monotonic() + 20
        while databases(pg_server).get(leftover) != 0:  # the server notices its connections are gone
            assert time.monotonic() < deadline, f"{leftover} is not left idle: {databases(pg_server)}"
            time.sleep(0.2)
        (work := tmp_path / "next").mkdir()
        with running_sandbox(work, "--database-url", pg_server) as box:
            own = created_database(box.log)
            assert own and own != leftover and own in databases(pg_server)
            warning = next(line for line in box.log.read_text().splitlines() if "did not stop" in line)
            assert leftover in warning and f'DROP DATABASE "{leftover}";' in warning, warning
            assert box.state()["stock"]["rows"]
        log = box.log.read_text()
        assert f"dropped database {own}" in log
        assert own not in databases(pg_server) and leftover in databases(pg_server)  # only its own
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{leftover}" WITH (FORCE)')


@pytest.mark.postgres
def test_a_sandbox_that_fails_to_start_drops_the_database_it_made(pg_server: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = launch(tmp_path, "--database-url", pg_server, "--port", str(port))  # the last --port wins
        code = process.wait(timeout=60)
    log = (tmp_path / "sandbox.log").read_text(errors="replace")
    assert code == 1 and f"cannot listen on 127.0.0.1:{port}" in log, log
    made = created_database(tmp_path / "sandbox.log")
    assert made and f"dropped database {made}" in log and made not in databases(pg_server)


@pytest.mark.postgres
def test_sigterm_while_starting_drops_the_database_made_so_far(pg_server: str, tmp_path: Path) -> None:
    process = launch(tmp_path, "--database-url", pg_server)
    deadline = time.monotonic() + 60
    while (made := created_database(tmp_path / "sandbox.log")) is None:  # made, not yet migrated and serving
        assert process.poll() is None and time.monotonic() < deadline, "no database made"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    log = (tmp_path / "sandbox.log").read_text(errors="replace")
    assert code == 128 + signal.SIGTERM and "Traceback" not in log, log  # 0 had it been ready
    assert f"dropped database {made}" in log and made not in databases(pg_server)


@pytest.mark.postgres
def test_a_role_without_createdb_is_told_which_privilege_it_lacks(
    pg_server: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="storeops.sandbox")
    role = f"storeops_no_createdb_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        url = make_url(pg_server).set(username=role).render_as_string(hide_password=False)
        assert main(["sandbox", "--port", "0", "--database-url", url]) == 2
        said = capsys.readouterr().err
        assert f"storeops sandbox: the PostgreSQL role {role} at " in said and "CREATEDB privilege" in said, said
        assert f"ALTER ROLE {role} CREATEDB" in said
        assert "created database" not in caplog.text
    finally:
        _pg_admin(f'DROP ROLE IF EXISTS "{role}"')
