"""The scheduler runs the deadline pump as soon as the service starts: a deadline that fell due
while the service was down fires at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

from app.bootstrap import build
from app.scheduler import build_scheduler
from app.settings import load_settings
from tests.fakes import FakeClock
from workflows.model import StockFigure
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
        await services.ledger.apply_stock(clock.now(), [StockFigure("LAMP", "tverskaya", 1)])
        placed = (await services.orders.place(PlaceOrder("site", "S-1", [LineRequest("LAMP", 1)]))).order
        async with services.uow(read_only=True) as work:
            (task,) = await work.tasks.open_about(f"order:{placed.id}:")
        clock.advance(hours=3)  # "down" past the store's 20 minutes

        scheduler = build_scheduler(services)
        assert {job.id for job in scheduler.get_jobs()} == {"deadlines", "fx", "onec-watch"}  # no chat configured
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
        async with services.uow(read_only=True) as work:
            fired = await work.tasks.get(task.id or 0)
        assert fired is not None and fired.state == TaskState.EXPIRED
    finally:
        await services.close()
