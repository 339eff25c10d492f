"""The office's rules for its chat: who a person is, who may answer and who sees which task, who
is told of which task or alert; and the desk that applies them on every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from tests.fakes import FakeClock
from workflows.alerts import TASK_ESCALATED, AlertDesk
from workflows.office import (
    Answer,
    NotYours,
    OfficeDesk,
    alert_recipients,
    may_answer,
    role_of,
    task_recipients,
    visible_tasks,
)
from workflows.ports import UnitOfWorkFactory
from workflows.store_confirmation import EXHAUSTED
from workflows.tasks import Decision, Task, TaskBoard, UnknownTask
from workflows.topology import People
from workflows.vocabulary import OFFICE_KINDS, Assignee, Role, TaskKind, assigned_store, store_assignee

OWNER, MARIA, PAVEL, STRANGER = 1001, 1002, 1003, 9999
PEOPLE = People(owner_telegram_id=OWNER, manager_telegram_ids=(MARIA, PAVEL))


def task(kind: str, assignee: str, clock: FakeClock, task_id: int | None = None) -> Task:
    now = clock.now()
    return Task(task_id, kind, f"{kind}:{task_id}", assignee, ("yes", "no"), now + timedelta(hours=1), now)


def test_the_topology_says_who_is_the_owner_and_who_a_manager() -> None:
    assert [role_of(PEOPLE, person) for person in (OWNER, MARIA, PAVEL, STRANGER)] == [
        Role.OWNER, Role.MANAGER, Role.MANAGER, None,
    ]  # fmt: skip
    assert role_of(People(), OWNER) is None  # nobody configured: nobody gets in


def test_only_the_owner_answers_the_owners_tasks(clock: FakeClock) -> None:
    owners, managers = task(TaskKind.ALERT, Assignee.OWNER, clock), task(TaskKind.FRAUD_CHECK, Assignee.MANAGERS, clock)
    assert (may_answer(owners, Role.OWNER), may_answer(owners, Role.MANAGER)) == (True, False)
    assert (may_answer(managers, Role.OWNER), may_answer(managers, Role.MANAGER)) == (True, True)
    escalated = task(TaskKind.FX_APPROVAL, "role:owner", clock)  # as read back from storage
    assert not may_answer(escalated, Role.MANAGER)


def test_a_manager_sees_the_managers_tasks_and_the_owner_every_office_task(clock: FakeClock) -> None:
    fraud = task(TaskKind.FRAUD_CHECK, Assignee.MANAGERS, clock, 1)
    fx_for_owner = task(TaskKind.FX_APPROVAL, Assignee.OWNER, clock, 2)
    alert = task(TaskKind.ALERT, Assignee.OWNER, clock, 3)
    store_question = task(TaskKind.STORE_CONFIRMATION, store_assignee("tverskaya"), clock, 4)
    unknown = task("inventory_count", Assignee.MANAGERS, clock, 5)  # not an office kind
    everything = [fraud, fx_for_owner, alert, store_question, unknown]
    assert visible_tasks(everything, Role.MANAGER) == [fraud]
    assert visible_tasks(everything, Role.OWNER) == [fraud, fx_for_owner, alert]


def test_the_office_kinds_are_every_kind_but_the_stores_question() -> None:
    office = {
        TaskKind.FRAUD_CHECK,
        TaskKind.FX_APPROVAL,
        TaskKind.ALERT,
        TaskKind.UNFILLABLE_ORDER,
        TaskKind.PRICE_APPROVAL,
        TaskKind.PAYMENT_UNKNOWN,
        TaskKind.EARMARK_SHORTFALL,
        TaskKind.CUSTOMS_DOCUMENTS,
        TaskKind.CUSTOMS_PAYMENT,
        TaskKind.PURCHASE_NOT_STARTED,
        TaskKind.REFUND_SHORTFALL,
    }
    assert office | {TaskKind.RETURN_RECEIPT} == OFFICE_KINDS
    assert "alert" in OFFICE_KINDS and "store_confirmation" not in OFFICE_KINDS  # the stored strings match


def test_a_store_assignee_names_its_store() -> None:
    assert store_assignee("tverskaya") == "store:tverskaya"
    assert [assigned_store(a) for a in ("store:tverskaya", Assignee.OWNER, Assignee.MANAGERS)] == [
        "tverskaya", None, None,
    ]  # fmt: skip


def test_a_task_goes_to_its_assignee_and_the_managers_to_the_owner_when_there_are_none() -> None:
    assert task_recipients(PEOPLE, Assignee.MANAGERS) == [MARIA, PAVEL]
    assert task_recipients(PEOPLE, Assignee.OWNER) == [OWNER]
    assert task_recipients(People(owner_telegram_id=OWNER), Assignee.MANAGERS) == [OWNER]
    assert task_recipients(People(manager_telegram_ids=(MARIA,)), Assignee.OWNER) == []


def test_every_alert_goes_to_the_owner_and_those_managers_act_on_to_them_too() -> None:
    assert alert_recipients(PEOPLE, "sync_failing") == [OWNER]
    assert alert_recipients(PEOPLE, EXHAUSTED) == [MARIA, PAVEL, OWNER]
    assert alert_recipients(PEOPLE, TASK_ESCALATED) == [MARIA, PAVEL, OWNER]
    owner_also_manages = People(owner_telegram_id=OWNER, manager_telegram_ids=(OWNER, MARIA))
    assert alert_recipients(owner_also_manages, EXHAUSTED) == [OWNER, MARIA]  # each chat once
    assert alert_recipients(People(), EXHAUSTED) == []


@dataclass
class Answers:
    """Stands in for the workflows' answers: records what was handed on."""

    calls: list[tuple[str, int, str, str]] = field(default_factory=list)
    tasks: dict[int, Task] = field(default_factory=dict)

    def of(self, kind: TaskKind) -> Answer:
        async def answer(task_id: int, option: str, by: str) -> Decision:
            self.calls.append((kind, task_id, option, by))
            return Decision(True, self.tasks[task_id])

        return answer


async def open_tasks(uow: UnitOfWorkFactory, clock: FakeClock, *tasks: Task) -> list[Task]:
    board = TaskBoard(uow, clock)
    async with uow() as work:
        opened = [await board.open(work, t, remind=False) for t in tasks]
        await work.commit()
    return opened


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def office(uow: UnitOfWorkFactory, answers: Answers) -> OfficeDesk:
    kinds = (TaskKind.FRAUD_CHECK, TaskKind.FX_APPROVAL, TaskKind.ALERT)
    return OfficeDesk(uow, {kind: answers.of(kind) for kind in kinds})


async def test_an_answer_goes_to_the_tasks_workflow_when_the_person_may_give_it(
    uow: UnitOfWorkFactory, clock: FakeClock, office: OfficeDesk, answers: Answers
) -> None:
    fraud, alert = await open_tasks(
        uow, clock, task(TaskKind.FRAUD_CHECK, Assignee.MANAGERS, clock), task(TaskKind.ALERT, Assignee.OWNER, clock)
    )
    assert fraud.id is not None and alert.id is not None
    answers.tasks = {fraud.id: fraud, alert.id: alert}
    assert (await office.answer(fraud.id, "yes", Role.MANAGER, "Мария (1002)")).accepted
    with pytest.raises(NotYours):
        await office.answer(alert.id, "yes", Role.MANAGER, "Мария (1002)")
    assert (await office.answer(alert.id, "no", Role.OWNER, "Ольга (1001)")).accepted
    assert answers.calls == [
        (TaskKind.FRAUD_CHECK, fraud.id, "yes", "Мария (1002)"), (TaskKind.ALERT, alert.id, "no", "Ольга (1001)"),
    ]  # fmt: skip


async def test_a_task_that_is_not_the_offices_is_unknown_to_it(
    uow: UnitOfWorkFactory, clock: FakeClock, office: OfficeDesk, answers: Answers
) -> None:
    (question,) = await open_tasks(uow, clock, task(TaskKind.STORE_CONFIRMATION, store_assignee("tverskaya"), clock))
    assert question.id is not None
    with pytest.raises(UnknownTask):
        await office.answer(question.id, "yes", Role.OWNER, "Ольга (1001)")
    with pytest.raises(UnknownTask):
        await office.answer(question.id + 1000, "yes", Role.OWNER, "Ольга (1001)")
    assert answers.calls == []


async def test_tasks_lists_what_the_person_sees_with_the_alert_behind_an_alert_task(
    uow: UnitOfWorkFactory, clock: FakeClock, office: OfficeDesk
) -> None:
    alerts = AlertDesk(clock, TaskBoard(uow, clock))
    async with uow() as work:
        alert = await alerts.raise_alert(work, "sync_failing:ozon", "sync_failing", {"error": "503"})
        await work.commit()
    fraud, fx, _ = await open_tasks(
        uow, clock,
        task(TaskKind.FRAUD_CHECK, Assignee.MANAGERS, clock), task(TaskKind.FX_APPROVAL, Assignee.OWNER, clock),
        task(TaskKind.STORE_CONFIRMATION, store_assignee("tverskaya"), clock),
    )  # fmt: skip
    for_manager = await office.open_tasks(Role.MANAGER)
    assert [(t.id, a) for t, a in for_manager] == [(fraud.id, None)]
    for_owner = await office.open_tasks(Role.OWNER)
    assert [t.id for t, _ in for_owner] == [alert.task_id, fraud.id, fx.id]
    assert [a.id if a else None for _, a in for_owner] == [alert.id, None, None]


async def test_a_copy_shown_on_request_is_remembered_so_the_decision_edits_it(
    uow: UnitOfWorkFactory, clock: FakeClock, office: OfficeDesk
) -> None:
    (fraud,) = await open_tasks(uow, clock, task(TaskKind.FRAUD_CHECK, Assignee.MANAGERS, clock))
    assert fraud.id is not None
    await office.shown(fraud.id, "telegram", str(MARIA), "77")
    async with uow(read_only=True) as work:
        assert await work.tasks.messages(fraud.id) == [("telegram", str(MARIA), "77")]
