"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, write the JSON results and
print their summaries.

``--quick`` (or ``STOREOPS_BENCH_QUICK=1``, for a machine shared with others) runs small sizes (a smoke test
that finishes within a minute or two) and writes ``bench/results/<name>.quick.json``, so it never overwrites the
figures of a full run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from bench import (
    alert_storm,
    cancellation,
    flash_sale,
    footprint,
    full_sync,
    prices,
    propagation,
    reservations,
    stock_latency,
    store_questions,
)
from bench.common import Json, PgProbe, pg_url, probe_pg, write_result

Runner = Callable[[bool, PgProbe, str, Callable[[str], None]], Awaitable[Json]]
BENCHMARKS: dict[str, Runner] = {
    "alert_storm": alert_storm.run,
    "cancellation": cancellation.run,
    "flash_sale": flash_sale.run,
    "footprint": footprint.run,
    "full_sync": full_sync.run,
    "prices": prices.run,
    "propagation": propagation.run,
    "reservations": reservations.run,
    "stock_latency": stock_latency.run,
    "store_questions": store_questions.run,
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def run(quick: bool, names: Sequence[str]) -> dict[str, Json]:
    url = pg_url()
    probe = await probe_pg(url)
    if probe.available:
        log(f"PostgreSQL {probe.server_version} at {probe.url}")
    else:
        log(f"PostgreSQL parts will be SKIPPED: {probe.reason}")
    summaries: dict[str, Json] = {}
    for name in names:
        started = time.perf_counter()
        result = await BENCHMARKS[name](quick, probe, url, log)
        path = write_result(f"{name}.quick" if quick else name, result)
        log(f"{name}: done in {time.perf_counter() - started:.1f} s, wrote {path}")
        summaries[name] = result["summary"]
    return summaries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test (< 60 s)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=list(BENCHMARKS), metavar="NAME")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("STOREOPS_BENCH_QUICK") == "1"
    summaries = asyncio.run(run(quick, args.only))
    print(json.dumps(summaries, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
