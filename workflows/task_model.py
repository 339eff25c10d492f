"""What a human task is: the question, its state and its deadlines. The ports (``workflows.ports``) and the task
engine (``workflows.tasks``, which re-exports these) both use them, so they live apart from both."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class TaskState(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class DeadlineKind(enum.StrEnum):
    EXPIRE = "expire"  # the task's time is up
    REMIND = "remind"  # half-time nudge; does not close anything


@dataclass
class Task:
    id: int | None
    kind: str  # store_confirmation | fx_approval | fraud_check | alert
    subject: str  # what it is about, e.g. "order:12:line:1"
    assignee: str  # who may answer, e.g. "store:tverskaya", "role:managers"
    options: tuple[str, ...]
    deadline: datetime
    created_at: datetime
    state: TaskState = TaskState.OPEN
    payload: dict[str, object] = field(default_factory=dict)  # what a message needs to show
    answer: str | None = None
    answered_by: str | None = None
    closed_at: datetime | None = None
    end_reason: str | None = None


@dataclass(frozen=True)
class Deadline:
    id: int
    task_id: int
    kind: DeadlineKind
    due_at: datetime
