"""The fault suite's fixtures: a database per test on the PostgreSQL server the other tests use, made from a
template migrated once per session; and the figures' table and JSON at the end.

The suite is not collected by ``make test`` (``norecursedirs`` in pyproject.toml); ``make test-faults`` runs it.
Without a reachable server it skips with the reason, except with ``STOREOPS_REQUIRE_POSTGRES=1`` (CI), where it
fails."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.faults import figures
from tests.faults.world import ROOT

_SESSION_STARTED = time.monotonic()
_STARTED_AT = datetime.now(UTC).isoformat(timespec="seconds")
_LOAD_AT_START = os.getloadavg()
_SERVER: dict[str, str] = {}  # the shared server's version, once asked


def admin(server_url: str, *statements: str) -> None:
    """Run statements on the server's ``postgres`` database, on a loop of their own (the caller may be in one)."""

    async def run() -> None:
        url = make_url(server_url)
        connection = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                           password=url.password, database="postgres", timeout=10)  # fmt: skip
        try:
            _SERVER.setdefault("version", str(await connection.fetchval("SHOW server_version")))
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def migrate(url: str, folder: Path) -> None:
    """``storeops migrate`` on ``url``, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(PYTHONPATH=str(ROOT), DATABASE_URL=url, LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--env-file", str(folder / "none.env"), "migrate"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"storeops migrate failed: {done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def migrated_template(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once, that each test's database is copied from (``CREATE DATABASE … TEMPLATE``)."""
    name = f"storeops_faults_template_{uuid.uuid4().hex[:8]}"
    admin(pg_server, f'CREATE DATABASE "{name}"')
    try:
        migrate(database_url(pg_server, name), tmp_path_factory.mktemp("migrate"))
        yield name
    finally:
        admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def shop_database(pg_server: str, migrated_template: str) -> Iterator[str]:
    """A migrated, empty database of this test's own on the shared server, dropped at the end."""
    name = f"storeops_faults_{uuid.uuid4().hex[:10]}"
    admin(pg_server, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    try:
        yield database_url(pg_server, name)
    finally:
        admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not figures.MEASURED:
        return
    terminalreporter.section("fault recovery (seconds)")
    for line in figures.table().splitlines():
        terminalreporter.write_line(line)
    from bench.common import machine_facts

    machine = machine_facts(_SERVER.get("version"))
    machine.update(started_at=_STARTED_AT, load_average_at_start=[round(n, 2) for n in _LOAD_AT_START],
                   load_average_at_end=[round(n, 2) for n in os.getloadavg()])  # fmt: skip
    written = figures.write({
        "suite": "tests/faults (make test-faults)",
        "wall_time_s": round(time.monotonic() - _SESSION_STARTED, 1),
        "machine": machine,
    })  # fmt: skip
    if written is not None:
        terminalreporter.write_line(f"written to {written}")
