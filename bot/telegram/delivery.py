"""Delivers the office notices to Telegram: alerts to the owner (and, for some kinds, the
managers), recovery follow-ups, the managers' tasks with their buttons, and edits in place when
a task closes or an alert's repeat count grows. Notices are leased (one deliverer at a time; a
short lease renewed while the run works, :mod:`workflows.leases`) and marked delivered only after
Telegram took them; the pacer keeps within Telegram's limits and
waits out any 429, so no alert is dropped.

A run is the scheduler's job every :data:`INTERVAL_S`, and it ends within that: a notice is started
only when the pacer lets a message to each of its chats start within the run's :data:`BUDGET_S`; the first
that does not fit, and every notice after it that sends, is handed back for the next run, in the same order. A
chat gets about one message a second either way; a run just never waits a backlog out. What a run handed back is
not left to the scheduler's next second: the run that handed it back starts the next one for the moment the pacer
lets the first of it go (:meth:`TelegramDelivery.follow_up`), so a message held for its chat's second goes when
that second is over, in ``storeops run`` and in the sandbox alike. A closed task's
notice only edits the messages that show it (a person pressed a button, or its time ran out): edits take no
chat's second, so it goes at once, even past messages still waiting for theirs — a message sent later shows the
task as it is by then."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from bot.telegram import render
from bot.telegram.pacing import Pacer
from bot.texts import Locale
from bot.wording import Names
from workflows.alerts import AlertDesk
from workflows.leases import LEASE, HeldLeases
from workflows.office import alert_recipients, task_recipients
from workflows.office_model import Alert
from workflows.payloads import AlertNotice, TaskNotice
from workflows.ports import Clock, LeaseKind, UnitOfWorkFactory
from workflows.tasks import Task
from workflows.topology import Topology
from workflows.vocabulary import OFFICE_TOPICS, NoticeTopic, TaskKind

log = logging.getLogger(__name__)

TOPICS = OFFICE_TOPICS
EDITS_ONLY = frozenset({NoticeTopic.OFFICE_TASK_CLOSED})  # notices that send nothing new: no chat's second taken
COUNT_REFRESH = timedelta(seconds=60)  # an alert's repeat count is edited in at most once a minute
INTERVAL_S = 1.0  # the scheduler starts a run this often
# A run starts no notice later than this into it: a notice's own messages, Telegram's answers and the
# database add to it, and the run must be over before the next one is due.
BUDGET_S = 0.5
_TELEGRAM_FAILED = (TelegramAPIError, OSError, TimeoutError)


@dataclass(frozen=True)
class _About:
    """What a notice is about, read before anything is sent: its alert, its task, and the Telegram
    messages (chat, message id) that show the task."""

    alert: Alert | None
    task: Task | None
    shown: list[tuple[str, str]]


class TelegramDelivery:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        bot: Bot,
        topology: Topology,
        clock: Clock,
        locale: Locale,
        pacer: Pacer,
        alerts: AlertDesk,
        *,
        owner: str | None = None,
        held: HeldLeases | None = None,
    ) -> None:
        self._uow, self._bot, self._topology, self._clock, self._locale = uow, bot, topology, clock, locale
        self._alerts = alerts
        self.pacer = pacer
        self._tz = topology.onec.timezone
        self._names = Names.of(topology, locale)
        self._running = asyncio.Lock()
        self._owner = owner or f"telegram:{socket.gethostname()}:{os.getpid()}"
        self._held = held if held is not None else HeldLeases()  # renewed while a run delivers them
        self._budget_s = BUDGET_S
        self.interval_s = INTERVAL_S
        self._background: set[asyncio.Task[None]] = set()
        self.deferred = False  # the last run handed something back for the next one (it was out of time)
        self._free_at: float | None = None  # when the pacer lets the first notice handed back go (the pacer's clock)
        self._follow_up: asyncio.TimerHandle | None = None
        self._follow_up_at = 0.0  # the loop's time it is set for
        self.call_later: Callable[[float, Callable[[], None]], asyncio.TimerHandle] | None = None  # tests: a fake

    async def run_once(self, limit: int = 50) -> int:
        """Deliver what fits in one run; returns how many notices went out."""
        async with self._running:
            deadline = self.pacer.now() + self._budget_s
            self._free_at = None
            sent, self.deferred = await self._notices(limit, deadline)
            self.deferred = await self._refresh_counts(limit, deadline) or self.deferred
            if self.deferred:
                log.debug("telegram delivery: out of this run's time, the rest goes in the next run")
                free_at = self._free_at if self._free_at is not None else self.pacer.now() + self.interval_s
                self.follow_up(free_at - self.pacer.now())
            return sent

    def follow_up(self, seconds: float) -> None:
        """Start a run (:meth:`kick`) in ``seconds``: when what the last run handed back may go. One is set at a
        time, the soonest asked for; a scheduled run meanwhile changes nothing (the follow-up then finds less)."""
        loop = asyncio.get_running_loop()
        at = loop.time() + max(seconds, 0.0)
        if self._follow_up is not None and not self._follow_up.cancelled() and self._follow_up_at <= at:
            return
        if self._follow_up is not None:
            self._follow_up.cancel()
        self._follow_up_at = at
        later = self.call_later or loop.call_later
        self._follow_up = later(max(seconds, 0.0), self._followed_up)

    def _followed_up(self) -> None:
        self._follow_up = None
        self.kick()

    async def scheduled(self) -> int:
        """The scheduler's run: none when a run a button press started is under way (it delivers the
        same notices), so a scheduled run never waits for another and stays within its interval."""
        if self._running.locked():
            return 0
        return await self.run_once()

    def kick(self) -> None:
        """Deliver soon, in the background: a button press is answered without waiting for it."""
        run = asyncio.create_task(self._background_run())
        self._background.add(run)
        run.add_done_callback(self._background.discard)

    async def after_decision(self) -> None:
        """The buttons' hook after a decision: :meth:`kick`, and return at once."""
        self.kick()

    async def settled(self) -> None:
        """Wait until the background runs started by :meth:`kick` are over."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def close(self) -> None:
        """Cancel background runs (the database goes away after this); a cancelled notice's lease runs out."""
        if self._follow_up is not None:
            self._follow_up.cancel()
            self._follow_up = None
        for run in list(self._background):
            run.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _background_run(self) -> None:
        try:
            await self.run_once()
        except Exception:  # the scheduled run tries again; a press's answer is not the place to fail
            log.exception("telegram delivery after a button press failed")

    def _held_back(self, chats: Sequence[int]) -> None:
        """A notice to ``chats`` is handed back: the next run is due when the pacer lets it go, if that is sooner."""
        free_at = self.pacer.now() + self.pacer.free_in(chats)
        self._free_at = free_at if self._free_at is None else min(self._free_at, free_at)

    def _fits(self, chats: Sequence[int], deadline: float) -> bool:
        return self.pacer.free_in(chats) <= deadline - self.pacer.now()

    async def _notices(self, limit: int, deadline: float) -> tuple[int, bool]:
        """Deliver claimed notices in order until one that sends does not fit in the run (the edits after it
        still go): how many went, and whether some were handed back for lack of time."""
        async with self._uow() as uow:
            now = self._clock.now()
            waiting = await uow.notices.claim(TOPICS, now, now + LEASE, self._owner, limit)
            await uow.commit()
        with self._held.holding(LeaseKind.NOTICE, [(notice_id,) for notice_id, _, _ in waiting]):
            return await self._in_turn(waiting, deadline)

    async def _in_turn(
        self, waiting: list[tuple[int, NoticeTopic, dict[str, object]]], deadline: float
    ) -> tuple[int, bool]:
        later: list[tuple[int, NoticeTopic, dict[str, object]]] = []
        sent = 0
        for position, notice in enumerate(waiting):
            notice_id, topic, payload = notice
            try:
                about = await self._about(topic, payload)
                if topic not in EDITS_ONLY and (later or not self._fits(self._chats(topic, about), deadline)):
                    if not later:  # the first handed back: the next run is for when it may go
                        self._held_back(self._chats(topic, about))
                    later.append(notice)
                    continue
                await self._deliver(topic, about)
            except _TELEGRAM_FAILED as error:
                log.warning("telegram refused notice id=%s topic=%s: %s", notice_id, topic, error)
                await self._release([*later, *waiting[position:]])
                return sent, False
            async with self._uow() as uow:
                await uow.notices.delivered(notice_id, self._clock.now())
                await uow.commit()
            sent += 1
        if later:
            await self._release(later)
        return sent, bool(later)

    async def _release(self, notices: Sequence[tuple[int, NoticeTopic, dict[str, object]]]) -> None:
        async with self._uow() as uow:
            await uow.notices.release([n for n, _, _ in notices], self._owner)
            await uow.commit()

    async def _about(self, topic: NoticeTopic, payload: dict[str, object]) -> _About:
        async with self._uow(read_only=True) as uow:
            if topic in (NoticeTopic.ALERT, NoticeTopic.ALERT_RESOLVED):
                alert = await uow.alerts.get(AlertNotice.from_payload(payload).alert_id)
                task = await uow.tasks.get(alert.task_id) if alert and alert.task_id else None
            else:
                task = await uow.tasks.get(TaskNotice.from_payload(payload).task_id)
                alert = await uow.alerts.by_task(task.id) if task and task.id and task.kind == TaskKind.ALERT else None
            messages = await uow.tasks.messages(task.id) if task and task.id else []
        return _About(alert, task, [(chat, message) for platform, chat, message in messages if platform == "telegram"])

    def _chats(self, topic: NoticeTopic, about: _About) -> list[int]:
        """The chats a notice sends to or edits in."""
        people, alert, task = self._topology.people, about.alert, about.task
        if topic == NoticeTopic.ALERT and alert is not None:
            return alert_recipients(people, alert.kind)
        if topic == NoticeTopic.ALERT_RESOLVED and alert is not None:
            return [int(chat) for chat, _ in self._told(alert, about.shown)]
        if topic == NoticeTopic.OFFICE_TASK and task is not None:
            return task_recipients(people, task.assignee)
        if topic == NoticeTopic.OFFICE_TASK_CLOSED and task is not None:
            return [int(chat) for chat, _ in about.shown]
        return []

    def _told(self, alert: Alert, shown: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Where a recovery is said: in reply to the alert in each chat that shows it, else to its recipients."""
        return _first_in_each_chat(shown) or [(str(c), "") for c in alert_recipients(self._topology.people, alert.kind)]

    async def _deliver(self, topic: NoticeTopic, about: _About) -> None:
        alert, task, shown = about.alert, about.task, about.shown
        if topic == NoticeTopic.ALERT and alert is not None:
            await self._post_alert(alert, task)
        elif topic == NoticeTopic.ALERT_RESOLVED and alert is not None:
            for chat, message in self._told(alert, shown):
                text = render.resolved_text(alert, self._locale, self._tz, self._names)
                reply = ReplyParameters(message_id=int(message), allow_sending_without_reply=True) if message else None
                await self._send(int(chat), text, None, reply)
        elif topic == NoticeTopic.OFFICE_TASK and task is not None:
            markup = render.keyboard(task, self._locale)
            for person in task_recipients(self._topology.people, task.assignee):
                message_id = await self._send(
                    person, render.task_text(task, self._locale, self._tz, self._names), markup
                )
                if message_id is not None:
                    await self._remember(task, person, message_id)
        elif topic == NoticeTopic.OFFICE_TASK_CLOSED and task is not None:
            if alert is not None:
                body = render.alert_text(alert, task, self._locale, self._tz, self._names)
            else:
                body = render.task_text(task, self._locale, self._tz, self._names)
            markup = render.keyboard(task, self._locale)  # a checklist still open keeps the buttons left
            for chat, message in shown:
                await self._edit(int(chat), int(message), body, markup, counted=False)

    async def _post_alert(self, alert: Alert, task: Task | None) -> None:
        text = render.alert_text(alert, task, self._locale, self._tz, self._names)
        markup = render.keyboard(task, self._locale) if task else None
        for chat in alert_recipients(self._topology.people, alert.kind):
            message_id = await self._send(chat, text, markup)
            if message_id is not None and task is not None:
                await self._remember(task, chat, message_id)
        await self._mark_shown(alert)

    async def _refresh_counts(self, limit: int, deadline: float) -> bool:
        """Repeats since the message went out are edited into it, at most once a minute; whether some
        were left for the next run for lack of time."""
        async with self._uow(read_only=True) as uow:
            stale = await uow.alerts.stale_counts(self._clock.now() - COUNT_REFRESH, limit)
            shown = {a.id: await uow.tasks.messages(a.task_id) if a.task_id else [] for a in stale}
            tasks = {a.id: await uow.tasks.get(a.task_id) if a.task_id else None for a in stale}
        for alert in stale:
            task = tasks[alert.id]
            text = render.alert_text(alert, task, self._locale, self._tz, self._names)
            markup = render.keyboard(task, self._locale) if task else None
            in_telegram = [
                (int(chat), int(message)) for platform, chat, message in shown[alert.id] if platform == "telegram"
            ]
            if not self._fits([chat for chat, _ in in_telegram], deadline):
                self._held_back([chat for chat, _ in in_telegram])
                return True
            for chat, message in in_telegram:
                await self._edit(chat, message, text, markup)
            await self._mark_shown(alert)
        return False

    async def _mark_shown(self, alert: Alert) -> None:
        async with self._uow() as uow:
            await self._alerts.mark_shown(uow, alert, alert.count, self._clock.now())
            await uow.commit()

    async def _remember(self, task: Task, chat: int, message_id: int) -> None:
        assert task.id is not None
        async with self._uow() as uow:
            await uow.tasks.add_message(task.id, "telegram", str(chat), str(message_id))
            await uow.commit()

    async def _send(
        self, chat: int, text: str, markup: InlineKeyboardMarkup | None, reply: ReplyParameters | None = None
    ) -> int | None:
        try:
            sent = await self.pacer.send(
                chat, lambda: self._bot.send_message(chat, text, reply_markup=markup, reply_parameters=reply)
            )
        except TelegramForbiddenError:  # they blocked the bot or never started it: others still get it
            log.warning("telegram chat %s does not accept messages from the bot", chat)
            return None
        return sent.message_id

    async def _edit(
        self, chat: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None, *, counted: bool = True
    ) -> None:
        """Edit a message in place; ``counted``: paced as a message is (a repeat count edited in, so that a storm
        of them keeps to a chat's second), otherwise at once (:meth:`Pacer.edit`)."""
        pace = self.pacer.send if counted else self.pacer.edit
        try:
            await pace(
                chat,
                lambda: self._bot.edit_message_text(
                    text=text, chat_id=chat, message_id=message_id, reply_markup=markup
                ),
            )
        except TelegramBadRequest as error:
            if "not modified" not in str(error) and "not found" not in str(error):
                raise
        except TelegramForbiddenError:
            log.warning("telegram chat %s does not accept messages from the bot", chat)


def _first_in_each_chat(shown: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One message per chat, its earliest (Telegram numbers a chat's messages in order): a chat that shows a task
    several times (delivered, then sent again by /tasks) is told of it once, in reply to where it first was."""
    first: dict[str, str] = {}
    for chat, message in shown:
        if chat not in first or int(message) < int(first[chat]):
            first[chat] = message
    return list(first.items())
