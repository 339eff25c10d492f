"""The office's rules for its chat: who a person is, which tasks they see and may answer, and who
is told of which task or alert.

The owner answers the owner's tasks (alerts, escalations); the managers' tasks any office member
answers. A manager sees the managers' tasks, the owner sees every office task. A task goes to
its assignee (the managers' to the owner when there are no managers); every alert goes to the
owner, and the kinds the managers can act on go to them too. The Telegram adapter turns updates
into these calls and their answers into messages, deciding nothing itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from workflows.alerts import TASK_ESCALATED
from workflows.errors import WorkflowError
from workflows.office_model import Alert
from workflows.ports import UnitOfWorkFactory
from workflows.return_model import RETURN_NOT_RECEIVED
from workflows.store_confirmation import EXHAUSTED
from workflows.tasks import Decision, Task, UnknownTask
from workflows.topology import People
from workflows.vocabulary import OFFICE_KINDS, Assignee, Role, TaskKind, assigned_store

# Alert kinds the managers are told of too (they can act on them); every alert goes to the owner.
FOR_MANAGERS = frozenset({EXHAUSTED, TASK_ESCALATED, RETURN_NOT_RECEIVED})

# A workflow's answer to one of its tasks: (task id, option, who) → the decision.
Answer = Callable[[int, str, str], Awaitable[Decision]]


class NotYours(WorkflowError):
    """A manager pressed a button of a task only the owner may answer."""

    code = "not_yours"


def role_of(people: People, telegram_id: int) -> Role | None:
    """What the person with this Telegram id is in the office; ``None``: a stranger."""
    if people.owner_telegram_id == telegram_id:
        return Role.OWNER
    if telegram_id in people.manager_telegram_ids:
        return Role.MANAGER
    return None


def may_answer(task: Task, role: Role) -> bool:
    """Only the owner answers the owner's tasks; the managers' tasks anyone of the office may."""
    return task.assignee != Assignee.OWNER or role == Role.OWNER


def visible_tasks(tasks: Iterable[Task], role: Role) -> list[Task]:
    """The office tasks among ``tasks`` that ``role`` is shown: the owner all, a manager the managers'."""
    return [
        task
        for task in tasks
        if task.kind in OFFICE_KINDS
        and assigned_store(task.assignee) is None  # a store's return receipt is answered in its Slack channel
        and (role == Role.OWNER or task.assignee == Assignee.MANAGERS)
    ]


def task_recipients(people: People, assignee: str) -> list[int]:
    """Telegram chats an office task is sent to: the managers' tasks to the managers (to the owner
    when there are none), anything else to the owner."""
    owner = [people.owner_telegram_id] if people.owner_telegram_id else []
    if assignee == Assignee.MANAGERS:
        return list(people.manager_telegram_ids) or owner
    return owner


def alert_recipients(people: People, alert_kind: str) -> list[int]:
    """Telegram chats an alert (and its recovery) is sent to: the owner, and for the kinds in
    :data:`FOR_MANAGERS` the managers as well, each chat once."""
    owner = [people.owner_telegram_id] if people.owner_telegram_id else []
    if alert_kind in FOR_MANAGERS:
        return list(dict.fromkeys([*people.manager_telegram_ids, *owner]))
    return owner


class OfficeDesk:
    """The office's tasks as its chat sees them: answering with the office's rules, listing what
    a person may see, and remembering the copies a person asked for."""

    def __init__(self, uow: UnitOfWorkFactory, answers: Mapping[TaskKind, Answer]) -> None:
        """``answers``: the workflow that answers each kind of office task."""
        self._uow = uow
        self._answers = {kind.value: answer for kind, answer in answers.items()}  # by the stored kind

    async def answer(self, task_id: int, option: str, role: Role, by: str) -> Decision:
        """Hand the answer to the task's workflow (the first decision stands). Raises
        :class:`UnknownTask` for no such task or one that is not the office's, and
        :class:`NotYours` when ``role`` may not answer it."""
        async with self._uow(read_only=True) as uow:
            task = await uow.tasks.get(task_id)
        answer = self._answers.get(task.kind) if task is not None else None
        if task is None or answer is None:
            raise UnknownTask(f"no office task {task_id}")
        if not may_answer(task, role):
            raise NotYours(f"task {task_id} is the owner's")
        return await answer(task_id, option, by)

    async def open_tasks(self, role: Role) -> list[tuple[Task, Alert | None]]:
        """The open office tasks ``role`` sees, oldest first, each with its alert if it is one."""
        async with self._uow(read_only=True) as uow:
            tasks = visible_tasks(await uow.tasks.open_about(""), role)
            return [
                (task, await uow.alerts.by_task(task.id) if task.kind == TaskKind.ALERT and task.id else None)
                for task in tasks
            ]

    async def shown(self, task_id: int, platform: str, chat: str, message_id: str) -> None:
        """A copy of the task's message was sent on request: its decision edits this copy too."""
        async with self._uow() as uow:
            await uow.tasks.add_message(task_id, platform, chat, message_id)
            await uow.commit()
