"""What every benchmark shares: machine facts, timing figures, result files, the throw-away
databases (a SQLite file in a temporary folder, a PostgreSQL database created and dropped here)
and the raw-driver connections used as baselines."""

from __future__ import annotations

import json
import math
import os
import platform
import secrets
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import READ_ONLY, Database, open_database
from storage.migrate import migrate
from workflows.topology import Topology

Json = dict[str, Any]

RESULTS_DIR = Path(__file__).with_name("results")
PG_URL_ENV = "STOREOPS_BENCH_PG_URL"
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BUSY_TIMEOUT_MS = 30_000  # storage.database's default, used by the raw SQLite baselines too
PG_CONNECT_TIMEOUT_S = 5.0


class UtcClock:
    """The system clock, as :class:`app.bootstrap.SystemClock` (kept here so the bench needs no app)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


# ------------------------------------------------------------------------------------------ facts


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, timeout=5, cwd=RESULTS_DIR.parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return out.strip() or None if out is not None else None


def _git_changed() -> list[str] | None:
    """Tracked files changed since the commit (bench/ itself left out): the code measured may
    not be the commit's."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    if out is None:
        return None
    paths = [line[3:] for line in out.splitlines() if len(line) > 3]
    return [path for path in paths if not path.startswith("bench/")]


def _versions(names: Iterable[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def machine_facts(pg_server_version: str | None) -> Json:
    """What the figures depend on, recorded beside them."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python_version": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "sqlite_version": sqlite3.sqlite_version,
        "postgres_server_version": pg_server_version,
        "packages": _versions(["sqlalchemy", "aiosqlite", "asyncpg", "aiohttp", "httpx", "pydantic"]),
        "git_commit": _git_commit(),
        "git_changed_files": _git_changed(),
        "load_average_at_start": load_average(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def process_cpu_s(pid: int) -> float | None:
    """CPU time (user + system, every thread) another process has used so far, from ``/proc``
    (Linux, 10 ms steps); ``None`` where there is no ``/proc``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: fields 14 and 15


def memory_mb(pid: int) -> dict[str, float | None]:
    """Another process's resident memory now (``rss``) and at its peak so far (``hwm``), in MB, from
    ``/proc/<pid>/status`` (Linux); ``None`` where there is none."""
    found: dict[str, float | None] = {"rss": None, "hwm": None}
    try:
        lines = Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
    except OSError:
        return found
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found["rss" if name == "VmRSS" else "hwm"] = round(int(value.split()[0]) / 1024, 1)  # kB
    return found


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def write_result(name: str, data: Json) -> Path:
    """Write ``bench/results/<name>.json`` whole or not at all (via a ``.tmp`` file)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"{name}.json"
    temporary = RESULTS_DIR / f"{name}.json.tmp"
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, target)
    return target


# ------------------------------------------------------------------------------------------ figures


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence (``q`` in 0..100)."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_figures(samples_s: Sequence[float]) -> Json:
    """p50/p90/p99/max/mean in milliseconds of samples taken in seconds."""
    ordered = sorted(s * 1000 for s in samples_s)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p90_ms": round(percentile(ordered, 90), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(sum(ordered) / len(ordered), 3),
    }


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds``."""

    def __init__(self) -> None:
        self.started = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started


# ------------------------------------------------------------------------------------------ topology


def topology(stores: int, channels: int) -> Topology:
    """One online warehouse ``online`` and ``stores`` stores; ``channels`` channels, the first
    (``site``) serving every warehouse, the others the online warehouse and a few stores."""
    warehouses: list[Json] = [{"code": "online", "kind": "online", "title": "Online"}]
    warehouses += [
        {"code": f"store-{n}", "kind": "store", "title": f"Store {n}", "priority": n} for n in range(1, stores + 1)
    ]
    codes = [w["code"] for w in warehouses]
    kinds = ["site", "wildberries", "ozon", "yandex_market"]
    table: dict[str, Json] = {}
    for index in range(channels):
        name = kinds[index] if index < len(kinds) else f"channel-{index}"
        serves = codes if index == 0 else codes[: 1 + (index % max(1, len(codes)))]
        table[name] = {"serves": serves, "safety_stock": 0 if index == 0 else 1}
    return Topology.model_validate({"warehouses": warehouses, "channels": table})


# ------------------------------------------------------------------------------------------ SQLite


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def migrated_sqlite(path: Path, synchronous: str) -> Database:
    """Open (creating) the file through the product's own engine and migrate it."""
    database = open_database(sqlite_url(path), busy_timeout_ms=BUSY_TIMEOUT_MS, sqlite_synchronous=synchronous)
    await migrate(database)
    return database


def sqlite_pragmas(synchronous: str) -> list[str]:
    """The connection pragmas of :mod:`storage.database`, for the raw baselines."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        f"PRAGMA synchronous={synchronous}",
        "PRAGMA foreign_keys=ON",
    ]


def raw_sqlite(path: Path, synchronous: str) -> sqlite3.Connection:
    """A stdlib connection configured as the product configures its own; transactions are
    explicit (``BEGIN IMMEDIATE`` ... ``COMMIT``)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in sqlite_pragmas(synchronous):
        connection.execute(pragma)
    return connection


def sqlite_timestamp(moment: datetime) -> str:
    """A UTC timestamp as SQLAlchemy stores it in SQLite (see storage.schema.UtcDateTime)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


# ------------------------------------------------------------------------------------------ PostgreSQL


def pg_url() -> str:
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    """The SQLAlchemy URL as a plain ``postgresql://`` DSN for asyncpg, optionally on another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class PgProbe:
    """Whether the PostgreSQL server answers; ``reason`` says why not."""

    url: str
    server_version: str | None
    reason: str | None

    @property
    def available(self) -> bool:
        return self.server_version is not None


async def probe_pg(url: str) -> PgProbe:
    try:
        if make_url(url).get_backend_name() != "postgresql":
            return PgProbe(safe_url(url), None, f"{PG_URL_ENV} is not a postgresql URL")
        connection = await asyncpg.connect(asyncpg_dsn(url, "postgres"), timeout=PG_CONNECT_TIMEOUT_S)
    except Exception as error:  # any failure to connect means: skip, and say why
        return PgProbe(
            safe_url(url), None, f"PostgreSQL unreachable at {safe_url(url)}: {type(error).__name__}: {error}"
        )
    try:
        version = str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()
    return PgProbe(safe_url(url), version, None)


@dataclass(frozen=True)
class PgDatabase:
    """A throw-away database: its name, SQLAlchemy URL and asyncpg DSN."""

    name: str
    url: str
    dsn: str


@asynccontextmanager
async def temporary_pg_database(url: str) -> AsyncIterator[PgDatabase]:
    """Create ``storeops_bench_<random>`` from the ``postgres`` database and drop it afterwards
    (with FORCE, so a connection left open cannot keep it). No other database is touched."""
    name = f"storeops_bench_{secrets.token_hex(4)}"
    admin_dsn = asyncpg_dsn(url, "postgres")
    admin = await asyncpg.connect(admin_dsn, timeout=PG_CONNECT_TIMEOUT_S)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield PgDatabase(
            name, make_url(url).set(database=name).render_as_string(hide_password=False), asyncpg_dsn(url, name)
        )
    finally:
        admin = await asyncpg.connect(admin_dsn, timeout=PG_CONNECT_TIMEOUT_S)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def migrated_pg(database: PgDatabase) -> Database:
    product = open_database(database.url)
    await migrate(product)
    return product


def variant_database(url: str, *, pool_size: int, pre_ping: bool) -> Database:
    """The product's PostgreSQL engine (as storage.database builds it) with other pool settings.
    For diagnostics only: it shows what a change there would buy; it is not the product."""
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=pre_ping)
    return Database(engine, engine.execution_options(**{READ_ONLY: True}), False)
