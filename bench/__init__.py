"""Benchmarks of storeops, run by ``make bench`` (``python -m bench``).

- :mod:`bench.reservations`: reservations and orders per second on SQLite and PostgreSQL, each
  beside the raw driver doing the same statements, with an oversell audit after every run;
- :mod:`bench.stock_latency`: ``GET /api/stock/{sku}`` latency over real HTTP with
  100 000 SKUs x 10 warehouses loaded.

Each writes ``bench/results/<name>.json`` (machine facts, parameters, figures, summary).
PostgreSQL parts use a temporary database created and dropped on the server named by
``STOREOPS_BENCH_PG_URL``; they are skipped, with the reason recorded, when it does not answer.
"""
