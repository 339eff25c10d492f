"""``GET /api/stock/{sku}`` latency with a big catalogue (100 000 SKUs x 10 warehouses).

The rows are bulk-loaded with the raw driver into the migrated schema (fast; the service never
loads like this, which the result says). Then the real aiohttp app (``app.bootstrap.build`` +
``app.http.server.create_app``) is started on 127.0.0.1 with ``AppRunner``/``TCPSite`` on a free
port, and random SKUs are fetched one after another over real HTTP with a keep-alive
``httpx.AsyncClient``. Client and server share this process and its event loop, so the figures
include the client's own time; the ``http_floor`` figure (a 404 that touches no database) shows it.

Beside it, for the same SKUs: ``Ledger.stock`` called directly (ours without HTTP) and the same
``SELECT`` with the raw driver. Every tenth SKU is like ``КР-10/2`` (Cyrillic and a slash),
URL-encoded with ``quote(sku, safe='')``.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiosqlite
import asyncpg
import httpx
from aiohttp import web

from app.bootstrap import Services, build
from app.http.server import create_app
from app.settings import load_settings
from bench.common import (
    Json,
    PgDatabase,
    PgProbe,
    latency_figures,
    machine_facts,
    migrated_pg,
    migrated_sqlite,
    sqlite_timestamp,
    sqlite_url,
    temporary_pg_database,
    topology,
)
from workflows.topology import Topology

STORES = 9  # + the online warehouse = 10 warehouses
CHANNELS = 4
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "storeops.example.toml"
LOOKUP_SQLITE = "SELECT sku, warehouse, on_hand, reserved, as_of FROM stock_levels WHERE sku = ?"
LOOKUP_PG = "SELECT sku, warehouse, on_hand, reserved, as_of FROM stock_levels WHERE sku = $1"


@dataclass(frozen=True)
class Sizes:
    skus: int
    requests: int  # timed lookups of each kind
    warmup: int  # untimed lookups before each kind
    floor_requests: int
    seed: int


FULL = Sizes(skus=100_000, requests=2000, warmup=200, floor_requests=500, seed=20_260_101)
QUICK = Sizes(skus=2_000, requests=200, warmup=20, floor_requests=50, seed=20_260_101)


def sku_name(i: int) -> str:
    """Every tenth SKU has Cyrillic letters and a slash, the rest are plain."""
    return f"КР-{i}/2" if i % 10 == 0 else f"SKU-{i:06d}"


def stock_rows(sizes: Sizes, warehouses: Sequence[str]) -> Iterator[tuple[str, str, int, int]]:
    for i in range(sizes.skus):
        name = sku_name(i)
        for w, code in enumerate(warehouses):
            on_hand = (i * 7 + w) % 40
            yield name, code, on_hand, min(on_hand, (i + w) % 3)


# ------------------------------------------------------------------------------------------ loading


def load_sqlite(path: Path, sizes: Sizes, warehouses: Sequence[str]) -> Json:
    as_of = sqlite_timestamp(datetime(2026, 1, 1, tzinfo=UTC))
    started = time.perf_counter()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=OFF")  # loading only; the service runs with its own pragmas
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO stock_levels (sku, warehouse, on_hand, reserved, as_of) VALUES (?, ?, ?, ?, ?)",
            ((*row, as_of) for row in stock_rows(sizes, warehouses)),
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (count,) = connection.execute("SELECT COUNT(*) FROM stock_levels").fetchone()
    finally:
        connection.close()
    return {
        "method": "stdlib sqlite3 executemany, one transaction, synchronous=OFF while loading, into the migrated file",
        "rows": int(count),
        "seconds": round(time.perf_counter() - started, 2),
        "file_mb": round(path.stat().st_size / 1e6, 1),
    }


async def load_pg(target: PgDatabase, sizes: Sizes, warehouses: Sequence[str]) -> Json:
    as_of = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    connection = await asyncpg.connect(target.dsn)
    try:
        await connection.copy_records_to_table(
            "stock_levels",
            records=((*row, as_of) for row in stock_rows(sizes, warehouses)),
            columns=["sku", "warehouse", "on_hand", "reserved", "as_of"],
        )
        await connection.execute("VACUUM ANALYZE stock_levels")
        count = int(await connection.fetchval("SELECT COUNT(*) FROM stock_levels"))
    finally:
        await connection.close()
    return {
        "method": "asyncpg copy_records_to_table (COPY) into the migrated database, then VACUUM ANALYZE",
        "rows": count,
        "seconds": round(time.perf_counter() - started, 2),
    }


# ------------------------------------------------------------------------------------------ the service


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, then restore what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Running:
    services: Services
    base_url: str
    token: str


@asynccontextmanager
async def serve(database_url: str, shop: Topology) -> AsyncIterator[Running]:
    """The real service (settings from the environment, ``build``, ``create_app``) on a free port."""
    token = secrets.token_urlsafe(24)
    env = {"DATABASE_URL": database_url, "API_TOKEN": token, "STOREOPS_CONFIG": str(EXAMPLE_CONFIG)}
    with environment(env):
        settings = load_settings(env_file=None)
    services = await build(settings, shop)
    runner = web.AppRunner(create_app(services), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield Running(services, f"http://{host}:{port}", token)
    finally:
        await runner.cleanup()
        await services.close()


# ------------------------------------------------------------------------------------------ timing


async def time_http(
    running: Running, skus: Sequence[str], warmup: Sequence[str], warehouses: int, floor_requests: int
) -> Json:
    headers = {"Authorization": f"Bearer {running.token}"}
    async with httpx.AsyncClient(base_url=running.base_url, headers=headers, timeout=30.0) as client:
        for name in warmup:
            await client.get(f"/api/stock/{quote(name, safe='')}")
        samples: list[float] = []
        answers: list[tuple[str, int, bytes]] = []
        for name in skus:
            path = f"/api/stock/{quote(name, safe='')}"
            started = time.perf_counter()
            response = await client.get(path)
            samples.append(time.perf_counter() - started)
            answers.append((name, response.status_code, response.content))
        floor: list[float] = []
        for _ in range(len(warmup)):
            await client.get("/no-such-page")
        for _ in range(floor_requests):
            started = time.perf_counter()
            await client.get("/no-such-page")
            floor.append(time.perf_counter() - started)
    wrong = [(name, status) for name, status, body in answers if not _right(name, status, body, warehouses)]
    return {
        "latency": latency_figures(samples),
        "http_floor": {
            "what": "GET of an unknown path (404, no database) on the same client",
            **latency_figures(floor),
        },
        "requests": len(samples),
        "wrong_answers": len(wrong),
        "wrong_examples": [f"{name!r}: HTTP {status}" for name, status in wrong[:5]],
        "cyrillic_slash_skus_requested": sum(1 for name in skus if "/" in name),
    }


def _right(name: str, status: int, body: bytes, warehouses: int) -> bool:
    if status != 200:
        return False
    data = json.loads(body)
    return bool(data.get("sku") == name and len(data.get("by_warehouse", {})) == warehouses)


async def time_calls(call: Callable[[str], Any], skus: Sequence[str], warmup: Sequence[str]) -> Json:
    """Sequential awaited calls of ``call(sku)``; each must find rows."""
    for name in warmup:
        await call(name)
    samples: list[float] = []
    empty = 0
    for name in skus:
        started = time.perf_counter()
        found = await call(name)
        samples.append(time.perf_counter() - started)
        empty += not found
    return {"latency": latency_figures(samples), "calls": len(samples), "empty_answers": empty}


def picks(sizes: Sizes) -> tuple[list[str], list[str]]:
    chooser = random.Random(sizes.seed)
    every = [sku_name(chooser.randrange(sizes.skus)) for _ in range(sizes.requests + sizes.warmup)]
    return every[sizes.warmup :], every[: sizes.warmup]


async def measure_service(database_url: str, shop: Topology, sizes: Sizes) -> Json:
    skus, warmup = picks(sizes)
    async with serve(database_url, shop) as running:
        http = await time_http(running, skus, warmup, len(shop.warehouses), sizes.floor_requests)
        ledger = running.services.shop.ledger

        async def direct(name: str) -> bool:
            return bool((await ledger.stock(name)).by_warehouse)

        ledger_direct = await time_calls(direct, skus, warmup)
        overhead = await fixed_costs(running.services, skus, warmup)
    return {
        "http": http,
        "ledger_stock_direct": {"what": "Ledger.stock(sku), no HTTP", **ledger_direct},
        "diagnostics": overhead,
    }


async def fixed_costs(services: Services, skus: Sequence[str], warmup: Sequence[str]) -> Json:
    """What a read costs before its query: a pooled connection, then the read unit of work
    (connection + transaction, nothing run in it). Not part of the headline figures."""
    engine, uow = services.database.read_engine, services.shop.uow

    async def checkout(_name: str) -> bool:
        async with engine.connect():
            return True

    async def empty_unit_of_work(_name: str) -> bool:
        async with uow(read_only=True):
            return True

    return {
        "engine_connect_close": {
            "what": "async with read_engine.connect(): pass (pool checkout + return)",
            **await time_calls(checkout, skus, warmup),
        },
        "read_unit_of_work_empty": {
            "what": "async with uow(read_only=True): pass (checkout + BEGIN + rollback on close)",
            **await time_calls(empty_unit_of_work, skus, warmup),
        },
    }


# ------------------------------------------------------------------------------------------ per database


async def sqlite_part(sizes: Sizes, shop: Topology, folder: Path) -> Json:
    path = folder / "stock.db"
    await (await migrated_sqlite(path, "FULL")).dispose()
    load = load_sqlite(path, sizes, [w.code for w in shop.warehouses])
    skus, warmup = picks(sizes)
    service = await measure_service(sqlite_url(path), shop, sizes)
    raw = sqlite3.connect(path, isolation_level=None)
    try:

        async def stdlib(name: str) -> bool:
            return bool(raw.execute(LOOKUP_SQLITE, (name,)).fetchall())

        raw_sqlite3 = await time_calls(stdlib, skus, warmup)
    finally:
        raw.close()
    async with aiosqlite.connect(path, isolation_level=None) as aio:

        async def threaded(name: str) -> bool:
            async with aio.execute(LOOKUP_SQLITE, (name,)) as cursor:
                return bool(await cursor.fetchall())

        raw_aiosqlite = await time_calls(threaded, skus, warmup)
    return {
        "load": load,
        **service,
        "raw_sqlite3": {"what": f"stdlib sqlite3: {LOOKUP_SQLITE}", **raw_sqlite3},
        "raw_aiosqlite": {"what": f"aiosqlite: {LOOKUP_SQLITE}", **raw_aiosqlite},
    }


async def pg_part(sizes: Sizes, shop: Topology, target: PgDatabase) -> Json:
    await (await migrated_pg(target)).dispose()
    load = await load_pg(target, sizes, [w.code for w in shop.warehouses])
    skus, warmup = picks(sizes)
    service = await measure_service(target.url, shop, sizes)
    connection = await asyncpg.connect(target.dsn)
    try:

        async def raw(name: str) -> bool:
            return bool(await connection.fetch(LOOKUP_PG, name))

        raw_asyncpg = await time_calls(raw, skus, warmup)
    finally:
        await connection.close()
    return {"load": load, **service, "raw_asyncpg": {"what": f"asyncpg, one connection: {LOOKUP_PG}", **raw_asyncpg}}


# ------------------------------------------------------------------------------------------ entry


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    shop = topology(stores=STORES, channels=CHANNELS)
    started = time.perf_counter()
    result: Json = {
        "benchmark": "stock_latency",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "warehouses": len(shop.warehouses),
            "channels": len(shop.channels),
            "stock_rows": sizes.skus * len(shop.warehouses),
            "sku_examples": [sku_name(0), sku_name(1), quote(sku_name(10), safe="")],
            "client": "httpx.AsyncClient, keep-alive, sequential requests, same process and event loop as the server",
            "access_log": "off (AppRunner access_log=None)",
        },
    }
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        log(f"stock latency: SQLite, loading {sizes.skus * len(shop.warehouses)} rows")
        result["sqlite"] = await sqlite_part(sizes, shop, Path(folder))
    if probe.available:
        log(f"stock latency: PostgreSQL {probe.server_version}, loading {sizes.skus * len(shop.warehouses)} rows")
        async with temporary_pg_database(pg_url) as target:
            result["postgres"] = {
                "skipped": False,
                "temporary_database": target.name,
                **await pg_part(sizes, shop, target),
            }
    else:
        log(f"stock latency: PostgreSQL skipped: {probe.reason}")
        result["postgres"] = {"skipped": True, "reason": probe.reason}
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["summary"] = summary(result)
    return result


def summary(result: Json) -> Json:
    found: Json = {}
    for name in ("sqlite", "postgres"):
        part = result[name]
        if part.get("skipped"):
            found[name] = {"skipped": True, "reason": part["reason"]}
            continue
        raw_key = "raw_sqlite3" if name == "sqlite" else "raw_asyncpg"
        found[name] = {
            "http_get_stock_ms": _short(part["http"]["latency"]),
            "http_floor_ms": _short(part["http"]["http_floor"]),
            "ledger_stock_direct_ms": _short(part["ledger_stock_direct"]["latency"]),
            f"{raw_key}_ms": _short(part[raw_key]["latency"]),
            **{f"diagnostic_{key}_ms": _short(value["latency"]) for key, value in part["diagnostics"].items()},
            "wrong_answers": part["http"]["wrong_answers"],
            "load_seconds": part["load"]["seconds"],
        }
    return found


def _short(figures: Json) -> Json:
    return {key.removesuffix("_ms"): figures[key] for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms") if key in figures}
