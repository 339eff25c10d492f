"""``storeops backup`` and ``storeops restore`` as an operator runs them beside a running service on SQLite.

The service is a real process (its claim on the file is another process's lock); the commands run in this one,
through the same ``main``, since starting the CLI costs seconds of imports each time."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.cli import main
from tests.e2e.test_cli import STOREOPS, _env, _free_port

TOKEN = {"Authorization": "Bearer e2e-token-0123456789"}


@contextmanager
def _service(tmp_path: Path, port: int) -> Iterator[str]:
    process = subprocess.Popen(
        [*STOREOPS, "--env-file", str(tmp_path / "none.env"), "run"],
        cwd=tmp_path, env=_env(tmp_path, HTTP_PORT=str(port)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the service did not come up in 60 s"
                time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def _order(base: str, external_id: str) -> None:
    placed = httpx.post(f"{base}/api/orders", headers=TOKEN, timeout=10,
                        json={"channel": "ozon", "external_id": external_id, "lines": [{"sku": "КР-7/2", "qty": 1}]})  # fmt: skip
    assert placed.status_code == 201, placed.text


def _orders(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT external_id FROM orders ORDER BY id")]


@pytest.fixture
def storeops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """``storeops ARGS`` in this process, with the service's environment: (exit code, stdout, stderr)."""
    for key, value in _env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--env-file", str(tmp_path / "none.env"), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_backup_while_running_restore_only_once_stopped(tmp_path: Path, storeops) -> None:
    database = tmp_path / "data" / "storeops.db"
    port = _free_port()
    with _service(tmp_path, port) as base:
        _order(base, "BEFORE-BACKUP")
        code, _, err = storeops("backup", "backups/monday.db")
        assert code == 1 and "no folder" in err  # said, not created
        for own in ("data/storeops.db", "data/../data/storeops.db-wal"):  # replacing it would lose the service's writes
            code, _, err = storeops("backup", own)
            assert code == 1 and "the database's own file" in err
        (tmp_path / "backups").mkdir()
        code, out, err = storeops("backup", "backups/monday.db")
        assert code == 0, err
        assert json.loads(out)["bytes"] == (tmp_path / "backups" / "monday.db").stat().st_size
        _order(base, "AFTER-BACKUP")
        code, _, err = storeops("restore", "backups/monday.db", "--force")
        assert code == 1
        assert f"{database} is in use by storeops run (pid" in err
        assert _orders(database) == ["BEFORE-BACKUP", "AFTER-BACKUP"]  # untouched
        code, _, err = storeops("run")  # a second service on the file; the same port, so it could never serve
        assert code == 1 and "is in use by storeops run" in err
    code, _, err = storeops("restore", "backups/monday.db")
    assert code == 1 and "add --force" in err
    code, out, err = storeops("restore", "backups/monday.db", "--force")
    assert code == 0, err
    replaced = Path(json.loads(out)["replaced_kept_at"])
    assert _orders(database) == ["BEFORE-BACKUP"]
    assert _orders(replaced) == ["BEFORE-BACKUP", "AFTER-BACKUP"]  # kept beside it, WAL and all


def test_on_postgresql_the_commands_name_its_own_tools(storeops, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://storeops:secret-pw@db.invalid/storeops")
    for command in (["backup", "x.db"], ["restore", "x.db"]):
        code, _, err = storeops(*command)
        assert code == 2
        assert "pg_dump -Fc" in err and "secret-pw" not in err
