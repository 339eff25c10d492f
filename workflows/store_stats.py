"""How stores answer: the answer rate and the median time to answer, per store, for the owner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from workflows.payloads import StoreQuestion
from workflows.ports import UnitOfWorkFactory
from workflows.store_confirmation import KIND
from workflows.tasks import Task, TaskState


@dataclass(frozen=True)
class StoreAnswers:
    store: str
    asked: int  # questions closed in the period (answered or timed out)
    answered: int
    median_seconds: float | None  # time from question to answer, over the answered ones

    @property
    def answer_rate(self) -> float:
        return self.answered / self.asked if self.asked else 0.0


def store_answers(tasks: Sequence[Task]) -> list[StoreAnswers]:
    by_store: dict[str, list[Task]] = {}
    for task in tasks:
        by_store.setdefault(StoreQuestion.from_payload(task.payload).store, []).append(task)
    out = []
    for store, closed in sorted(by_store.items()):
        waits = [
            (task.closed_at - task.created_at).total_seconds()
            for task in closed
            if task.state == TaskState.ANSWERED and task.closed_at is not None
        ]
        out.append(StoreAnswers(store, len(closed), len(waits), median(waits) if waits else None))
    return out


async def store_answer_stats(uow: UnitOfWorkFactory, since: datetime) -> list[StoreAnswers]:
    async with uow(read_only=True) as work:
        return store_answers(await work.tasks.closed_of_kind(KIND, since))
