"""The footprint benchmark's 1C snapshot, applied in a process of its own so that its peak memory is the intake's.

``python -m bench.snapshot_intake --database-url URL --skus N [--raw-sqlite PATH | --raw-pg DSN]`` builds the service
as ``storeops run`` does (settings from the environment, :func:`app.bootstrap.build`, migrations), with the shop of
:func:`shop`: ten warehouses and four channels, whose sync outbox queues their lines in each message's transaction
as in production (the channels' clients are not started: nothing drains). It then sends 1C's full stock — ``N``
SKUs in every warehouse — through :meth:`workflows.onec_intake.StockIntake.apply` from the JSON API, in messages of
:data:`MESSAGE_LINES` lines, twice: the first snapshot into the empty database, then the same an hour later with
every tenth SKU's figures changed, as 1C's daily upload.

Beside each message, in the same process and at the same moment, the raw driver applies the same figures to a
database of its own (migrated the same way): the same upsert, the newest figure winning, one transaction per
message — stdlib ``sqlite3`` with the service's pragmas, or ``asyncpg``. Building each message's lines is not
timed on either side. Prints one JSON line: the times, the time of each successive 100 000 figures, what the
database holds afterwards, and the process's resident memory after start-up and at its peak (``VmHWM``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select

from app.bootstrap import build, settle_start_up
from app.settings import load_settings
from bench.common import Json, UtcClock, memory_mb, raw_sqlite, sqlite_timestamp, topology
from storage import schema as t
from workflows.onec_intake import OneCLine, StockSource
from workflows.sync import SyncOutbox
from workflows.topology import Topology

MESSAGE_LINES = 5_000  # as 1C's exchange sends a large snapshot over the API
SPAN = 100_000  # figures per reported span: equal spans mean the table's growth costs nothing
STORES, CHANNELS = 9, 4  # + the online warehouse: 10 warehouses

# The upsert the raw drivers run: what StockLevels.save_figures does (storage/repositories.py), newest figure wins.
UPSERT_SQLITE = (
    "INSERT INTO stock_levels (sku, warehouse, on_hand, reserved, as_of) VALUES (?, ?, ?, 0, ?) "
    "ON CONFLICT (sku, warehouse) DO UPDATE SET on_hand = excluded.on_hand, as_of = excluded.as_of, "
    "suspect_since = CASE WHEN excluded.as_of > stock_levels.suspect_since THEN NULL ELSE stock_levels.suspect_since "
    "END WHERE excluded.as_of >= stock_levels.as_of"
)
UPSERT_PG = UPSERT_SQLITE.replace("VALUES (?, ?, ?, 0, ?)", "VALUES ($1, $2, $3, 0, $4)")


def shop() -> Topology:
    return topology(stores=STORES, channels=CHANNELS)


def sku_name(n: int) -> str:
    """Every tenth SKU has Cyrillic letters and a slash, as 1C's articles do (``КР-7/2``)."""
    return f"КР-{n}/2" if n % 10 == 0 else f"SKU-{n:06d}"


def quantity(n: int, warehouse: int, again: bool) -> int:
    changed = again and n % 10 == 3  # the second snapshot: every tenth SKU's figures changed
    return (n * 7 + warehouse + (5 if changed else 0)) % 40


def messages(skus: int, warehouses: Sequence[str], again: bool) -> Iterator[list[tuple[str, str, int]]]:
    """The snapshot as 1C sends it: every SKU in every warehouse, ``MESSAGE_LINES`` lines a message."""
    message: list[tuple[str, str, int]] = []
    for n in range(skus):
        name = sku_name(n)
        for w, code in enumerate(warehouses):
            message.append((name, code, quantity(n, w, again)))
            if len(message) == MESSAGE_LINES:
                yield message
                message = []
    if message:
        yield message


class RawSqlite:
    def __init__(self, path: Path) -> None:
        self.connection = raw_sqlite(path, "FULL")

    async def apply(self, rows: Sequence[tuple[str, str, int]], as_of: datetime) -> None:
        stamp = sqlite_timestamp(as_of)
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany(UPSERT_SQLITE, [(sku, code, qty, stamp) for sku, code, qty in rows])
        self.connection.execute("COMMIT")

    async def close(self) -> None:
        self.connection.close()


class RawPg:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def apply(self, rows: Sequence[tuple[str, str, int]], as_of: datetime) -> None:
        async with self.connection.transaction():
            await self.connection.executemany(UPSERT_PG, [(sku, code, qty, as_of) for sku, code, qty in rows])

    async def close(self) -> None:
        await self.connection.close()


@dataclass
class Phase:
    name: str
    figures: int = 0
    ours_s: float = 0.0
    raw_s: float = 0.0
    accepted: int = 0
    spans_s: list[float] | None = None

    def as_json(self) -> Json:
        return {
            "figures": self.figures,
            "ours_seconds": round(self.ours_s, 2),
            "raw_seconds": round(self.raw_s, 2),
            "ours_figures_per_second": round(self.figures / self.ours_s) if self.ours_s else None,
            "raw_figures_per_second": round(self.figures / self.raw_s) if self.raw_s else None,
            "ratio_to_raw": round(self.raw_s / self.ours_s, 3) if self.ours_s else None,
            "accepted": self.accepted,
            "ours_seconds_per_100k_figures": [round(s, 2) for s in self.spans_s or []],
        }


async def run(database_url: str, skus: int, raw: RawSqlite | RawPg) -> Json:
    env = {"DATABASE_URL": database_url, "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": ""}
    os.environ.update(env)
    settings = load_settings(env_file=None)
    started = time.perf_counter()
    services = await build(settings, shop(), clock=UtcClock())
    shop_ = services.shop
    # the shop's channels, as if their clients were configured: each message queues their lines
    shop_.uow.hooks.before[:] = [SyncOutbox(shop_.topology, shop_.clock, list(shop_.topology.channels)).before_commit]
    settle_start_up()  # as storeops run does once it serves
    after_start = memory_mb(os.getpid())
    warehouses = [w.code for w in shop_.topology.warehouses]
    now = datetime.now(UTC)
    phases = []
    try:
        for name, as_of, again in (
            ("first", now - timedelta(hours=2), False),
            ("again", now - timedelta(hours=1), True),
        ):
            phase = Phase(name, spans_s=[])
            span_s = 0.0
            for rows in messages(skus, warehouses, again):
                lines = [OneCLine(sku, code, qty) for sku, code, qty in rows]
                began = time.perf_counter()
                result = await shop_.intake.apply(StockSource.API, as_of, lines)
                took = time.perf_counter() - began
                began = time.perf_counter()
                await raw.apply(rows, as_of)
                phase.raw_s += time.perf_counter() - began
                phase.ours_s, span_s = phase.ours_s + took, span_s + took
                phase.accepted += result.accepted
                before, phase.figures = phase.figures, phase.figures + len(rows)
                if phase.figures // SPAN > before // SPAN:
                    phase.spans_s.append(span_s)  # type: ignore[union-attr]
                    span_s = 0.0
            phases.append(phase)
        held = await _held(services.database.engine)
    finally:
        await services.close()
        await raw.close()
    return {
        "phases": {phase.name: phase.as_json() for phase in phases},
        "memory_mb": {"after_start": after_start["rss"], "peak": memory_mb(os.getpid())["hwm"]},
        "database_holds": held,
        "seconds": round(time.perf_counter() - started, 1),
    }


async def _held(engine: Any) -> Json:
    """What the database holds afterwards: stock rows, outbox lines per channel, offer ids."""
    async with engine.connect() as connection:
        stock = (await connection.execute(select(func.count()).select_from(t.stock_levels))).scalar_one()
        p = t.stock_pushes.c
        lines = await connection.execute(select(p.channel, func.count()).group_by(p.channel))
        offers = (await connection.execute(select(func.count()).select_from(t.offer_ids))).scalar_one()
        return {"stock_rows": stock, "outbox_lines": dict(lines.tuples().all()), "offer_ids": offers}


async def main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot_intake")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--skus", type=int, required=True)
    raw = parser.add_mutually_exclusive_group(required=True)
    raw.add_argument("--raw-sqlite", type=Path, help="a migrated SQLite file for the raw baseline")
    raw.add_argument("--raw-pg", help="an asyncpg DSN of a migrated database for the raw baseline")
    args = parser.parse_args(argv)
    baseline: RawSqlite | RawPg = (
        RawSqlite(args.raw_sqlite) if args.raw_sqlite else RawPg(await asyncpg.connect(args.raw_pg))
    )
    print(json.dumps(await run(args.database_url, args.skus, baseline)), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
