"""Footprint: the memory a started ``storeops run`` holds at idle, and a full 1C snapshot through the stock intake.

**Idle.** ``storeops run`` started as the e2e tests start it (``tests/e2e/test_cli.py``: a SQLite file, the example
topology, an API token, a free port, no ``.env``), in two configurations: with the chats — Telegram and Slack set up
against their emulators, run here on 127.0.0.1, so that the service polls Telegram and its Slack client is live as
in production — and with none (no chat tokens, as the tests run it). Once it prints its listening line and has run
``settle`` seconds, its resident memory (``VmRSS``) is read every half second for ``sample`` seconds: the median is
the idle figure (target ≤ 220 MB with the chats); the start-up peak (``VmHWM``) is reported beside it, and whether
the chart library was mapped into the process (``/proc/<pid>/maps``: it should come with the first chart only).

**Snapshot.** 1C's full stock, 100 000 SKUs × 10 warehouses = 1 000 000 figures, sent in messages of 5 000 lines
through :meth:`~workflows.onec_intake.StockIntake.apply` — the path of ``POST /api/1c/stock``, of the CommerceML
exchange and of the OData pull — into a fresh SQLite file, with the shop's four channels queuing their outbox lines
(:mod:`bench.snapshot_intake`, a process of its own built as ``storeops run`` builds the service, so that its peak
memory is the intake's). Twice: the first snapshot into the empty database, then the same an hour later with every
tenth SKU changed. Beside each message, in that process and at that moment, stdlib ``sqlite3`` applies the same
figures with the same upsert to a file of its own: ``ratio_to_raw`` is raw's time ÷ ours (target ≥ 0.35), and the
time of each successive 100 000 figures shows whether the intake slows as the table grows. Peak memory of the
intake's process: target ≤ idle + 150 MB. The same on PostgreSQL beside raw ``asyncpg``, when a server answers.

``BENCH_FOOTPRINT_SCALE`` scales the snapshot (1 = 100 000 SKUs; ``--quick`` uses 0.02): e.g. 0.05 in CI-like
conditions. ``BENCH_FOOTPRINT_PYTHON`` names the interpreter the service and the snapshot's process run with — a
production install (``pip install .``) rather than the bench's own, whose test tools (rich, click) httpx imports
when they are there (some 5 MB). Raw ``sqlite3``'s page cache (2 MB) is in the snapshot process's memory too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import (
    Json,
    PgProbe,
    load_average,
    machine_facts,
    memory_mb,
    migrated_pg,
    migrated_sqlite,
    sqlite_url,
    temporary_pg_database,
)
from bench.snapshot_intake import CHANNELS, MESSAGE_LINES, STORES
from emulators.slack import SlackEmulator
from emulators.telegram import TelegramEmulator, TelegramLimits

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "storeops.example.toml"
SCALE_ENV = "BENCH_FOOTPRINT_SCALE"
PYTHON_ENV = "BENCH_FOOTPRINT_PYTHON"
FULL_SKUS = 100_000
TARGET_IDLE_MB = 220.0
TARGET_GROWTH_MB = 150.0
TARGET_RATIO = 0.35
START_TIMEOUT_S = 120.0
TELEGRAM_TOKEN = "4242:footprint-bench"  # the emulators' own tokens, not secrets
SLACK_TOKEN, SLACK_SECRET = "xoxb-footprint-bench", "footprint-bench-signing-secret"
CHART_LIBRARY = "/matplotlib/"


@dataclass(frozen=True)
class Sizes:
    skus: int
    settle_s: float
    sample_s: float


def sizes(quick: bool) -> Sizes:
    scale = float(os.environ.get(SCALE_ENV) or (0.02 if quick else 1.0))
    return Sizes(
        skus=max(1, round(FULL_SKUS * scale)), settle_s=3.0 if quick else 10.0, sample_s=3.0 if quick else 10.0
    )


# ------------------------------------------------------------------------------------------ idle


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _service_python() -> str:
    """The interpreter ``storeops run`` is started with: ``BENCH_FOOTPRINT_PYTHON`` (a production install, without
    the test tools: they bring modules httpx loads when present), else the bench's own."""
    return os.environ.get(PYTHON_ENV) or sys.executable


def _service_env(folder: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment ``storeops run`` gets: the bench's own, less any setting of the service's, plus ours."""
    prefixes = ("API_", "HTTP_", "DATABASE_", "STOREOPS_", "TELEGRAM_", "SLACK_", "WB_", "OZON_", "YM_", "SITE_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    env.update(
        DATABASE_URL=sqlite_url(folder / "storeops.db"), STOREOPS_CONFIG=str(EXAMPLE_CONFIG),
        API_TOKEN="footprint-bench-api-token", HTTP_PORT=str(_free_port()), PYTHONPATH=str(REPO), **extra,
    )  # fmt: skip
    return env


@contextlib.asynccontextmanager
async def _chats(with_chats: bool) -> AsyncIterator[dict[str, str]]:
    """The chats' emulators and the settings that point the service at them (none without chats)."""
    if not with_chats:
        yield {}
        return
    async with (
        TelegramEmulator(token=TELEGRAM_TOKEN, limits=TelegramLimits.unlimited()) as telegram,
        SlackEmulator(bot_token=SLACK_TOKEN, auto_create_channels=True) as slack,
    ):
        yield {
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_API_BASE": telegram.base_url,
            "SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_BASE": slack.base_url,
        }  # fmt: skip


async def _has_test_tools() -> bool:
    """Whether the service's interpreter has the test tools' packages (rich, click), which httpx imports when there:
    a production install (``pip install .``) has not."""
    code = "import importlib.util as u; print(bool(u.find_spec('rich') or u.find_spec('click')))"
    process = await asyncio.create_subprocess_exec(_service_python(), "-c", code, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    return out.strip() == b"True"


async def _storeops(folder: Path, env: dict[str, str], *command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        _service_python(), "-m", "app.cli", "--env-file", str(folder / "none.env"), *command,
        cwd=folder, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    if await asyncio.wait_for(process.wait(), START_TIMEOUT_S) != 0:
        raise RuntimeError(f"storeops {' '.join(command)} failed")


def _chart_library_mapped(pid: int) -> bool | None:
    try:
        return CHART_LIBRARY in Path(f"/proc/{pid}/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


async def idle(with_chats: bool, sizes: Sizes, *, restart: bool = True) -> Json:
    """Start ``storeops run``, let it settle, read its resident memory, stop it with Ctrl-C. ``restart``: on a
    database ``storeops migrate`` brought to the newest schema before, as every start finds it but the first after an
    upgrade; otherwise on an empty one, which the start migrates."""
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as name:
        folder = Path(name)
        async with _chats(with_chats) as chat_settings:
            env = _service_env(folder, chat_settings)
            if restart:
                await _storeops(folder, env, "migrate")
            started = time.perf_counter()
            process = await asyncio.create_subprocess_exec(
                _service_python(), "-m", "app.cli", "--env-file", str(folder / "none.env"), "run",
                cwd=folder, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                assert process.stdout is not None
                line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
                if b"storeops listening on" not in line:
                    raise RuntimeError(f"storeops run did not start: {line!r} (exit {await process.wait()})")
                ready_s = time.perf_counter() - started
                await asyncio.sleep(sizes.settle_s)
                samples: list[float] = []
                for _ in range(max(1, round(sizes.sample_s / 0.5))):
                    if (rss := memory_mb(process.pid)["rss"]) is not None:
                        samples.append(rss)
                    await asyncio.sleep(0.5)
                peak = memory_mb(process.pid)["hwm"]
                chart = _chart_library_mapped(process.pid)
                load = load_average()
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
                    try:
                        await asyncio.wait_for(process.wait(), 60)
                    except TimeoutError:
                        process.kill()
                        await process.wait()
    return {
        "chats": "Telegram (polling) and Slack, against their emulators" if with_chats else "none",
        "database": "at the newest schema (storeops migrate before)" if restart else "empty: migrated by the start",
        "ready_seconds": round(ready_s, 2),
        "rss_mb": round(statistics.median(samples), 1) if samples else None,
        "rss_mb_max": max(samples) if samples else None,
        "start_up_peak_mb": peak,
        "chart_library_loaded": chart,
        "samples": len(samples),
        "load_average": load,  # as the samples ended
    }


# ------------------------------------------------------------------------------------------ snapshot


async def _snapshot_process(database_url: str, skus: int, raw: list[str]) -> Json:
    env = {**os.environ, "STOREOPS_CONFIG": str(EXAMPLE_CONFIG), "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        _service_python(), "-m", "bench.snapshot_intake", "--database-url", database_url, "--skus", str(skus), *raw,
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.snapshot_intake exited with {process.returncode}")
    found: Json = json.loads(out.decode().strip().splitlines()[-1])
    return found


async def snapshot_sqlite(skus: int) -> Json:
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as name:
        folder = Path(name)
        await (await migrated_sqlite(folder / "raw.db", "FULL")).dispose()  # the raw baseline's: same schema
        found = await _snapshot_process(sqlite_url(folder / "ours.db"), skus, ["--raw-sqlite", str(folder / "raw.db")])
        found["file_mb"] = round((folder / "ours.db").stat().st_size / 1e6, 1)
    return {"database": "SQLite file (synchronous=FULL, WAL), raw: stdlib sqlite3 with the same pragmas", **found}


async def snapshot_pg(skus: int, pg_url: str) -> Json:
    async with temporary_pg_database(pg_url) as ours, temporary_pg_database(pg_url) as raw:
        for target in (ours, raw):
            await (await migrated_pg(target)).dispose()
        found = await _snapshot_process(ours.url, skus, ["--raw-pg", raw.dsn])
    return {"database": "PostgreSQL, raw: asyncpg executemany, one connection", **found}


# ------------------------------------------------------------------------------------------ entry


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    size = sizes(quick)
    started = time.perf_counter()
    machine = machine_facts(probe.server_version)  # its load average and time: the run's start
    log(f"footprint: idle storeops run, with the chats and without ({size.settle_s:g} s to settle)")
    idle_chats = await idle(True, size)
    idle_bare = await idle(False, size)
    idle_first = await idle(True, size, restart=False)
    log(f"footprint: idle {idle_chats['rss_mb']} MB with the chats ({idle_first['rss_mb']} MB on a first start), "
        f"{idle_bare['rss_mb']} MB without")  # fmt: skip
    figures = size.skus * (STORES + 1)
    log(f"footprint: a 1C snapshot of {figures} figures, twice, SQLite beside raw sqlite3")
    sqlite_part = await snapshot_sqlite(size.skus)
    log(f"footprint: SQLite {json.dumps(_short(sqlite_part))}")
    if probe.available:
        log("footprint: the same on PostgreSQL beside raw asyncpg")
        pg_part: Json = await snapshot_pg(size.skus, pg_url)
        log(f"footprint: PostgreSQL {json.dumps(_short(pg_part))}")
    else:
        pg_part = {"skipped": True, "reason": probe.reason}
    result: Json = {
        "benchmark": "footprint",
        "quick": quick,
        "machine": machine,
        "parameters": {
            **asdict(size),
            "scale": size.skus / FULL_SKUS,
            "scale_env": SCALE_ENV,
            "warehouses": STORES + 1,
            "channels": CHANNELS,
            "figures_per_snapshot": figures,
            "message_lines": MESSAGE_LINES,
            "snapshots": "first: into the empty database; again: an hour later, every tenth SKU changed",
        },
        "idle": {"with_chats": idle_chats, "without_chats": idle_bare, "with_chats_first_start": idle_first},
        "service_python": _service_python(),
        "service_has_test_tools": await _has_test_tools(),
        "snapshot": {"sqlite": sqlite_part, "postgres": pg_part},
        "load_average_at_end": load_average(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["summary"] = summary(result)
    return result


def _short(part: Json) -> Json:
    return {
        name: {key: phase[key] for key in ("ours_seconds", "raw_seconds", "ratio_to_raw")}
        for name, phase in part["phases"].items()
    } | {"peak_mb": part["memory_mb"]["peak"]}


def summary(result: Json) -> Json:
    idle_mb = result["idle"]["with_chats"]["rss_mb"]
    found: Json = {
        "idle_rss_mb_with_chats": idle_mb,
        "idle_rss_mb_without_chats": result["idle"]["without_chats"]["rss_mb"],
        "idle_rss_mb_with_chats_first_start": result["idle"]["with_chats_first_start"]["rss_mb"],
        "service_has_test_tools": result["service_has_test_tools"],
        "chart_library_loaded_at_idle": result["idle"]["with_chats"]["chart_library_loaded"],
        "target_idle_mb": TARGET_IDLE_MB,
        "target_idle_met": idle_mb is not None and idle_mb <= TARGET_IDLE_MB,
        "figures_per_snapshot": result["parameters"]["figures_per_snapshot"],
    }
    for name, part in result["snapshot"].items():
        if part.get("skipped"):
            found[name] = {"skipped": True, "reason": part["reason"]}
            continue
        peak = part["memory_mb"]["peak"]
        ratios = {phase: figures["ratio_to_raw"] for phase, figures in part["phases"].items()}
        spans = part["phases"]["first"]["ours_seconds_per_100k_figures"]
        found[name] = {
            "ours_figures_per_second": {phase: f["ours_figures_per_second"] for phase, f in part["phases"].items()},
            "ratio_to_raw": ratios,
            "target_ratio": TARGET_RATIO,
            "first_and_last_100k_seconds": [spans[0], spans[-1]] if spans else None,
            "peak_rss_mb": peak,
            "peak_target_mb": round(idle_mb + TARGET_GROWTH_MB, 1) if idle_mb is not None else None,
            "growth_over_start_mb": round(peak - part["memory_mb"]["after_start"], 1),
        }
        if name == "sqlite":
            found[name]["target_ratio_met"] = all(r is not None and r >= TARGET_RATIO for r in ratios.values())
            found[name]["target_peak_met"] = idle_mb is not None and peak <= idle_mb + TARGET_GROWTH_MB
    return found
