"""Buttons on task and alert messages: ``task:<task_id>:<option>``. The first decision stands;
every press is answered (``answerCallbackQuery``) as soon as it is decided, and the message is
edited by the delivery afterwards, in the background (``after`` only starts it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.telegram.render import TaskButton, option_label
from bot.telegram.texts import tg
from bot.texts import Locale
from workflows.office import NotYours, OfficeDesk
from workflows.payloads import CustomsChecklist
from workflows.tasks import Task, UnknownTask
from workflows.vocabulary import Role


def tasks_router(office: OfficeDesk, locale: Locale, after: Callable[[], Awaitable[object]]) -> Router:
    router = Router(name="tasks")

    @router.callback_query(TaskButton.filter())
    async def decide(callback: CallbackQuery, callback_data: TaskButton, role: Role) -> None:
        who = callback.from_user.full_name or str(callback.from_user.id)
        try:
            decision = await office.answer(
                callback_data.task_id, callback_data.option, role, f"{who} ({callback.from_user.id})"
            )
        except UnknownTask:
            await callback.answer(tg(locale, "refused.unknown_task"), show_alert=True)
            return
        except NotYours:
            await callback.answer(tg(locale, "refused.not_yours"), show_alert=True)
            return
        if decision.accepted:
            await callback.answer(
                tg(locale, "accepted", option=option_label(decision.task, callback_data.option, locale))
            )
            await after()  # start editing the message now, not at the next scheduled run
            return
        closed = decision.task
        reason = decision.refusal or "unknown_task"
        if reason == "ticked":  # a checklist's document ticked before: say by whom
            option = option_label(closed, callback_data.option, locale)
            by = _ticked_by(closed, callback_data.option)
            await callback.answer(tg(locale, "refused.ticked", option=option, by=by), show_alert=True)
            return
        key = f"refused.{reason}" if reason in ("answered", "expired", "cancelled") else "refused.unknown_task"
        option = option_label(closed, closed.answer, locale) if closed.answer else ""
        await callback.answer(tg(locale, key, option=option, by=closed.answered_by or ""), show_alert=True)

    return router


def _ticked_by(task: Task, option: str) -> str:
    items = CustomsChecklist.from_payload(task.payload).items
    return next((item.ticked_by or "" for item in items if item.option == option), "")
