"""10 000 open store questions: deadline lateness, button click → ``chat.update``, memory.

The real service throughout: settings from the environment (``load_settings``), ``app.bootstrap.build``
on the system clock (``SystemClock``, real time: deadlines really fall due), the product's own
``DeadlinePump``, ``SlackDelivery``, slack-bolt app and aiohttp server. Questions are opened by real
order intake, ``services.shop.orders.place`` of one-line orders, from a few concurrent workers. Every
line is held in stores only: each SKU is stocked in exactly one store (plenty of it) and at 0 in
the online warehouse, so routing holds it in that store and the cascade asks it; when that
question expires there is no other store to ask and the line becomes ``unfulfillable`` (no
cascade to a second question: one question per order).

Two parts per database (SQLite file by default, PostgreSQL in a temporary database when it answers):

*clicks* (run first, as it also measures memory): ``STORE_CONFIRMATION_TIMEOUT_S`` long, so the
questions stay open. Slack is the emulator (``emulators.slack``) on 127.0.0.1 with its per-channel
posting limit lifted (real Slack allows about 1 message per second per channel; that bound is
reported beside the figure). The service's RSS is read before intake, with all questions open,
and after they are posted to Slack. The questions are delivered with
``services.chats.slack_delivery.run_once()`` until it has nothing left (questions posted per second).
Then, with the scheduler's two jobs running as ``app.scheduler`` runs them (the deadline pump
every ``DEADLINE_PUMP_INTERVAL_S``, the Slack delivery every second), signed ``block_actions``
clicks on ``available`` by the store's staff member are sent one after another to
``POST /slack/events`` of the real HTTP server (httpx, keep-alive). Per click: from sending the
request to the emulator having recorded the ``chat.update`` of that message (the emulator's
recorded call time; both on ``time.monotonic``). Only a subset is clicked; the rest stay open.

*deadlines*: the pump runs from the start on a fixed grid every ``DEADLINE_PUMP_INTERVAL_S`` (as
APScheduler's interval job with ``max_instances=1``, ``coalesce``: a run that overruns makes the
next start at the next grid point), while orders are taken at a steady ``intake_rate_per_s``. With
``STORE_CONFIRMATION_TIMEOUT_S`` = questions / rate, the last question is opened as the first one
falls due: all of them are open at once at that moment (``peak_open_questions``). From then on
questions fall due at the intake rate (plus the half-time reminders, at the same rate, from the
middle of intake), and intake still competes with the pump for the database. A shop with 10 000
open questions and the 20-minute timeout sees about 8 per second fall due; the bench runs at
``intake_rate_per_s``. Then the pump runs until every deadline has fired.

*backlog*: the pump's capacity. ``backlog`` questions opened as fast as possible with the pump
stopped (the service was down), then all of them overdue: one ``run_once`` fires them all, and
the figure is deadlines per second (each question has two: reminder and expiry).
Lateness = ``tasks.closed_at`` − ``tasks.deadline`` of the tasks closed by timeout (``closed_at``
is the clock at firing time), and ``fired_at`` − ``due_at`` of both deadline kinds (the half-time
reminder too). No Slack in this part (its notices stay undelivered).

Service, emulator and HTTP client share this process and its event loop: the RSS figures include
the emulator (its messages and recorded calls), the click latencies include the client's time.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import math
import resource
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from app.bootstrap import Services, SystemClock, build
from app.http.server import create_app
from app.settings import load_settings
from bench.common import (
    Json,
    PgProbe,
    latency_figures,
    load_average,
    machine_facts,
    percentile,
    sqlite_url,
    temporary_pg_database,
)
from bench.stock_latency import EXAMPLE_CONFIG, environment
from emulators.slack import RateLimitPolicy, SlackEmulator
from storage import schema as t
from workflows.model import LineStatus, StockFigure
from workflows.orders import LineRequest, PlaceOrder
from workflows.topology import Topology

STORES = 10
SKUS_PER_STORE = 10
UNITS = 1_000_000  # per SKU in its one store: stock never runs out
CHANNEL = "site"
SECRET = "bench-signing-secret-0123456789abcdef"
TOKEN = "xoxb-storeops-bench"
CLICK_TARGET_MS = 300.0
LATENESS_MARGIN_S = 1.0  # target: p99 lateness <= pump interval + this
REAL_SLACK_POSTS_PER_CHANNEL_S = 1.0


@dataclass(frozen=True)
class Sizes:
    questions: int
    clicks: int
    intake_workers: int
    deadline_timeout_s: int  # STORE_CONFIRMATION_TIMEOUT_S of the deadlines part
    click_timeout_s: int  # STORE_CONFIRMATION_TIMEOUT_S of the clicks part: nothing falls due
    pump_interval_s: float  # DEADLINE_PUMP_INTERVAL_S
    drain_cap_s: float  # after intake + timeout, how long the deadlines part waits at most
    intake_rate_per_s: float  # orders per second in the deadlines part (questions / timeout)
    backlog: int  # overdue questions the pump drains at once in the backlog part


FULL = Sizes(
    questions=10_000, clicks=500, intake_workers=8, deadline_timeout_s=200, click_timeout_s=7200,
    pump_interval_s=1.0, drain_cap_s=300.0, intake_rate_per_s=50.0, backlog=2_000,
)  # fmt: skip
QUICK = Sizes(
    questions=200, clicks=40, intake_workers=8, deadline_timeout_s=10, click_timeout_s=7200,
    pump_interval_s=1.0, drain_cap_s=30.0, intake_rate_per_s=20.0, backlog=200,
)  # fmt: skip


def store_code(n: int) -> str:
    return f"s{n}"


def slack_channel(n: int) -> str:
    return f"CS{n}"


def staff(n: int) -> str:
    return f"U{n}"


def sku_for(i: int) -> str:
    """Order ``i``'s SKU: stores take turns, ten SKUs each."""
    return f"Q-{i % STORES + 1}-{(i // STORES) % SKUS_PER_STORE}"


def shop() -> Topology:
    stores = [
        {"code": store_code(n), "kind": "store", "title": f"Store {n}", "slack_channel": slack_channel(n),
         "staff": [staff(n)], "priority": n, "timezone": "Europe/Moscow"}
        for n in range(1, STORES + 1)
    ]  # fmt: skip
    codes = ["online", *(store_code(n) for n in range(1, STORES + 1))]
    return Topology.model_validate(
        {"warehouses": [{"code": "online", "kind": "online"}, *stores], "channels": {CHANNEL: {"serves": codes}}}
    )


def stock() -> list[StockFigure]:
    """Each SKU: plenty in exactly one store, 0 online, nothing anywhere else."""
    figures: list[StockFigure] = []
    for n in range(1, STORES + 1):
        for j in range(SKUS_PER_STORE):
            figures += [StockFigure(f"Q-{n}-{j}", store_code(n), UNITS), StockFigure(f"Q-{n}-{j}", "online", 0)]
    return figures


# ------------------------------------------------------------------------------------------ measuring


def memory() -> Json:
    """This process's resident memory now (VmRSS), its peak so far (VmHWM) and ru_maxrss, in MB."""
    gc.collect()
    found: Json = {}
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    found["ru_maxrss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return found


def seconds_figures(samples: Sequence[float]) -> Json:
    """min/p50/p90/p99/max/mean in seconds."""
    ordered = sorted(samples)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "min_s": round(ordered[0], 3),
        "p50_s": round(percentile(ordered, 50), 3),
        "p90_s": round(percentile(ordered, 90), 3),
        "p99_s": round(percentile(ordered, 99), 3),
        "max_s": round(ordered[-1], 3),
        "mean_s": round(sum(ordered) / len(ordered), 3),
    }


@dataclass
class Job:
    """A job run the way app.scheduler runs it: on a fixed grid every ``interval`` seconds, never
    two at once; a run that overruns makes the next start at the next grid point."""

    name: str
    interval: float
    call: Callable[[], Awaitable[int]]
    runs: list[tuple[float, float, int]] = field(default_factory=list)  # (start offset, seconds, result)
    errors: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        origin = time.monotonic()
        while not self._stop.is_set():
            began = time.monotonic()
            result = 0
            try:
                result = await self.call()
            except Exception as error:  # the scheduler logs and goes on; we record it
                self.errors.append(f"{type(error).__name__}: {error}")
            self.runs.append((began - origin, time.monotonic() - began, result))
            slot = origin + (math.floor((time.monotonic() - origin) / self.interval) + 1) * self.interval
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, slot - time.monotonic()))

    def report(self) -> Json:
        durations = [seconds for _, seconds, _ in self.runs]
        return {
            "job": self.name,
            "interval_s": self.interval,
            "runs": len(self.runs),
            "total_result": sum(result for _, _, result in self.runs),
            "runs_longer_than_interval": sum(1 for d in durations if d > self.interval),
            "run_seconds": seconds_figures(durations),
            "errors": len(self.errors),
            "error_examples": self.errors[:5],
        }


# ------------------------------------------------------------------------------------------ the service


@asynccontextmanager
async def service(database_url: str, extra_env: dict[str, str]) -> AsyncIterator[Services]:
    """The real service on the system clock, settings from the environment, stock loaded."""
    env = {"DATABASE_URL": database_url, "STOREOPS_CONFIG": str(EXAMPLE_CONFIG), "LOCALE": "en", **extra_env}
    with environment(env):
        settings = load_settings(env_file=None)
    services = await build(settings, shop(), clock=SystemClock())
    try:
        await services.shop.ledger.apply_stock(services.shop.clock.now(), stock())
        yield services
    finally:
        await services.close()


@asynccontextmanager
async def http_server(services: Services) -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(services), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def intake(
    services: Services, sizes: Sizes, prefix: str, *, rate: float | None = None, count: int | None = None
) -> Json:
    """``count`` (default ``sizes.questions``) one-line orders through ``services.shop.orders.place``,
    by concurrent workers; order ``i`` not before ``i / rate`` seconds when a rate is given."""
    total = sizes.questions if count is None else count
    counter = itertools.count()
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    origin = time.monotonic()

    async def worker() -> None:
        while (i := next(counter)) < total:
            if rate is not None:
                await asyncio.sleep(max(0.0, origin + i / rate - time.monotonic()))
            try:
                placed = await services.shop.orders.place(
                    PlaceOrder(CHANNEL, f"{prefix}-{i:05d}", [LineRequest(sku_for(i), 1)])
                )
            except Exception as error:
                errors.append(f"order {i}: {type(error).__name__}: {error}")
                continue
            statuses[placed.order.lines[0].status.value] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(sizes.intake_workers)))
    seconds = time.perf_counter() - started
    return {
        "method": "services.shop.orders.place (real order intake), one line each, each opening one store question",
        "orders": total,
        "workers": sizes.intake_workers,
        "paced_at_per_s": rate,
        "seconds": round(seconds, 2),
        "orders_per_s": round(total / seconds, 1),
        "line_status_at_intake": dict(statuses),
        "errors": len(errors),
        "error_examples": errors[:5],
    }


async def counts(services: Services) -> Json:
    """What the database holds: tasks, lines, holds, notices, events, unfired deadlines."""
    async with services.database.read_engine.connect() as c:

        async def grouped(*columns: Any) -> dict[str, int]:
            rows = (await c.execute(select(*columns, func.count()).group_by(*columns))).all()
            return {"/".join(str(v) for v in row[:-1]): int(row[-1]) for row in rows}

        unfired = (
            await c.execute(
                select(func.count()).select_from(t.task_deadlines).where(t.task_deadlines.c.fired_at.is_(None))
            )
        ).scalar_one()
        reserved = (await c.execute(select(func.coalesce(func.sum(t.stock_levels.c.reserved), 0)))).scalar_one()
        return {
            "tasks_by_state_reason": await grouped(t.tasks.c.state, t.tasks.c.end_reason),
            "lines_by_status": await grouped(t.order_lines.c.status),
            "reservations_by_state": await grouped(t.reservations.c.state),
            "stock_reserved_total": int(reserved),
            "notices_by_topic_delivered": await grouped(t.notices.c.topic, t.notices.c.delivered_at.is_not(None)),
            "events_by_kind": await grouped(t.order_events.c.kind),
            "deadlines_by_kind_fired": await grouped(t.task_deadlines.c.kind, t.task_deadlines.c.fired_at.is_not(None)),
            "unfired_deadlines": int(unfired),
            "task_messages": int((await c.execute(select(func.count()).select_from(t.task_messages))).scalar_one()),
        }


# ------------------------------------------------------------------------------------------ deadlines


async def unfired(services: Services) -> int:
    async with services.database.read_engine.connect() as c:
        query = select(func.count()).select_from(t.task_deadlines).where(t.task_deadlines.c.fired_at.is_(None))
        return int((await c.execute(query)).scalar_one())


async def deadlines_part(database_url: str, sizes: Sizes, log: Callable[[str], None]) -> Json:
    env = {
        "STORE_CONFIRMATION_TIMEOUT_S": str(sizes.deadline_timeout_s),
        "DEADLINE_PUMP_INTERVAL_S": str(sizes.pump_interval_s),
        "SLACK_BOT_TOKEN": "",  # empty = unset: no Slack in this part
        "SLACK_SIGNING_SECRET": "",
    }
    async with service(database_url, env) as services:
        interval = services.settings.business.deadline_pump_interval_s
        timeout = services.settings.business.store_confirmation_timeout_s
        pump = Job("DeadlinePump.run_once", interval, services.shop.pump.run_once)
        pump.start()
        log(
            f"  deadlines: {sizes.questions} orders at {sizes.intake_rate_per_s:g}/s, timeout {timeout} s, "
            f"pump every {interval} s"
        )
        taken = await intake(services, sizes, "deadline", rate=sizes.intake_rate_per_s)
        intake_end = services.shop.clock.now()
        log(f"  deadlines: intake {taken['seconds']} s ({taken['orders_per_s']}/s); waiting for the pump")
        drain_started = time.perf_counter()
        left = await unfired(services)
        for _ in range(math.ceil((timeout + sizes.drain_cap_s) * 4)):
            if left == 0:
                break
            await asyncio.sleep(0.25)
            left = await unfired(services)
        drain_seconds = time.perf_counter() - drain_started
        await pump.stop()
        async with services.database.read_engine.connect() as c:
            tasks = (
                await c.execute(
                    select(t.tasks.c.deadline, t.tasks.c.closed_at, t.tasks.c.end_reason, t.tasks.c.created_at)
                )
            ).all()
            fired = (
                await c.execute(select(t.task_deadlines.c.kind, t.task_deadlines.c.due_at, t.task_deadlines.c.fired_at))
            ).all()
        books = await counts(services)
    expired = [(row.deadline, row.closed_at) for row in tasks if row.end_reason == "timeout" and row.closed_at]
    lateness = [(closed - due).total_seconds() for due, closed in expired]
    during = [(c - d).total_seconds() for d, c in expired if d <= intake_end]
    after = [(c - d).total_seconds() for d, c in expired if d > intake_end]
    by_kind = {
        kind: seconds_figures([(r.fired_at - r.due_at).total_seconds() for r in fired if r.kind == kind and r.fired_at])
        for kind in sorted({r.kind for r in fired})
    }
    deadlines = sorted(row.deadline for row in tasks)
    last_opened = max((row.created_at for row in tasks), default=None)
    peak_open = sum(
        1
        for row in tasks
        if last_opened and row.created_at <= last_opened and (not row.closed_at or row.closed_at > last_opened)
    )
    figures = seconds_figures(lateness)
    target = interval + LATENESS_MARGIN_S
    return {
        "store_confirmation_timeout_s": timeout,
        "pump_interval_s": interval,
        "intake": taken,
        "peak_open_questions": peak_open,
        "deadline_window_s": round((deadlines[-1] - deadlines[0]).total_seconds(), 2) if deadlines else None,
        "deadlines_first_to_intake_end_s": round((intake_end - deadlines[0]).total_seconds(), 2) if deadlines else None,
        "drain_seconds_after_intake": round(drain_seconds, 1),
        "unfired_deadlines_at_end": left,
        "lateness": {
            "what": "tasks.closed_at - tasks.deadline of the tasks closed by timeout, seconds",
            **figures,
            "due_during_intake": seconds_figures(during),
            "due_after_intake": seconds_figures(after),
        },
        "lateness_by_due_window": lateness_windows(expired),
        "fired_minus_due_by_kind": by_kind,
        "target_p99_s": target,
        "target_met": bool(lateness) and figures["p99_s"] <= target and len(lateness) == sizes.questions,
        "pump": pump.report(),
        "books": books,
        "problems": deadline_problems(books, taken, sizes.questions, left),
        "load_average_at_end": load_average(),
    }


async def backlog_part(database_url: str, sizes: Sizes, log: Callable[[str], None]) -> Json:
    """The pump's capacity: every deadline of ``sizes.backlog`` questions overdue at once."""
    timeout = 10  # the shortest STORE_CONFIRMATION_TIMEOUT_S allowed
    env = {"STORE_CONFIRMATION_TIMEOUT_S": str(timeout), "SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""}
    async with service(database_url, env) as services:
        taken = await intake(services, sizes, "backlog", count=sizes.backlog)
        opened = time.monotonic()
        await asyncio.sleep(max(0.0, opened + timeout + 0.5 - time.monotonic()))  # all overdue: the pump was "down"
        due = await unfired(services)
        started = time.perf_counter()
        fired = await services.shop.pump.run_once()
        seconds = time.perf_counter() - started
        left = await unfired(services)
        books = await counts(services)
    log(f"  backlog: {fired} overdue deadlines fired in {seconds:.2f} s")
    return {
        "what": "questions opened with the pump stopped, then one DeadlinePump.run_once fires every overdue deadline",
        "intake": taken,
        "overdue_deadlines": due,
        "fired": fired,
        "seconds": round(seconds, 2),
        "deadlines_per_s": round(fired / seconds, 1) if seconds else None,
        "questions_expired_per_s": round(fired / 2 / seconds, 1) if seconds else None,
        "problems": deadline_problems(books, taken, sizes.backlog, left),
    }


def lateness_windows(expired: Sequence[tuple[datetime, datetime]], windows: int = 10) -> list[Json]:
    """The lateness of deadlines grouped by when they fell due (equal slices of the window)."""
    if not expired:
        return []
    first = min(due for due, _ in expired)
    span = max((due - first).total_seconds() for due, _ in expired) or 1.0
    groups: list[list[float]] = [[] for _ in range(windows)]
    for due, closed in expired:
        index = min(windows - 1, int((due - first).total_seconds() / span * windows))
        groups[index].append((closed - due).total_seconds())
    return [
        {"due_from_s": round(span * n / windows, 1), "count": len(g), "p50_s": round(percentile(sorted(g), 50), 3),
         "max_s": round(max(g), 3)}
        for n, g in enumerate(groups) if g
    ]  # fmt: skip


def deadline_problems(books: Json, taken: Json, questions: int, left: int) -> list[str]:
    problems: list[str] = []
    if taken["errors"]:
        problems.append(f"{taken['errors']} order intake errors, e.g. {taken['error_examples'][:2]}")
    awaiting = taken["line_status_at_intake"].get(LineStatus.AWAITING_STORE_CONFIRMATION.value, 0)
    if awaiting != questions:
        problems.append(f"only {awaiting} of {questions} lines were held for a store: {taken['line_status_at_intake']}")
    if books["tasks_by_state_reason"] != {"expired/timeout": questions}:
        problems.append(f"tasks are not all expired by timeout: {books['tasks_by_state_reason']}")
    if books["lines_by_status"] != {LineStatus.UNFULFILLABLE.value: questions}:
        problems.append(f"lines are not all unfulfillable: {books['lines_by_status']}")
    if books["stock_reserved_total"] != 0 or "active" in books["reservations_by_state"]:
        problems.append(
            f"holds left: reserved={books['stock_reserved_total']}, reservations {books['reservations_by_state']}"
        )
    events = books["events_by_kind"]
    for kind in ("store_asked", "store_declined", "unfulfillable"):
        if events.get(kind, 0) != questions:
            problems.append(f"{events.get(kind, 0)} {kind} events for {questions} orders")
    if left:
        problems.append(f"{left} deadlines still unfired at the end")
    return problems


# ------------------------------------------------------------------------------------------ clicks


@dataclass(frozen=True)
class Question:
    task_id: int
    channel: str
    ts: str
    text: str
    user: str  # the store's staff member


def posted_questions(slack: SlackEmulator) -> list[Question]:
    found: list[Question] = []
    for n in range(1, STORES + 1):
        for message in slack.messages(slack_channel(n)):
            if message.thread_ts is None:
                first = message.history[0].blocks if message.history else message.blocks
                found.append(Question(int(first[-1]["elements"][0]["value"]), message.channel, message.ts,
                                      message.text, staff(n)))  # fmt: skip
    return sorted(found, key=lambda q: q.task_id)


def signed_click(question: Question, option: str) -> tuple[str, dict[str, str]]:
    """A ``block_actions`` request body as Slack sends it, signed as Slack signs it."""
    task_id = str(question.task_id)
    payload = {
        "type": "block_actions", "team": {"id": "T1", "domain": "shop"}, "api_app_id": "A1", "token": "legacy",
        "user": {"id": question.user, "username": question.user.lower(), "team_id": "T1"}, "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": question.ts, "channel_id": question.channel,
                      "is_ephemeral": False},
        "channel": {"id": question.channel, "name": question.channel}, "message": {"ts": question.ts,
                                                                                    "text": question.text},
        "response_url": "http://127.0.0.1:9/unused", "state": {"values": {}},
        "actions": [{"type": "button", "action_id": f"task:{option}", "block_id": f"task:{task_id}",
                     "value": task_id, "action_ts": f"{time.time():.6f}"}],
    }  # fmt: skip
    body = "payload=" + quote(json.dumps(payload))
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    return body, headers


async def update_seen(slack: SlackEmulator, mark: int, question: Question, patience: float) -> float | None:
    """When (emulator clock) the emulator recorded a ``chat.update`` of ``question``'s message
    among the calls from index ``mark`` on; ``None`` if none within ``patience`` seconds."""
    give_up = time.monotonic() + patience
    position = mark
    while True:
        received = slack.received
        for call in received[position:]:
            if call.method == "chat.update" and call.params.get("ts") == question.ts and call.error is None:
                return call.at
        position = len(received)
        if time.monotonic() > give_up:
            return None
        await asyncio.sleep(0.0005)


async def click_all(base_url: str, slack: SlackEmulator, targets: Sequence[Question]) -> Json:
    to_update: list[float] = []
    to_response: list[float] = []
    update_before_response = 0
    statuses: Counter[int] = Counter()
    missing: list[int] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        for question in targets:
            body, headers = signed_click(question, "available")
            mark = len(slack.received)
            sent = time.monotonic()
            response = await client.post("/slack/events", content=body, headers=headers)
            answered = time.monotonic()
            statuses[response.status_code] += 1
            seen = await update_seen(slack, mark, question, patience=10.0)
            to_response.append(answered - sent)
            if seen is None:
                missing.append(question.task_id)
            else:
                to_update.append(seen - sent)
                update_before_response += seen <= answered
    return {
        "clicks": len(targets),
        "http_status": {str(code): n for code, n in sorted(statuses.items())},
        "click_to_chat_update": {
            "what": "request sent -> chat.update of that message recorded by the emulator (ms)",
            **latency_figures(to_update),
        },
        "click_http_response": {"what": "request sent -> HTTP response received (ms)", **latency_figures(to_response)},
        "updates_recorded_before_http_response": update_before_response,
        "clicks_without_chat_update": len(missing),
        "clicks_without_chat_update_examples": missing[:5],
    }


async def deliver_all(services: Services) -> Json:
    delivery = services.chats.slack_delivery
    assert delivery is not None
    runs = 0
    sent_total = 0
    started = time.perf_counter()
    while sent := await delivery.run_once():
        runs += 1
        sent_total += sent
    seconds = time.perf_counter() - started
    return {
        "method": "services.chats.slack_delivery.run_once() (100 notices a call) until it delivers nothing",
        "calls": runs + 1,
        "questions_posted": sent_total,
        "seconds": round(seconds, 2),
        "questions_per_s": round(sent_total / seconds, 1) if seconds else None,
        "real_slack_bound_per_s": STORES * REAL_SLACK_POSTS_PER_CHANNEL_S,
        "real_slack_bound_note": (
            f"real Slack posts about {REAL_SLACK_POSTS_PER_CHANNEL_S:g} message/s per channel; "
            f"{STORES} store channels here; the emulator's limit is lifted for this measurement"
        ),
    }


async def clicks_part(database_url: str, sizes: Sizes, log: Callable[[str], None]) -> Json:
    channels = {slack_channel(n): store_code(n) for n in range(1, STORES + 1)}
    unlimited = RateLimitPolicy(per_second=1e9, burst=1_000_000_000)
    async with SlackEmulator(bot_token=TOKEN, channels=channels, rate_limit=unlimited) as slack:
        env = {
            "STORE_CONFIRMATION_TIMEOUT_S": str(sizes.click_timeout_s),
            "DEADLINE_PUMP_INTERVAL_S": str(sizes.pump_interval_s),
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_BASE": slack.base_url,
        }
        async with service(database_url, env) as services, http_server(services) as base_url:
            rss: Json = {"before_intake": memory()}
            log(f"  clicks: {sizes.questions} orders (questions stay open)")
            taken = await intake(services, sizes, "click")
            rss["questions_open_not_posted"] = memory()
            log(f"  clicks: intake {taken['seconds']} s ({taken['orders_per_s']}/s); delivering to Slack")
            delivered = await deliver_all(services)
            rss["questions_open_and_posted"] = memory()
            posts = slack.calls("chat.postMessage")
            questions = posted_questions(slack)
            step = max(1, len(questions) // max(1, sizes.clicks))
            targets = questions[::step][: sizes.clicks]
            log(f"  clicks: {delivered['questions_per_s']} questions/s posted; {len(targets)} clicks")
            interval = services.settings.business.deadline_pump_interval_s
            assert services.chats.slack_delivery is not None
            jobs = [
                Job("DeadlinePump.run_once", interval, services.shop.pump.run_once),
                Job("SlackDelivery.run_once", 1.0, services.chats.slack_delivery.run_once),
            ]
            for job in jobs:
                job.start()
            updates_before = len(slack.calls("chat.update"))
            try:
                clicked = await click_all(base_url, slack, targets)
            finally:
                for job in jobs:
                    await job.stop()
            rss["after_clicks"] = memory()
            books = await counts(services)
            update_calls = slack.calls("chat.update")[updates_before:]
            updates = Counter(str(call.params.get("ts")) for call in update_calls)
            by_ts = {q.ts: q.task_id for q in questions}
            doubled = [
                {"task_id": by_ts.get(ts), "chat_update_calls": n,
                 "seconds_between_first_and_last": round(max(times) - min(times), 4)}
                for ts, n in updates.items() if n > 1
                for times in [[call.at for call in update_calls if call.params.get("ts") == ts]]
            ]  # fmt: skip
            ephemerals = sum(len(slack.ephemerals(slack_channel(n))) for n in range(1, STORES + 1))
    clicked_ts = {q.ts for q in targets}
    delivery_check = {
        "chat_postMessage_calls": len(posts),
        "chat_postMessage_failed": sum(1 for call in posts if call.error is not None),
        "questions_in_slack": len(questions),
        "distinct_tasks_in_slack": len({q.task_id for q in questions}),
    }
    update_check = {
        "chat_update_calls_during_clicks": sum(updates.values()),
        "clicked_messages_updated_once": sum(1 for ts in clicked_ts if updates.get(ts) == 1),
        "clicked_messages_updated_more_than_once": sum(1 for ts in clicked_ts if updates.get(ts, 0) > 1),
        "clicked_messages_not_updated": sum(1 for ts in clicked_ts if ts not in updates),
        "other_messages_updated": sum(1 for ts in updates if ts not in clicked_ts),
        "updated_more_than_once_examples": doubled[:5],
        "ephemeral_messages": ephemerals,
    }
    figures = clicked["click_to_chat_update"]
    return {
        "store_confirmation_timeout_s": sizes.click_timeout_s,
        "slack": "emulators.slack.SlackEmulator on 127.0.0.1, posting rate limit lifted",
        "intake": taken,
        "delivery": {**delivered, **delivery_check},
        "background_jobs_while_clicking": [job.report() for job in jobs],
        "clicks": {**clicked, **update_check},
        "target_p99_ms": CLICK_TARGET_MS,
        "target_met": figures.get("p99_ms", math.inf) <= CLICK_TARGET_MS and not clicked["clicks_without_chat_update"],
        "memory": {
            "what": "this one process: service + Slack emulator + HTTP client (the database server not included)",
            **rss,
            "delta_open_mb": _delta(rss, "questions_open_not_posted"),
            "delta_open_and_posted_mb": _delta(rss, "questions_open_and_posted"),
        },
        "books": books,
        "problems": click_problems(books, taken, delivered, delivery_check, clicked, update_check, sizes.questions),
    }


def _delta(rss: Json, key: str) -> float | None:
    before, now = rss["before_intake"].get("rss_mb"), rss[key].get("rss_mb")
    return round(now - before, 1) if before is not None and now is not None else None


def click_problems(
    books: Json, taken: Json, delivered: Json, posted: Json, clicked: Json, updates: Json, questions: int
) -> list[str]:
    problems: list[str] = []
    if taken["errors"]:
        problems.append(f"{taken['errors']} order intake errors, e.g. {taken['error_examples'][:2]}")
    if delivered["questions_posted"] != questions or posted["chat_postMessage_calls"] != questions:
        problems.append(
            f"{questions} questions: delivery reported {delivered['questions_posted']}, "
            f"the emulator got {posted['chat_postMessage_calls']} chat.postMessage"
        )
    if posted["chat_postMessage_failed"] or posted["distinct_tasks_in_slack"] != questions:
        problems.append(f"Slack holds {posted['distinct_tasks_in_slack']} distinct questions of {questions}: {posted}")
    n = clicked["clicks"]
    if clicked["http_status"] != {"200": n}:
        problems.append(f"click answers: {clicked['http_status']}")
    if updates["clicked_messages_updated_once"] != n:
        problems.append(f"of {n} clicked messages: {updates}")
    if updates["other_messages_updated"] or updates["ephemeral_messages"]:
        problems.append(f"unexpected Slack calls: {updates}")
    expected_tasks = {"answered/answered": n, "open/None": questions - n}
    if books["tasks_by_state_reason"] != expected_tasks:
        problems.append(f"tasks {books['tasks_by_state_reason']}, expected {expected_tasks}")
    expected_lines = {LineStatus.RESERVED.value: n, LineStatus.AWAITING_STORE_CONFIRMATION.value: questions - n}
    if books["lines_by_status"] != expected_lines:
        problems.append(f"lines {books['lines_by_status']}, expected {expected_lines}")
    undelivered = {k: v for k, v in books["notices_by_topic_delivered"].items() if k.endswith("/False")}
    if undelivered:
        problems.append(f"notices left undelivered: {undelivered}")
    if books["task_messages"] != questions:
        problems.append(f"{books['task_messages']} task_messages rows for {questions} questions")
    return problems


# ------------------------------------------------------------------------------------------ entry


async def run(quick: bool, probe: PgProbe, pg_url: str, log: Callable[[str], None]) -> Json:
    sizes = QUICK if quick else FULL
    started = time.perf_counter()
    result: Json = {
        "benchmark": "store_questions",
        "quick": quick,
        "machine": machine_facts(probe.server_version),
        "parameters": {
            **asdict(sizes),
            "stores": STORES,
            "skus_per_store": SKUS_PER_STORE,
            "clock": "app.bootstrap.SystemClock (real time)",
            "opening": (
                "real order intake: services.shop.orders.place of one-line orders by concurrent workers "
                "(not TaskBoard.open in batches)"
            ),
            "stock": (
                "each SKU stocked in exactly one store (plenty) and at 0 online: every line is held in that store "
                "and asked there; on timeout no store is left, so the line becomes unfulfillable (no second question)"
            ),
            "deadline_spread": (
                "questions opened at intake_rate_per_s with the pump already running and the timeout = questions / "
                "rate, so all are open at once when the first falls due (peak_open_questions); they then fall due at "
                "that rate over deadline_window_s while intake still competes for the database"
            ),
            "backlog": "the pump's capacity: `backlog` questions overdue at once, fired by one run_once",
            "pump": "DeadlinePump.run_once on a fixed grid every DEADLINE_PUMP_INTERVAL_S (as app.scheduler)",
            "clicks": (
                "signed block_actions on 'available' by the store's staff member, sequential, POST /slack/events on "
                "the real aiohttp server (AppRunner/TCPSite, free port), httpx keep-alive client; every "
                "(questions/clicks)-th question; the rest stay open; scheduler jobs (pump, Slack delivery) running"
            ),
            "process": "service, Slack emulator and HTTP client share one process and event loop",
            "part_order": "per database: clicks (with memory) first, then deadlines; SQLite before PostgreSQL",
            "memory_note": (
                "RSS of the whole process; later parts reuse memory freed by earlier ones, so their deltas may "
                "read lower than a fresh process would show"
            ),
            "lateness_target_s": f"p99 <= pump interval + {LATENESS_MARGIN_S:g}",
            "click_target_ms": CLICK_TARGET_MS,
        },
    }
    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as folder:
        log(f"store questions: SQLite, {sizes.questions} questions")
        sqlite = {
            "clicks": await clicks_part(sqlite_url(Path(folder) / "clicks.db"), sizes, log),
            "deadlines": await deadlines_part(sqlite_url(Path(folder) / "deadlines.db"), sizes, log),
            "backlog": await backlog_part(sqlite_url(Path(folder) / "backlog.db"), sizes, log),
        }
    result["sqlite"] = sqlite
    if probe.available:
        log(f"store questions: PostgreSQL {probe.server_version}, {sizes.questions} questions")
        async with temporary_pg_database(pg_url) as clicks_db:
            clicks = await clicks_part(clicks_db.url, sizes, log)
        async with temporary_pg_database(pg_url) as deadlines_db:
            deadlines = await deadlines_part(deadlines_db.url, sizes, log)
        async with temporary_pg_database(pg_url) as backlog_db:
            backlog = await backlog_part(backlog_db.url, sizes, log)
        result["postgres"] = {
            "skipped": False,
            "temporary_databases": [clicks_db.name, deadlines_db.name, backlog_db.name],
            "clicks": clicks,
            "deadlines": deadlines,
            "backlog": backlog,
        }
    else:
        log(f"store questions: PostgreSQL skipped: {probe.reason}")
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
        clicks, deadlines, backlog = part["clicks"], part["deadlines"], part["backlog"]
        late = deadlines["lateness"]
        update = clicks["clicks"]["click_to_chat_update"]
        mem = clicks["memory"]
        found[name] = {
            "questions": result["parameters"]["questions"],
            "intake_orders_per_s": {
                "clicks_part": clicks["intake"]["orders_per_s"],
                "deadlines_part": deadlines["intake"]["orders_per_s"],
            },
            "deadline_lateness_s": {k: late.get(f"{k}_s") for k in ("p50", "p90", "p99", "max")},
            "deadline_window_s": deadlines["deadline_window_s"],
            "deadlines_due_per_s": deadlines["intake"]["paced_at_per_s"],
            "peak_open_questions": deadlines["peak_open_questions"],
            "pump_capacity_deadlines_per_s": backlog["deadlines_per_s"],
            "pump_interval_s": deadlines["pump_interval_s"],
            "lateness_target_p99_s": deadlines["target_p99_s"],
            "lateness_target_met": deadlines["target_met"],
            "slack_questions_posted_per_s": clicks["delivery"]["questions_per_s"],
            "click_to_chat_update_ms": {k: update.get(f"{k}_ms") for k in ("p50", "p90", "p99", "max")},
            "click_target_p99_ms": CLICK_TARGET_MS,
            "click_target_met": clicks["target_met"],
            "rss_mb": {
                "before_intake": mem["before_intake"].get("rss_mb"),
                "questions_open": mem["questions_open_not_posted"].get("rss_mb"),
                "questions_open_and_posted": mem["questions_open_and_posted"].get("rss_mb"),
                "delta_open": mem["delta_open_mb"],
                "delta_open_and_posted": mem["delta_open_and_posted_mb"],
            },
            "problems": [*clicks["problems"], *deadlines["problems"], *backlog["problems"]],
        }
    return found
