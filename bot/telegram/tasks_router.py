"""Buttons on task and alert messages: ``task:<task_id>:<option>``. The first decision stands;
every press is answered (``answerCallbackQuery``) and the message is edited by the delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.telegram.render import TaskButton
from bot.telegram.texts import tg
from bot.texts import Locale
from workflows.ports import UnitOfWorkFactory
from workflows.tasks import Decision
from workflows.vocabulary import Assignee, Role, TaskKind

Answer = Callable[[int, str, str], Awaitable[Decision]]


def tasks_router(
    uow: UnitOfWorkFactory, answers: Mapping[TaskKind, Answer], locale: Locale, after: Callable[[], Awaitable[object]]
) -> Router:
    router = Router(name="tasks")
    by_kind = {kind.value: answer for kind, answer in answers.items()}  # by the kind as stored

    @router.callback_query(TaskButton.filter())
    async def decide(callback: CallbackQuery, callback_data: TaskButton, role: Role) -> None:
        async with uow(read_only=True) as work:
            task = await work.tasks.get(callback_data.task_id)
        if task is None or task.kind not in by_kind:
            await callback.answer(tg(locale, "refused.unknown_task"), show_alert=True)
            return
        if task.assignee == Assignee.OWNER and role != Role.OWNER:
            await callback.answer(tg(locale, "refused.not_yours"), show_alert=True)
            return
        who = callback.from_user.full_name or str(callback.from_user.id)
        decision = await by_kind[task.kind](
            callback_data.task_id, callback_data.option, f"{who} ({callback.from_user.id})"
        )
        if decision.accepted:
            await callback.answer(tg(locale, "accepted", option=tg(locale, f"option.{callback_data.option}")))
            await after()  # edit the message now, not at the next scheduled run
            return
        closed = decision.task
        reason = decision.refusal or "unknown_task"
        key = f"refused.{reason}" if reason in ("answered", "expired", "cancelled") else "refused.unknown_task"
        option = tg(locale, f"option.{closed.answer}") if closed.answer else ""
        await callback.answer(tg(locale, key, option=option, by=closed.answered_by or ""), show_alert=True)

    return router
