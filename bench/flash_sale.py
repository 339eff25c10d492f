"""A flash sale: hundreds of buyers at once for the last few units of one article, over the HTTP API.

The real service: ``storeops run`` processes (``python -m app.cli run``, the example topology, no chat tokens)
on one database — a temporary PostgreSQL database, or a SQLite file in a temporary folder — migrated first by
``storeops migrate``. The article gets ``units`` units in the online warehouse through ``POST /api/1c/stock``; the
instances are warmed up with a few orders of another, plentiful article (their pools and code paths, as a running
shop's are). Then ``orders`` buyers send ``POST /api/orders`` (the site channel, one unit, each its own order
number) at once, spread in turn over the instances, from this process (aiohttp, at most 200 connections per
instance, below ``HTTP_MAX_CONNECTIONS`` as a proxy's pool of upstream connections would be: on one instance the
other 200 buyers wait for a connection, and that wait counts). A buyer's time is from sending its request to
reading the whole answer.

After each case the books are read from the database: exactly ``units`` answers say ``reserved``, the stock row's
``reserved`` equals its ``on_hand``, the active reservations sum to it, every order was stored once, and nothing is
reserved beyond ``on_hand`` (``oversell``). The claim: p99 ≤ 2 s, exactly ``units`` sold, oversell 0.

Cases: two instances on PostgreSQL (the production shape for load), one on PostgreSQL for comparison, one instance
on a SQLite file (two on one file are recorded as skipped: ``storeops run`` claims its file, one service per file).
Figures depend on the machine's other load: the load average is recorded beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.common import (
    Json,
    PgProbe,
    asyncpg_dsn,
    load_average,
    machine_facts,
    percentile,
    process_cpu_s,
    sqlite_url,
    temporary_pg_database,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "storeops.example.toml"
CONNECTIONS_PER_INSTANCE = 200  # the client's at once, below HTTP_MAX_CONNECTIONS (256), as a proxy's pool would be
CHANNEL = "site"
WAREHOUSE = "online"
SKU = "FLASH-IRON"
WARM_SKU = "FLASH-WARMUP"
TARGET_P99_MS = 2000.0
ONE_SERVICE_PER_FILE = (
    "storeops run claims its SQLite file while it runs (storage/sqlite_backup.py): a second instance on the same "
    "file stops at start, so SQLite runs one instance; two instances are PostgreSQL's shape"
)
START_TIMEOUT_S = 60.0
ANSWER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Sizes:
    orders: int  # buyers, all at once
    units: int  # the article's stock
    warmup: int  # orders of another article per instance before the sale


FULL = Sizes(orders=400, units=10, warmup=40)
QUICK = Sizes(orders=100, units=10, warmup=10)


@dataclass(frozen=True)
class Case:
    name: str
    backend: str  # "postgresql" or "sqlite"
    instances: int


CASES = (
    Case("postgres_two_instances", "postgresql", 2),
    Case("postgres_one_instance", "postgresql", 1),
    Case("sqlite_one_instance", "sqlite", 1),
    Case("sqlite_two_instances", "sqlite", 2),
)


# ------------------------------------------------------------------------------------------ the service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(database_url: str, token: str, port: int | None) -> dict[str, str]:
    """The process's environment: ours only (no API_/HTTP_/DATABASE_/chat settings of the caller's shell)."""
    prefixes = ("API_", "HTTP_", "DATABASE_", "STOREOPS_", "SLACK_", "TELEGRAM_", "SQLITE_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    env.update(
        DATABASE_URL=database_url, STOREOPS_CONFIG=str(EXAMPLE_CONFIG), API_TOKEN=token, LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    if port is not None:
        env["HTTP_PORT"] = str(port)
    return env


def _storeops(command: str, env: dict[str, str], folder: Path, name: str) -> subprocess.Popen[bytes]:
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--env-file", str(folder / "none.env"), command],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


@dataclass
class Instance:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path


@contextlib.asynccontextmanager
async def running(database_url: str, count: int, token: str, folder: Path) -> AsyncIterator[list[Instance]]:
    """``count`` instances of ``storeops run`` on the database, migrated first; stopped with Ctrl-C at the end."""
    migrate = _storeops("migrate", _environment(database_url, token, None), folder, "migrate")
    if await asyncio.to_thread(migrate.wait, START_TIMEOUT_S) != 0:
        raise RuntimeError(f"storeops migrate failed: {(folder / 'migrate.log').read_text(errors='replace')}")
    instances: list[Instance] = []
    try:
        for n in range(count):
            port = _free_port()
            process = _storeops("run", _environment(database_url, token, port), folder, f"instance-{n}")
            instances.append(Instance(process, f"http://127.0.0.1:{port}", folder / f"instance-{n}.log"))
        await asyncio.gather(*(_healthy(instance) for instance in instances))
        yield instances
    finally:
        for instance in instances:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGINT)
        for instance in instances:
            try:
                await asyncio.to_thread(instance.process.wait, 30)
            except subprocess.TimeoutExpired:
                instance.process.kill()
                await asyncio.to_thread(instance.process.wait)


async def _healthy(instance: Instance) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with aiohttp.ClientSession() as http:
        while True:
            if instance.process.poll() is not None:
                raise RuntimeError(f"storeops run exited: {instance.log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{instance.base_url}/healthz") as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"storeops run did not answer /healthz within {START_TIMEOUT_S:g} s")
            await asyncio.sleep(0.1)


# ------------------------------------------------------------------------------------------ the buyers


def _order(external_id: str, sku: str) -> Json:
    return {"channel": CHANNEL, "external_id": external_id, "lines": [{"sku": sku, "qty": 1}]}


@dataclass(frozen=True)
class Answer:
    seconds: float
    status: int
    line_status: str | None  # "reserved", "out_of_stock", ... or None when the answer was an error


async def _buy(http: aiohttp.ClientSession, url: str, body: Json, go: asyncio.Event) -> Answer:
    await go.wait()
    started = time.perf_counter()
    try:
        async with http.post(f"{url}/api/orders", json=body) as response:
            payload = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        return Answer(time.perf_counter() - started, 0, None)
    seconds = time.perf_counter() - started
    line = payload.get("lines", [{}])[0].get("status") if status in (200, 201) and isinstance(payload, dict) else None
    return Answer(seconds, status, line)


async def _stock(http: aiohttp.ClientSession, url: str, items: Sequence[Json]) -> None:
    body = {"as_of": datetime.now(UTC).isoformat(), "items": list(items)}
    async with http.post(f"{url}/api/1c/stock", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"stock was not taken: {response.status} {await response.text()}")


async def sale(instances: Sequence[Instance], token: str, sizes: Sizes, prefix: str) -> list[Answer]:
    """Warm up, then every buyer at once; the answers in the order the buyers were made."""
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=ANSWER_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_INSTANCE)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout, connector=connector) as http:
        items = [{"sku": SKU, "warehouse": WAREHOUSE, "qty": sizes.units}]
        items.append({"sku": WARM_SKU, "warehouse": WAREHOUSE, "qty": sizes.warmup * len(instances)})
        await _stock(http, instances[0].base_url, items)
        ready = asyncio.Event()
        ready.set()
        await asyncio.gather(*(
            _buy(http, instance.base_url, _order(f"warm-{prefix}-{n}-{i}", WARM_SKU), ready)
            for n, instance in enumerate(instances) for i in range(sizes.warmup)
        ))  # fmt: skip
        go = asyncio.Event()
        buyers = [
            asyncio.create_task(_buy(http, instances[i % len(instances)].base_url, _order(f"{prefix}-{i}", SKU), go))
            for i in range(sizes.orders)
        ]
        await asyncio.sleep(0.2)  # every buyer waiting on the start signal
        go.set()
        return list(await asyncio.gather(*buyers))


# ------------------------------------------------------------------------------------------ the books


AUDIT_STOCK = "SELECT on_hand, reserved FROM stock_levels WHERE sku = '{sku}' AND warehouse = '{warehouse}'"
AUDIT_RESERVATIONS = "SELECT COUNT(*), COALESCE(SUM(qty), 0) FROM reservations WHERE sku = '{sku}' AND state = 'active'"
AUDIT_ORDERS = "SELECT COUNT(*), COUNT(DISTINCT external_id) FROM orders WHERE external_id LIKE '{prefix}-%'"
AUDIT_OVER = "SELECT COALESCE(SUM(reserved - on_hand), 0) FROM stock_levels WHERE reserved > on_hand"


def _audit_statements(prefix: str) -> list[str]:
    values = {"sku": SKU, "warehouse": WAREHOUSE, "prefix": prefix}
    return [statement.format(**values) for statement in (AUDIT_STOCK, AUDIT_RESERVATIONS, AUDIT_ORDERS, AUDIT_OVER)]


def _books(rows: Sequence[Sequence[Any]], sizes: Sizes) -> Json:
    (on_hand, reserved), (reservations, reserved_units), (orders, distinct), (over,) = rows
    return {
        "on_hand": int(on_hand),
        "reserved": int(reserved),
        "active_reservations": int(reservations),
        "reserved_units": int(reserved_units),
        "orders_stored": int(orders),
        "orders_stored_distinct": int(distinct),
        "oversell": int(over),
        "exact": int(reserved) == int(reserved_units) == sizes.units == int(on_hand),
    }


async def pg_books(dsn: str, prefix: str, sizes: Sizes) -> Json:
    connection = await asyncpg.connect(dsn)
    try:
        return _books([await connection.fetchrow(s) for s in _audit_statements(prefix)], sizes)
    finally:
        await connection.close()


def sqlite_books(path: Path, prefix: str, sizes: Sizes) -> Json:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return _books([connection.execute(s).fetchone() for s in _audit_statements(prefix)], sizes)


# ------------------------------------------------------------------------------------------ figures


def answer_figures(answers: Sequence[Answer]) -> Json:
    ordered = sorted(a.seconds * 1000 for a in answers)
    statuses: dict[str, int] = {}
    for answer in answers:
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
    lines: dict[str, int] = {}
    for answer in answers:
        key = answer.line_status or "no_order"
        lines[key] = lines.get(key, 0) + 1
    return {
        "answers": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 1),
        "p95_ms": round(percentile(ordered, 95), 1),
        "p99_ms": round(percentile(ordered, 99), 1),
        "max_ms": round(ordered[-1], 1),
        "min_ms": round(ordered[0], 1),
        "http_statuses": statuses,
        "line_statuses": lines,
        "succeeded": lines.get("reserved", 0),
    }


async def run_case(case: Case, sizes: Sizes, pg_url: str, folder: Path, log: Callable[[str], None]) -> Json:
    token = secrets.token_urlsafe(24)
    prefix = f"flash-{secrets.token_hex(3)}"
    log(f"flash_sale: {case.name}: {sizes.orders} buyers for {sizes.units} units")
    if case.backend == "postgresql":
        async with temporary_pg_database(pg_url) as target:
            answers, cpu = await _measured(target.url, case, sizes, token, folder, prefix)
            books = await pg_books(asyncpg_dsn(target.url), prefix, sizes)
    else:
        path = folder / f"{case.name}.db"
        answers, cpu = await _measured(sqlite_url(path), case, sizes, token, folder, prefix)
        books = await asyncio.to_thread(sqlite_books, path, prefix, sizes)
    figures = answer_figures(answers)
    return {
        "instances": case.instances,
        "database": case.backend,
        **figures,
        "books": books,
        "service_cpu_s": cpu,
        "load_average_after": load_average(),
        "ok": figures["succeeded"] == sizes.units
        and books["exact"]
        and books["oversell"] == 0
        and books["orders_stored"] == books["orders_stored_distinct"] == sizes.orders,
        "p99_target_met": figures["p99_ms"] <= TARGET_P99_MS,
    }


async def _measured(
    url: str, case: Case, sizes: Sizes, token: str, folder: Path, prefix: str
) -> tuple[list[Answer], list[float | None]]:
    case_folder = folder / case.name
    case_folder.mkdir()
    async with running(url, case.instances, token, case_folder) as instances:
        before = [process_cpu_s(i.process.pid) for i in instances]
        answers = await sale(instances, token, sizes, prefix)
        after = [process_cpu_s(i.process.pid) for i in instances]
    cpu = [round(b - a, 2) if a is not None and b is not None else None for a, b in zip(before, after, strict=True)]
    return answers, cpu


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    only = os.environ.get("STOREOPS_BENCH_FLASH_CASES")  # e.g. "postgres_two_instances,sqlite_one_instance"
    cases = [case for case in CASES if only is None or case.name in only.split(",")]
    results: Json = {}
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        for case in cases:
            if case.backend == "postgresql" and not probe.available:
                results[case.name] = {"skipped": True, "reason": probe.reason}
                continue
            if case.backend == "sqlite" and case.instances > 1:
                results[case.name] = {"skipped": True, "reason": ONE_SERVICE_PER_FILE}
                continue
            results[case.name] = await run_case(case, sizes, pg_url, Path(folder), log)
    result: Json = {
        "benchmark": "flash_sale",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "channel": CHANNEL,
            "sku": SKU,
            "warehouse": WAREHOUSE,
            "service": "storeops run (python -m app.cli run), example topology, no chat tokens, LOG_LEVEL=WARNING",
            "client": f"this process: aiohttp, at most {CONNECTIONS_PER_INSTANCE} connections per instance, "
            "every buyer released by one event",
            "time": "per buyer, from sending POST /api/orders to reading the whole answer",
            "target_p99_ms": TARGET_P99_MS,
        },
        "cases": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["summary"] = {
        name: (
            case
            if case.get("skipped")
            else {
                key: case[key] for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "succeeded", "ok", "p99_target_met")
            }
            | {"oversell": case["books"]["oversell"], "load_average_after": case["load_average_after"]}
        )
        for name, case in results.items()
    }
    return result
