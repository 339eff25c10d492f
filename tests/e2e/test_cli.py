"""``storeops`` as an operator runs it: a real process, a real port, real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

STOREOPS = [sys.executable, "-m", "app.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "HTTP_", "DATABASE_", "STOREOPS_"))}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'data' / 'storeops.db'}",
        STOREOPS_CONFIG=str(ROOT / "storeops.example.toml"),
        API_TOKEN="e2e-token-0123456789",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def test_run_serves_healthz_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [*STOREOPS, "--env-file", str(tmp_path / "none.env"), "run"],
        cwd=tmp_path,
        env=_env(tmp_path, HTTP_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the service did not come up in 30 s"
                time.sleep(0.1)
        assert response.json() == {"status": "ok", "database": "ok"}
        stock = httpx.get(
            f"http://127.0.0.1:{port}/api/stock/X", headers={"Authorization": "Bearer e2e-token-0123456789"}
        )
        assert stock.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"storeops listening on http://127.0.0.1:{port}" in out
    assert "e2e-token-0123456789" not in out + err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"API_TOKEN": ""}, "API_TOKEN"),
        ({"HTTP_PORT": "eighty"}, "HTTP_PORT"),
        ({"STOREOPS_CONFIG": "/nonexistent/storeops.toml"}, "STOREOPS_CONFIG: topology file"),
        ({"DATABASE_URL": "mysql://root:pw@localhost/x"}, "DATABASE_URL"),
    ],
)
def test_run_refuses_a_bad_configuration_with_the_key_named(
    tmp_path: Path, extra: dict[str, str], expected: str
) -> None:
    env = _env(tmp_path, **extra)
    if extra.get("API_TOKEN") == "":
        env.pop("API_TOKEN")
    done = subprocess.run(
        [*STOREOPS, "--env-file", str(tmp_path / "none.env"), "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert "pw@" not in done.stderr


def test_migrate_creates_the_database_and_can_run_twice(tmp_path: Path) -> None:
    for _ in range(2):
        done = subprocess.run(
            [*STOREOPS, "--env-file", str(tmp_path / "none.env"), "migrate"],
            cwd=tmp_path,
            env=_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "migrated" in done.stdout
    assert (tmp_path / "data" / "storeops.db").exists()


async def test_run_polls_telegram_and_answers_the_owner(tmp_path: Path) -> None:
    """The production path: ``storeops run`` registers the command menu, deletes any webhook,
    polls the Bot API (here the emulator) and answers the owner; the token never reaches a log."""
    import asyncio

    from emulators.telegram import TelegramEmulator, TelegramLimits

    token = "424242:cli-e2e-secret-token"
    async with TelegramEmulator(token=token, limits=TelegramLimits.unlimited()) as tg:
        env = _env(tmp_path, HTTP_PORT=str(_free_port()), TELEGRAM_BOT_TOKEN=token, TELEGRAM_API_BASE=tg.base_url)
        process = await asyncio.create_subprocess_exec(
            *STOREOPS, "--env-file", str(tmp_path / "none.env"), "run", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await tg.wait_for("getUpdates", timeout=30)
            assert [c.method for c in tg.received][:2] == ["setMyCommands", "deleteWebhook"]
            tg.push_text(1001, "/status")  # the example topology's owner
            (sent,) = await tg.wait_for("sendMessage", timeout=10)
            assert sent.params["chat_id"] == "1001" and sent.params["text"].startswith("Каналы:")
        finally:
            process.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert "cli-e2e-secret-token" not in (out + err).decode()


def test_import_commerceml_applies_a_file_or_nothing(tmp_path: Path) -> None:
    samples = ROOT / "tests" / "data" / "commerceml"
    env = _env(tmp_path)
    done = subprocess.run(
        [*STOREOPS, "--env-file", str(tmp_path / "none.env"), "import-commerceml", str(samples / "rests_2_10.xml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    applied = json.loads(done.stdout)
    assert applied["accepted"] > 0 and applied["ignored_stale"] == 0
    broken = subprocess.run(
        [*STOREOPS, "--env-file", str(tmp_path / "none.env"), "import-commerceml", str(samples / "malformed.xml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert broken.returncode == 1 and "nothing applied" in broken.stderr and "Traceback" not in broken.stderr


def test_clear_stock_time_lets_an_earlier_figure_apply(tmp_path: Path) -> None:
    samples, env, none = ROOT / "tests" / "data" / "commerceml", _env(tmp_path), str(tmp_path / "none.env")
    sku = "SKU-9"  # in arbat; the file's other lines have no article and wait for 1C's catalogue
    rests = (samples / "rests_2_10.xml").read_text(encoding="utf-8")
    earlier = tmp_path / "earlier.xml"
    earlier.write_text(rests.replace("2026-11-21T11:30:00+03:00", "2026-11-20T11:30:00+03:00"), encoding="utf-8")

    def storeops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*STOREOPS, "--env-file", none, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    assert storeops("import-commerceml", str(samples / "rests_2_10.xml")).returncode == 0
    stale = json.loads(storeops("import-commerceml", str(earlier)).stdout)
    assert stale["accepted"] == 0 and stale["ignored_stale"] > 0
    cleared = storeops("clear-stock-time", sku, "--warehouse", "arbat")
    assert cleared.returncode == 0, cleared.stderr
    assert json.loads(cleared.stdout) == {"sku": sku, "warehouse": "arbat", "rows_cleared": 1}
    assert json.loads(storeops("import-commerceml", str(earlier)).stdout)["accepted"] == 1
    unknown = storeops("clear-stock-time", sku, "--warehouse", "mars")
    assert unknown.returncode == 1 and "'mars'" in unknown.stderr and "Traceback" not in unknown.stderr
    nothing = storeops("clear-stock-time", "NEVER-SEEN")
    assert nothing.returncode == 1 and "no stock of 'NEVER-SEEN'" in nothing.stderr


def test_a_catalogue_at_hand_applies_the_stock_that_waited_and_lists_products_without_articles(
    tmp_path: Path,
) -> None:
    samples, env, none = ROOT / "tests" / "data" / "commerceml", _env(tmp_path), str(tmp_path / "none.env")

    def storeops(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*STOREOPS, "--env-file", none, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip

    stock = storeops("import-commerceml", str(samples / "rests_2_10.xml"))
    assert stock.returncode == 0, stock.stderr
    assert json.loads(stock.stdout)["accepted"] == 1  # SKU-9; the product without an article waits
    catalogue = storeops("import-commerceml", str(samples / "import_rests_2_10.xml"))
    assert catalogue.returncode == 0, catalogue.stderr
    learnt = json.loads(catalogue.stdout)
    assert (learnt["products"], learnt["without_article"], learnt["still_held"]) == (4, 1, 0)
    assert learnt["released"]["accepted"] == 2  # КР-7 in online and tverskaya
    unmapped = storeops("catalogue", "--unmapped")
    assert unmapped.returncode == 0, unmapped.stderr
    assert [json.loads(line) for line in unmapped.stdout.splitlines()] == [
        {"onec_id": "7a0c1f00-1111-11e0-aaaa-0000000000b0", "name": "Подарочная карта"}
    ]
