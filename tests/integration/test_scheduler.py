"""The scheduler runs the deadline pump as soon as the service starts: a deadline that fell due
while the service was down fires at start. Channel upkeep jobs follow what a client can do. A stop lets the job
runs under way finish, within a patience."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.bootstrap import build
from app.scheduler import build_scheduler
from app.service import JobsInFlight, stop_scheduler
from app.settings import load_settings
from tests.fakes import FakeClock
from tests.unit.test_order_events import ReportingChannel
from workflows.channels import LearnsProducts
from workflows.model import StockFigure
from workflows.order_events import OrderFeed
from workflows.orders import LineRequest, PlaceOrder
from workflows.tasks import TaskState
from workflows.topology import Topology


async def test_the_deadline_job_fires_what_fell_due_while_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'sched.db'}")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    clock = FakeClock()
    services = await build(load_settings(env_file=None), topology, clock=clock)
    try:
        await services.shop.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "tverskaya", 1)])
        placed = (await services.shop.orders.place(PlaceOrder("site", "S-1", [LineRequest("LAMP", 1)]))).order
        async with services.shop.uow(read_only=True) as work:
            (task,) = await work.tasks.open_about(f"order:{placed.id}:")
        clock.advance(hours=3)  # "down" past the store's 20 minutes

        scheduler = build_scheduler(services)
        no_chat = {
            "leases",
            "deadlines",
            "fx",
            "money-postponed",
            "money-purchase-watch",
            "onec-watch",
        }  # no chat configured
        assert {job.id for job in scheduler.get_jobs()} == no_chat
        ran = asyncio.Event()
        outcome: list[JobExecutionEvent] = []

        def listener(event: JobExecutionEvent) -> None:
            if event.job_id == "deadlines":
                outcome.append(event)
                ran.set()

        scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.start()
        try:
            await asyncio.wait_for(ran.wait(), timeout=10)  # the job's first run is at start
        finally:
            scheduler.shutdown(wait=False)
        assert outcome[0].exception is None
        async with services.shop.uow(read_only=True) as work:
            fired = await work.tasks.get(task.id or 0)
        assert fired is not None and fired.state == TaskState.EXPIRED
    finally:
        await services.close()


async def test_a_client_that_learns_the_channels_catalogue_gets_an_hourly_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler asks the port (``LearnsProducts``), not for a client class: Wildberries reads its cards again
    every hour, Ozon (which takes our offer ids as they are) gets no such job."""
    topology = Topology.model_validate({
        "warehouses": [{"code": "online", "kind": "online"}],
        "channels": {
            "wildberries": {"serves": ["online"], "warehouse_id": 658434},
            "ozon": {"serves": ["online"], "warehouse_id": 1020000001},
        },
    })  # fmt: skip
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cards.db'}", "WB_TOKEN": "wb-token",
        "WB_API_BASE": "http://127.0.0.1:9", "WB_CONTENT_API_BASE": "http://127.0.0.1:9",
        "OZON_CLIENT_ID": "ozon-client", "OZON_API_KEY": "ozon-key", "OZON_API_BASE": "http://127.0.0.1:9",
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    services = await build(load_settings(env_file=None), topology, clock=FakeClock())
    try:
        clients = services.shop.channels
        assert sorted(clients) == ["ozon", "wildberries"]
        assert isinstance(clients["wildberries"], LearnsProducts) and not isinstance(clients["ozon"], LearnsProducts)
        jobs = {job.id: job for job in build_scheduler(services).get_jobs() if job.id.startswith("cards-")}
        assert list(jobs) == ["cards-wildberries"]
        assert jobs["cards-wildberries"].func == clients["wildberries"].learn_products
        assert str(jobs["cards-wildberries"].trigger) == "interval[1:00:00]"
    finally:
        await services.close()


async def test_a_channel_that_reports_order_events_has_them_pulled_every_minute_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'feeds.db'}")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    clock = FakeClock()
    services = await build(load_settings(env_file=None), topology, clock=clock)
    try:
        shop = services.shop
        shop.order_feeds = [OrderFeed(shop.uow, clock, ReportingChannel("ozon"), shop.orders, channel="ozon")]
        jobs = {job.id: job for job in build_scheduler(services).get_jobs() if job.id.startswith("order-events-")}
        assert list(jobs) == ["order-events-ozon"]
        assert jobs["order-events-ozon"].func == shop.order_feeds[0].pull
        assert str(jobs["order-events-ozon"].trigger) == "interval[0:01:00]"  # ORDER_EVENTS_INTERVAL_S
    finally:
        await services.close()


async def test_the_order_events_interval_is_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topology: Topology
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'feeds.db'}")
    monkeypatch.setenv("ORDER_EVENTS_INTERVAL_S", "15")
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    clock = FakeClock()
    services = await build(load_settings(env_file=None), topology, clock=clock)
    try:
        shop = services.shop
        shop.order_feeds = [OrderFeed(shop.uow, clock, ReportingChannel("ozon"), shop.orders, channel="ozon")]
        jobs = {job.id: job for job in build_scheduler(services).get_jobs()}
        assert str(jobs["order-events-ozon"].trigger) == "interval[0:00:15]"
    finally:
        await services.close()


class Runs:
    """Jobs that sleep, recording how each run ended."""

    def __init__(self) -> None:
        self.started: dict[str, asyncio.Event] = {}
        self.ended: dict[str, str] = {}

    def add(self, scheduler: AsyncIOScheduler, name: str, seconds: float) -> None:
        self.started[name] = asyncio.Event()
        scheduler.add_job(self.run, "interval", args=[name, seconds], seconds=3600, id=name,
                          next_run_time=datetime.now(UTC))  # fmt: skip

    async def run(self, name: str, seconds: float) -> None:
        self.started[name].set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.ended[name] = "cut short"
            raise
        self.ended[name] = "finished"

    async def all_started(self) -> None:
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in self.started.values())), timeout=10)


async def test_a_stop_waits_for_the_job_runs_under_way() -> None:
    scheduler, runs = AsyncIOScheduler(timezone=UTC), Runs()
    runs.add(scheduler, "push", 0.3)  # a push in flight when the service is asked to stop
    jobs = JobsInFlight(scheduler)
    scheduler.start()
    await runs.all_started()
    started = time.monotonic()
    await stop_scheduler(scheduler, jobs, patience=5)
    assert runs.ended == {"push": "finished"}
    assert time.monotonic() - started < 4  # no longer than the run took
    assert await jobs.finished(0)


async def test_a_stop_cuts_short_a_run_that_outlasts_its_patience(caplog: pytest.LogCaptureFixture) -> None:
    scheduler, runs = AsyncIOScheduler(timezone=UTC), Runs()
    runs.add(scheduler, "quick", 0.2)
    runs.add(scheduler, "stuck", 60)
    jobs = JobsInFlight(scheduler)
    scheduler.start()
    await runs.all_started()
    started = time.monotonic()
    with caplog.at_level(logging.INFO):
        await stop_scheduler(scheduler, jobs, patience=1)
        assert 1 <= time.monotonic() - started < 10
        for _ in range(10):  # the shutdown cancelled the stuck run; let it see that
            await asyncio.sleep(0)
    assert runs.ended == {"quick": "finished", "stuck": "cut short"}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []  # expected at a stop: no ERROR
    assert any("job stuck was still running, cut off" in r.getMessage() for r in caplog.records)


async def test_stops_that_cut_runs_short_leave_one_filter_on_the_scheduler_log() -> None:
    """A process that starts and stops the service many times (the tests) does not pile up copies of the filter."""
    executor_log = logging.getLogger("apscheduler.executors.default")
    for _ in range(2):
        scheduler, runs = AsyncIOScheduler(timezone=UTC), Runs()
        runs.add(scheduler, "stuck", 60)
        jobs = JobsInFlight(scheduler)
        scheduler.start()
        await runs.all_started()
        await stop_scheduler(scheduler, jobs, patience=0.1)
        for _ in range(10):
            await asyncio.sleep(0)
        assert runs.ended == {"stuck": "cut short"}
    assert [type(f).__name__ for f in executor_log.filters].count("_CutOffAtStop") == 1
