"""The running service — HTTP server, scheduler, Slack Socket Mode and Telegram polling — started and stopped
as one piece. ``storeops run`` and ``storeops sandbox`` both go through here, so the sandbox is the production
code path with other base URLs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Self

from aiohttp import web
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.bootstrap import Services
from app.http.client_page import ACCESS_LOGGER
from app.http.connections import ConnectionLimits, GuardedSite
from app.http.server import create_app
from app.instance import alive, running
from app.scheduler import build_scheduler
from app.settings import ConfigurationError
from storage.leadership import SqlLeadership
from workflows.leases import SameInstanceRunning

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

log = logging.getLogger("storeops")
TELEGRAM_POLLING = "telegram polling"  # the leadership among the instances sharing the database


class RunningService:
    """``async with RunningService(services) as running:`` serves on ``HTTP_HOST:HTTP_PORT`` (port 0: a free
    one, see :attr:`url`) until the block ends. ``extend`` adds routes (the sandbox console) before serving."""

    def __init__(self, services: Services, *, extend: Callable[[web.Application], None] | None = None) -> None:
        self.services = services
        self._extend = extend
        self._runner: web.AppRunner | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._jobs: JobsInFlight | None = None
        self._socket_mode: AsyncSocketModeHandler | None = None
        self._polling: asyncio.Task[None] | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def _start(self) -> None:
        services = self.services
        settings, topology = services.settings, services.shop.topology
        await self._take_over()
        app = create_app(services)
        if self._extend is not None:
            self._extend(app)
        # an idle keep-alive connection waits for its next request head: the same HTTP_HEADER_TIMEOUT_S bounds it
        self._runner = web.AppRunner(
            app,
            access_log=logging.getLogger("storeops.access"),
            access_log_class=ACCESS_LOGGER,
            keepalive_timeout=settings.http.header_timeout_s,
        )
        await self._runner.setup()
        self._scheduler = build_scheduler(services)
        self._jobs = JobsInFlight(self._scheduler)
        self._scheduler.start()
        if services.chats.slack_bot is not None:  # clicks never wait for it; a bad token shows in the log at once
            services.chats.slack_bot.learn_in_background()
        app_token = settings.slack.app_token
        if services.chats.slack_app is not None and app_token is not None:
            from bot.slack.app import start_socket_mode  # slack_bolt: loaded where Slack is set up (app/chats.py)

            self._socket_mode = await start_socket_mode(services.chats.slack_app, app_token.get_secret_value())
        if services.chats.telegram_bot is not None and topology.people.owner_telegram_id is None:
            log.warning("TELEGRAM_BOT_TOKEN is set but [people] owner_telegram_id is not: alerts reach nobody")
        if services.chats.telegram_bot is not None and services.chats.telegram_dispatcher is not None:
            from aiogram.exceptions import TelegramAPIError  # aiogram: loaded where Telegram is set up (app/chats.py)

            from bot.telegram.app import poll_while_leading, register_commands

            try:
                await register_commands(services.chats.telegram_bot, settings.business.locale)
            except (TelegramAPIError, OSError) as error:  # the bot still works; the menu comes next start
                log.warning("telegram: could not register the command menu: %s", error)
            if settings.telegram.mode == "polling":
                bot, dispatcher = services.chats.telegram_bot, services.chats.telegram_dispatcher
                leadership = SqlLeadership(services.database, TELEGRAM_POLLING)
                self._polling = asyncio.create_task(poll_while_leading(dispatcher, bot, leadership))
        limits = ConnectionLimits(settings.http.header_timeout_s, settings.http.max_connections)
        site = GuardedSite(self._runner, settings.http.host, settings.http.port, limits)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _take_over(self) -> None:
        """Become this instance's incarnation, taking back at once the leases an earlier run of it left; refused
        while another process runs as the same instance."""
        leases = self.services.leases
        try:
            await leases.begin(alive, asyncio.sleep)
        except SameInstanceRunning as error:
            raise ConfigurationError(
                f"configuration error:\n  INSTANCE_ID: {error}; every instance sharing this database needs its own "
                f"INSTANCE_ID (this one is {leases.me.instance!r})"
            ) from None
        running(leases.me, yes=True)

    async def _stop(self) -> None:
        running(self.services.leases.me, yes=False)
        if self._polling is not None:
            polling, self._polling = self._polling, None
            polling.cancel()  # stops aiogram's polling its own way, then releases the leadership
            await asyncio.gather(polling, return_exceptions=True)
        if self._socket_mode is not None:
            from bot.slack.app import stop_socket_mode

            socket_mode, self._socket_mode = self._socket_mode, None
            await stop_socket_mode(socket_mode)
        if self._scheduler is not None and self._jobs is not None:
            scheduler, self._scheduler = self._scheduler, None
            await stop_scheduler(scheduler, self._jobs)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


class JobsInFlight:
    """The scheduler's job runs under way, kept from its public events: a run is submitted, then ends executed,
    failed or missed, once per scheduled run time. APScheduler 3 cancels running coroutine jobs on shutdown and
    offers no awaitable way to wait for them, so a stop waits here. Listening from before the scheduler starts."""

    def __init__(self, scheduler: AsyncIOScheduler) -> None:
        self._runs: set[tuple[str, datetime]] = set()
        self._none = asyncio.Event()
        self._none.set()
        scheduler.add_listener(self._submitted, EVENT_JOB_SUBMITTED)
        scheduler.add_listener(self._ended, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def _submitted(self, event: JobSubmissionEvent) -> None:
        self._runs.update((event.job_id, at) for at in event.scheduled_run_times)
        if self._runs:
            self._none.clear()

    def _ended(self, event: JobExecutionEvent) -> None:
        self._runs.discard((event.job_id, event.scheduled_run_time))
        if not self._runs:
            self._none.set()

    async def finished(self, patience: float) -> bool:
        """Until no run is under way (``True``) or ``patience`` seconds passed (``False``)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none.wait(), timeout=patience)
        return self._none.is_set()


class _CutOffAtStop(logging.Filter):
    """APScheduler logs a job the shutdown cancelled as an ERROR with its traceback; at a stop that is expected
    (its work is not marked done, so it runs again after the start): said once, as information."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info is not None and isinstance(record.exc_info[1], asyncio.CancelledError):
            job = record.args[0] if isinstance(record.args, tuple) and record.args else None
            log.info("stopping: job %s was still running, cut off; it runs again after the next start",
                     getattr(job, "id", job))  # fmt: skip
            return False
        return True


_CUT_OFF_AT_STOP = _CutOffAtStop()  # one per process: ``addFilter`` keeps one copy of an object, however many stops


async def stop_scheduler(scheduler: AsyncIOScheduler, jobs: JobsInFlight, patience: float = 5.0) -> None:
    """Stop starting jobs, let the running ones finish (a push in flight completes and is recorded), then shut
    down; what still runs after ``patience`` seconds is cancelled by the shutdown."""
    scheduler.pause()
    if not await jobs.finished(patience):
        logging.getLogger("apscheduler.executors.default").addFilter(_CUT_OFF_AT_STOP)
    scheduler.shutdown(wait=False)
